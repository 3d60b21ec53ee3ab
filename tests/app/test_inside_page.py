"""The Inside-the-3×3 page: charts carry the analysis of the linked run; links round-trip; bad links warn."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.inspection import analysis, final_maps
from dashboard.jobs.train_now import train_now
from dashboard.mnist.data import load_mnist
from dashboard.mnist.digits import from_mnist
from dashboard.network.spec import BOOK, PRESETS
from dashboard.store.cache import ModelCache
from dashboard.training.train_settings import TrainSettings
from tests.app.apptools import figures, open_page, plotly_array
from tests.app.markup import unescaped
from tests.marks import trains

PAGE = "pages/5_Inside_the_3x3.py"
QUICK = TrainSettings(epochs=1, batch_size=64, train_size=1000)


@pytest.fixture(scope="module")
@trains
def runs():
    """Two quick runs with the same settings in the test cache (MODEL_CACHE_DIR): book and tiny."""
    data, cache = load_mnist("auto"), ModelCache()
    book, _ = train_now(BOOK, QUICK, data, cache)
    tiny, _ = train_now(PRESETS["tiny"], QUICK, data, cache)
    return {"book": book, "tiny": tiny}


def run_page(query: dict[str, str]) -> AppTest:
    at = open_page(PAGE, query, timeout=180)
    assert not at.exception
    return at


def figure(at: AppTest, title: str) -> dict:
    """The first figure whose title (or a subplot title) contains `title`."""
    for fig in figures(at):
        texts = [fig["layout"].get("title", {}).get("text", "")]
        texts += [a.get("text", "") for a in fig["layout"].get("annotations", [])]
        if any(title in text for text in texts):
            return fig
    raise AssertionError(f"no chart titled {title!r}")


def test_linked_run_shows_every_chart_with_its_analysis(runs):
    book = runs["book"]
    at = run_page({"run": book.key, "cam": "7", "digit": "3"})
    assert [m.value for m in at.metric] == ["3×3×64", "576", f"{book.test_accuracy:.2%}", "93,322"]
    assert at.selectbox(key="inside_run").value == book.key
    assert at.selectbox(key="inside_cam").value == 7 and at.number_input(key="inside_index").value == 3
    assert not at.warning, [w.value for w in at.warning]

    # The numbers drawn are the analysis of this run's model on the sampled test images.
    data = load_mnist("auto")
    model = ModelCache().load_model(book.key)
    idx = final_maps.sample_indices(len(data.x_test), 2000)
    maps = analysis.final_map_features(model, data.x_test[idx])
    expected = analysis.ablate(model, maps, data.y_test[idx])
    zero_one = figure(at, "one position zeroed")["data"][0]
    keep_one = figure(at, "only one position kept")["data"][0]
    np.testing.assert_allclose(plotly_array(zero_one["z"]), expected.zero_one, atol=1e-9)
    np.testing.assert_allclose(plotly_array(keep_one["z"]), expected.keep_one, atol=1e-9)
    bars = figure(at, "one channel is zeroed")["data"][0]
    assert bars["x"][0] == f"ch {expected.channel_order[0]}" and len(bars["x"]) == 64

    projection = figure(at, "PCA of the last map")
    assert sum(len(plotly_array(trace["x"])) for trace in projection["data"]) == len(idx)
    assert sorted(trace["name"] for trace in projection["data"]) == [str(d) for d in range(10)]

    cam = analysis.grad_cam(model, BOOK, from_mnist(data.x_test[3]), 7)
    gradcam = figure(at, "Grad-CAM for digit 7")
    np.testing.assert_allclose(plotly_array(gradcam["data"][2]["z"]), cam.coarse, atol=1e-5)
    np.testing.assert_allclose(plotly_array(gradcam["data"][1]["z"]), cam.heatmap, atol=1e-5)
    # The words name the colours the chart uses and the position its numbers make hottest.
    words = " ".join(m.value for m in at.markdown)
    if cam.coarse.max() > 0:
        hottest = np.unravel_index(np.argmax(cam.coarse), cam.coarse.shape)
        assert f"hottest position is {tuple(int(v) for v in hottest)}" in words
    else:
        assert "no position adds evidence for 7: the heat is zero everywhere" in words
    assert "**Dark red** marks where the evidence *for* 7" in words and "Bright regions" not in words
    assert gradcam["data"][1]["colorscale"][-1][1] == "rgba(122, 4, 3, 0.8)"

    # With the keyboard: a channel chosen in a box links to what it looks for (as a click on its bar
    # does), and a toggle shows the sample's misclassified images (as a lasso around them does).
    at.selectbox(key="inside_channel_pick").set_value(5).run()
    assert any(link.proto.label == "What channel 5 looks for" for link in at.get("page_link"))
    at.toggle(key="inside_show_wrong").set_value(True).run()
    assert not at.exception
    assert figure(at, "Selected (label→predicted)")

    depth = figure(at, "Test accuracy")  # both runs share their settings: two points
    assert sorted(plotly_array(depth["data"][0]["x"]).tolist()) == [3, 5]
    buttons = at.get("download_button")
    labels = [b.proto.label for b in buttons]
    assert any(".keras" in label for label in labels) and "Summary (.csv)" in labels and "History (.csv)" in labels
    assert all(b.proto.HasField("deferred_file_id") for b in buttons)  # each file is made on click, not per view
    import csv
    import io

    from dashboard.ui.inside_cache import _summary_text  # what the Summary button's click runs

    rows = list(csv.DictReader(io.StringIO(_summary_text(book))))
    assert rows[-1]["layer"] == "total" and sum(int(row["params"]) for row in rows[:-1]) == int(rows[-1]["params"]) == 93_322
    assert next(row for row in rows if row["layer"] == "conv2d_2")["output_shape"] == "(None, 3, 3, 64)"


def test_a_copied_link_reopens_the_same_view(runs):
    at = run_page({"run": runs["tiny"].key})
    at.selectbox(key="inside_cam").set_value(2)
    at.number_input(key="inside_index").set_value(11)
    at.run()
    assert not at.exception
    link = {name: at.query_params[name] for name in at.query_params}
    assert link["run"] == runs["tiny"].key and link["cam"] == "2" and link["digit"] == "11"

    again = run_page(link)
    assert not again.warning
    assert again.selectbox(key="inside_run").value == runs["tiny"].key
    assert again.selectbox(key="inside_cam").value == 2
    assert again.number_input(key="inside_index").value == 11
    assert again.radio(key="inside_proj").value == "pca"
    assert figure(again, "Grad-CAM for digit 2")
    assert [m.value for m in again.metric][0] == "5×5×16"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"run": "../../etc/passwd"}, id="path-run"),
        pytest.param({"run": "0123456789abcdef"}, id="unknown-run"),
        pytest.param({"proj": "<script>alert(1)</script>"}, id="bad-projection"),
        pytest.param({"cam": "99"}, id="cam-out-of-range"),
        pytest.param({"cam": "seven"}, id="cam-not-a-number"),
        pytest.param({"digit": "-1"}, id="negative-digit"),
    ],
)
def test_hostile_links_fall_back_with_a_warning(runs, query):
    at = run_page(query)
    warnings = " ".join(unescaped(w.value) for w in at.warning)
    (name,) = query  # the warning names the parameter it ignored, not just any warning
    assert name in warnings or {"run": "run", "proj": "projection", "cam": "class", "digit": "digit"}[name] in warnings, warnings
    assert at.radio(key="inside_proj").value == "pca"
    assert at.selectbox(key="inside_cam").value == -1
    assert at.selectbox(key="inside_run").value in {r.key for r in ModelCache().runs()}


def test_comparison_can_include_runs_trained_otherwise(runs):
    other = TrainSettings(epochs=1, batch_size=128, train_size=500)
    alone, _ = train_now(PRESETS["book2"], other, load_mnist("auto"), ModelCache())
    single = run_page({"run": alone.key})  # the only run trained this way: the shipped family instead
    assert not any("Only one run to show" in info.value for info in single.info)
    shown = len(plotly_array(figure(single, "Test accuracy")["data"][0]["x"]))
    assert shown >= 2 and any(f"the chart shows the {shown} cached runs trained alike" in c.value for c in single.caption)
    assert not any("this one in red" in m.value for m in single.markdown)
    at = run_page({"run": runs["book"].key})
    before = len(plotly_array(figure(at, "Test accuracy")["data"][0]["x"]))
    at.toggle(key="inside_same").set_value(False)
    at.run()
    assert not at.exception
    assert len(plotly_array(figure(at, "Test accuracy")["data"][0]["x"])) >= before + 1


@pytest.mark.slow
def test_a_run_left_by_every_session_is_released_and_comes_back_on_the_next_view():
    """Issue 10: memory returns when sessions close. The page's per-run caches (model, final maps,
    projection, ablations) are watched; once their sessions have gone they are cleared, and the
    next view loads them again without a trace of it on the page."""
    import time

    from dashboard.ui import session_memory
    from dashboard.ui.inside_cache import features
    from dashboard.ui.run_picker import run_model

    at = run_page({})
    watched = {name for name, *_ in session_memory._uses}
    assert {run_model.__wrapped__.__qualname__, features.__wrapped__.__qualname__} <= watched
    key = next(args for name, args, _ in session_memory._uses if name == run_model.__wrapped__.__qualname__)
    loaded = run_model(*key)
    later = time.monotonic() + session_memory.ORPHAN_SECONDS + 1
    assert session_memory.release_idle(now=later, alive=lambda session: False) >= 2
    assert session_memory.tracked() == 0
    assert run_model(*key) is not loaded  # really gone from Streamlit's cache: loaded anew
    at.run()
    assert not at.exception
    assert figure(at, "3×3") and session_memory.tracked() >= 2
