"""The Compare page: the table of cached runs, curves and scatters, and one run's mistakes."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from dashboard.inspection.evaluation import predict_labels
from dashboard.jobs.train_now import train_now
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import ConvBlock, NetworkSpec
from dashboard.store.cache import ModelCache
from dashboard.training.train_settings import TrainSettings
from tests.app.apptools import open_page
from tests.app.markup import unescaped
from tests.marks import trains

PAGE = "pages/3_Compare.py"
SPECS = {
    "pooled": NetworkSpec(blocks=(ConvBlock(4), ConvBlock(6)), dense_units=0),  # last map 5×5
    "unpooled": NetworkSpec(blocks=(ConvBlock(4), ConvBlock(6, pool=False)), dense_units=0),  # 11×11
}
QUICK = TrainSettings(epochs=1, batch_size=32, train_size=500, learning_rate=0.004, seed=3)  # both train (32%, 43%)


@pytest.fixture(scope="module")
@trains
def two_runs():
    """Two 1-epoch tiny runs in the test cache (MODEL_CACHE_DIR), trained once for the module."""
    data, cache = load_mnist("embedded"), ModelCache()
    return {name: train_now(spec, QUICK, data, cache)[0] for name, spec in SPECS.items()}


def figures_of(at) -> list[dict]:
    """Every plotly figure on the page, as plotly's JSON."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed-array dict {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = tuple(int(n) for n in str(value.get("shape", len(flat))).split(","))
        return flat.reshape(shape)
    return np.asarray(value)


def test_lists_every_cached_run_with_its_numbers(two_runs):
    at = open_page(PAGE)
    assert not at.exception
    networks, runs = at.dataframe[0].value, at.dataframe[1].value  # seeds together; each seed apart
    for record in two_runs.values():
        assert record.trained, record.diagnosis
        row = networks[networks["key"] == record.key].iloc[0]  # a one-seed network: its run names it
        assert (row["params"], row["seeds"], row["did not train"]) == (record.params, 1, 0)
        assert row["test accuracy"] == pytest.approx(round(record.test_accuracy * 100, 2))  # percent
        assert row["last conv map"] == f"{record.final_map[0]}×{record.final_map[0]}×6"
        run = runs[runs["key"] == record.key].iloc[0]
        assert run["test accuracy"] == pytest.approx(round(record.test_accuracy * 100, 2))
        assert run["val accuracy"] == pytest.approx(round(record.history["val_accuracy"][-1] * 100, 2))
        assert run["seed"] == 3 and bool(run["trained"])
    assert set(runs["key"]) == {r.key for r in ModelCache().runs()}


def test_selected_runs_share_one_curve_chart_and_the_scatters(two_runs):
    at = open_page(PAGE)
    keys = [two_runs["pooled"].key, two_runs["unpooled"].key]
    at.multiselect(key="compare_runs").set_value(keys).run()
    assert not at.exception
    figures = figures_of(at)
    assert len(figures) == 5  # curves, two scatters, confusion matrix, mistakes
    curves = next(f for f in figures if "by epoch" in f["layout"]["title"]["text"])
    assert len(curves["data"]) == 2
    side = next(f for f in figures if "spatial size" in f["layout"]["title"]["text"])
    assert sorted(array(side["data"][0]["x"]).tolist()) == [5, 11]


def test_one_run_up_close_from_the_link(two_runs):
    record = two_runs["unpooled"]
    at = open_page(PAGE, {"run": record.key})
    assert not at.exception
    assert at.selectbox(key="compare_run").value == record.key
    assert at.query_params["run"] == record.key
    figures = figures_of(at)
    confusion = next(f for f in figures if f["layout"]["title"]["text"].startswith("Confusion"))
    counts = array(confusion["data"][0]["text"])
    data = load_mnist("embedded")
    predicted, _ = predict_labels(ModelCache().load_model(record.key), data.x_test)
    assert counts.sum() == len(data.y_test)
    assert np.trace(counts) == int(np.sum(predicted == data.y_test))
    mistakes = next(f for f in figures if "misclassified" in f["layout"]["title"]["text"])
    assert len(mistakes["data"]) == 1  # all mistakes tiled into one heatmap
    assert len(mistakes["layout"]["annotations"]) == min(40, int(np.sum(predicted != data.y_test)))


def test_a_cell_of_the_confusion_matrix_shows_its_digits(two_runs):
    from dashboard.ui.pick import picked_values

    record = two_runs["unpooled"]
    at = open_page(PAGE, {"run": record.key})
    data = load_mnist("embedded")
    predicted, _ = predict_labels(ModelCache().load_model(record.key), data.x_test)
    wrong = predicted != data.y_test
    true_digit, predicted_digit = (int(v) for v in np.argwhere(np.bincount(
        data.y_test[wrong] * 10 + predicted[wrong], minlength=100).reshape(10, 10) > 0)[0])
    # A click on a cell: the chart's invisible square there carries [true, predicted] for the boxes.
    confusion = next(f for f in figures_of(at) if f["layout"]["title"]["text"].startswith("Confusion"))
    squares = confusion["data"][1]
    cell = next(i for i, (x, y) in enumerate(zip(squares["x"], squares["y"]))
                if (int(y), int(x)) == (true_digit, predicted_digit))
    picked = picked_values({"selection": {"points": [{"customdata": array(squares["customdata"])[cell].tolist()}]}})
    assert picked[:2] == [true_digit, predicted_digit]
    # The keyboard's way: the two boxes.
    at.selectbox(key="compare_cell_true").set_value(true_digit)
    at.selectbox(key="compare_cell_predicted").set_value(predicted_digit).run()
    assert not at.exception
    grid = next(f for f in figures_of(at) if "test image" in f["layout"]["title"]["text"]
                and "Confusion" not in f["layout"]["title"]["text"])
    in_cell = int(np.sum((data.y_test == true_digit) & (predicted == predicted_digit)))
    assert grid["layout"]["title"]["text"].startswith(f"{min(in_cell, 40)} misclassified test image"
                                                      ) and f"true {true_digit} predicted {predicted_digit}" in grid["layout"]["title"]["text"]
    assert [a["text"] for a in grid["layout"]["annotations"]] == [f"✗<b>{predicted_digit}</b> ({true_digit})"] * min(in_cell, 40)
    assert all(a["font"]["size"] >= 14 for a in grid["layout"]["annotations"])  # readable, and marked, not red only
    # The diagonal cell: that digit's right predictions, marked with a tick.
    at.selectbox(key="compare_cell_predicted").set_value(true_digit).run()
    grid = next(f for f in figures_of(at) if "read right" in f["layout"]["title"]["text"])
    assert {a["text"] for a in grid["layout"]["annotations"]} == {f"✓<b>{true_digit}</b>"}
    caption = next(c.value for c in at.caption if c.value.startswith("Confusion matrix"))
    assert f"{int(np.sum(~wrong)):,} of {len(data.y_test):,} test images are on the diagonal" in unescaped(caption)


