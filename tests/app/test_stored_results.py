"""Results kept beside a run: the first view of Compare, Inside and Channels stores them, and a
server that has never computed them (caches cleared) shows the same charts without computing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import streamlit as st

from dashboard.inspection import results
from dashboard.inspection.evaluation import predict_labels
from dashboard.jobs.train_now import train_now
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import ConvBlock, NetworkSpec
from dashboard.store.cache import ModelCache
from dashboard.store.stored import RESULTS_DIR, result_name
from dashboard.training.train_settings import TrainSettings
from tests.app.apptools import ROOT, figures, open_page, png_picture
from tests.marks import trains

SPEC = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(6)), dense_units=0)  # last map 5×5×6
QUICK = TrainSettings(epochs=1, batch_size=32, train_size=500, seed=5)
PAGES = {"compare": "pages/3_Compare.py", "inside": "pages/5_Inside_the_3x3.py", "channels": "pages/6_Channels.py"}


@pytest.fixture(scope="module")
@trains
def run():
    """One tiny run in the test cache (MODEL_CACHE_DIR)."""
    return train_now(SPEC, QUICK, load_mnist("auto"), ModelCache())[0]


def charts_of(page: str, key: str) -> list[dict]:
    at = open_page(PAGES[page], {"run": key}, timeout=240)
    assert not at.exception, at.exception
    return figures(at)


def fresh_server() -> None:
    """Forget every in-memory cache, as a new server process would."""
    st.cache_data.clear()
    st.cache_resource.clear()


def refuse(*names: str):
    def fail(*_args, **_kwargs):
        raise AssertionError(f"computed although stored: {names}")
    return fail


def test_compare_stores_its_predictions_and_a_new_server_reads_them(run, monkeypatch):
    data = load_mnist("auto")
    before = charts_of("compare", run.key)
    stored = ModelCache().read_result(run.key, result_name("predictions", data.fingerprint))
    predicted, confidence = results.predictions_from(stored, data.y_test)
    live, probs = predict_labels(ModelCache().load_model(run.key), data.x_test)
    np.testing.assert_array_equal(predicted, live)
    np.testing.assert_allclose(confidence, probs.max(axis=1), rtol=1e-6)

    fresh_server()
    monkeypatch.setattr("dashboard.inspection.evaluation.predict_labels", refuse("predictions"))
    assert json.dumps(charts_of("compare", run.key)) == json.dumps(before)


def test_inside_stores_its_projection_and_ablation_and_a_new_server_reads_them(run, monkeypatch):
    fp = load_mnist("auto").fingerprint
    before = charts_of("inside", run.key)
    folder = ModelCache().entry_dir(run.key) / RESULTS_DIR
    assert {result_name("projection_pca", fp), result_name("ablation", fp)} <= {p.name for p in folder.iterdir()}

    fresh_server()
    monkeypatch.setattr("dashboard.inspection.final_maps.sample_features", refuse("final maps"))
    monkeypatch.setattr("dashboard.inspection.ablation.ablate", refuse("ablation"))
    after = charts_of("inside", run.key)
    titles = [f["layout"].get("title", {}).get("text", "") for f in after]
    assert len(after) == len(before) and any("PCA" in t for t in titles)
    assert json.dumps(after[:4]) == json.dumps(before[:4])  # projection, positions, channels


def test_channels_stores_the_atlas_and_a_new_server_reads_it(run, monkeypatch):
    fp = load_mnist("auto").fingerprint
    before = charts_of("channels", run.key)
    assert ModelCache().read_result(run.key, result_name("atlas", fp, "conv2d_1")) is not None

    fresh_server()
    monkeypatch.setattr("dashboard.inspection.channel_atlas.atlas_of", refuse("atlas"))
    after = charts_of("channels", run.key)
    crops, patterns = (png_picture(after[0]["data"][i]["source"]) for i in (0, 1))
    np.testing.assert_array_equal(crops, png_picture(before[0]["data"][0]["source"]))  # cut again from the images
    np.testing.assert_allclose(patterns, png_picture(before[0]["data"][1]["source"]), atol=1 / 255)  # float16 on disk


def test_a_server_with_the_results_stored_shows_the_run_without_tensorflow(run):
    """Feature maps, Inside and Channels read a run trained here with numpy, the rest is stored:
    a new server process shows all four run pages of it and never imports TensorFlow (~500 MB)."""
    for page in PAGES:
        charts_of(page, run.key)  # stores whatever is not stored yet
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from streamlit.testing.v1 import AppTest\n"
        "for page in %r:\n"
        "    at = AppTest.from_file(%r, default_timeout=120)\n"
        "    at.switch_page(page); at.query_params['run'] = %r; at.run()\n"
        "    assert not at.exception, (page, at.exception)\n"
        "    assert len(at.get('plotly_chart')) >= 3, page\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    ) % (str(ROOT), [*PAGES.values(), "pages/4_Feature_maps.py"], str(ROOT / "streamlit_app.py"), run.key)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-2:] == ["False", "False"]


def test_a_damaged_result_is_computed_again_and_rewritten(run):
    data = load_mnist("auto")
    name = result_name("predictions", data.fingerprint)
    charts_of("compare", run.key)
    path = ModelCache().entry_dir(run.key) / RESULTS_DIR / name
    path.write_bytes(b"PK\x03\x04 damaged")
    fresh_server()
    charts_of("compare", run.key)
    assert results.predictions_from(path.read_bytes(), data.y_test) is not None


@pytest.mark.slow
def test_a_shipped_runs_results_on_other_data_are_kept_under_the_root(monkeypatch):
    """The tests' data is the embedded subset, not the full MNIST the shipped results are for."""
    data, cache = load_mnist("auto"), ModelCache()
    key = next(r.key for r in cache.runs() if r.shipped)
    name = result_name("predictions", data.fingerprint)
    before = charts_of("compare", key)
    assert (cache.root / ".results" / key / RESULTS_DIR / name).is_file()
    assert not (cache.entry_dir(key) / RESULTS_DIR / name).exists()  # never written into the shipped run

    fresh_server()
    monkeypatch.setattr("dashboard.inspection.evaluation.predict_labels", refuse("predictions"))
    assert json.dumps(charts_of("compare", key)) == json.dumps(before)