def test_an_unknown_run_in_the_link_warns_and_falls_back(two_runs):
    at = open_page(PAGE, {"run": "ffffffffffffffff"})
    assert not at.exception
    assert any("not in this server's cache" in unescaped(w.value) for w in at.warning)
    assert at.selectbox(key="compare_run").value in {r.key for r in ModelCache().runs()}


def test_a_damaged_run_is_reported_and_left_out(two_runs, tmp_path, monkeypatch):
    # A throw-away copy of the cache with one entry truncated, so other tests keep theirs.
    import shutil

    from dashboard.ui import run_picker as ui_runs

    root = tmp_path / "cache"
    shutil.copytree(ModelCache().root, root)
    bad = root / two_runs["pooled"].key / "model.keras"
    bad.write_bytes(bad.read_bytes()[:1000])
    monkeypatch.setenv("MODEL_CACHE_DIR", str(root))
    ui_runs.model_cache.clear()
    try:
        at = open_page(PAGE)
        assert not at.exception
        assert any("damaged" in w.value for w in at.warning)
        assert two_runs["pooled"].key not in set(at.dataframe[0].value["key"])
    finally:
        ui_runs.model_cache.clear()


def test_runs_are_marked_by_their_data_and_the_newest_run_is_chosen(two_runs):
    from dashboard.views.labels import data_name

    runs = ModelCache().runs()
    at = open_page(PAGE)
    assert not at.exception
    table = at.dataframe[1].value  # every run, each seed apart
    for record in runs:
        assert table[table["key"] == record.key].iloc[0]["data"] == data_name(record)
    assert set(table["data"]) >= {"full MNIST", "embedded subset (12,000 images)"}
    # The learner's newest run (the newest one trained here) is up close and among the compared.
    newest = next(r for r in runs if not r.shipped)
    assert at.selectbox(key="compare_run").value == newest.key
    assert newest.key in at.multiselect(key="compare_runs").value
    # Full MNIST and embedded-subset runs side by side: one series (colour, symbol, legend) per data set.
    shipped = next(r for r in runs if r.shipped and r.settings.epochs == 5)  # the book preset: one seed shipped
    at.multiselect(key="compare_runs").set_value([shipped.key, two_runs["pooled"].key]).run()
    scatter = next(f for f in figures_of(at) if f["layout"]["title"]["text"] == "Test accuracy vs parameters")
    assert [t["name"] for t in scatter["data"]] == ["full MNIST", "embedded subset (12,000 images)"]
    assert [list(array(t["y"])) for t in scatter["data"]] == [[pytest.approx(shipped.test_accuracy)],
                                                              [pytest.approx(two_runs["pooled"].test_accuracy)]]
    assert any("without being a worse network" in c.value for c in at.caption)


def test_the_mistakes_caption_matches_the_labels(two_runs):
    record = two_runs["pooled"]
    at = open_page(PAGE, {"run": record.key})
    data = load_mnist("embedded")
    predicted, _ = predict_labels(ModelCache().load_model(record.key), data.x_test)
    wrong = int(np.sum(predicted != data.y_test))
    caption = next(c.value for c in at.caption if "misclassified" in c.value)
    assert caption.startswith(f"{wrong:,} of {len(data.y_test):,} test images are misclassified")
    assert "Large digit" not in caption and "Under each image: ✗ and the predicted digit in bold" in caption
    accuracy = next(unescaped(c.value) for c in at.caption if c.value.startswith("On its"))
    assert f"accuracy {float(np.mean(predicted == data.y_test)):.2%}" in accuracy
    assert f"recorded {record.test_accuracy:.2%}" in accuracy and "embedded subset (12,000 images)" in accuracy


def test_the_cell_and_the_image_count_travel_in_the_link_and_bad_values_fall_back(two_runs):
    # (the browser writes a bound widget's value into its address bar; AppTest has none, so a link is opened)
    record = two_runs["unpooled"]
    shared = open_page(PAGE, {"run": record.key, "compare_cell_true": "3", "compare_mistakes": "70"})
    assert shared.selectbox(key="compare_cell_true").value == 3 and shared.slider(key="compare_mistakes").value == 70
    bad = open_page(PAGE, {"run": record.key, "compare_cell_true": "[x](https://example.org)", "compare_mistakes": "7e9"})
    assert not bad.exception
    assert bad.selectbox(key="compare_cell_true").value is None and bad.slider(key="compare_mistakes").value == 40
