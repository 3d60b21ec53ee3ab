"""The Feature maps page: a digit in, its prediction, every layer's maps and the receptive field out."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard.jobs.train_now import train_now
from dashboard.mnist import digits
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import PRESETS, geometry
from dashboard.store.cache import ModelCache
from dashboard.training.train_settings import TrainSettings
from tests.app.apptools import figures, open_page, plotly_array
from tests.marks import trains

PAGE = "pages/4_Feature_maps.py"
TINY = PRESETS["tiny"]  # conv8-pool · conv16-pool: the last conv map is 11×11×16


@pytest.fixture(scope="module")
@trains
def tiny_runs() -> list[str]:
    """Keys of two quick runs of the tiny network (1 epoch on 600 embedded images), in the test cache."""
    data = load_mnist("embedded")
    cache = ModelCache()  # MODEL_CACHE_DIR: a temp dir (tests/conftest.py)
    keys = []
    for seed in (0, 1):
        record, _ = train_now(TINY, TrainSettings(epochs=1, train_size=600, seed=seed), data, cache)
        keys.append(record.key)
    return keys


@pytest.fixture(scope="module")
def tiny_model(tiny_runs):
    """The first tiny run's Keras model, loaded independently of the page."""
    return ModelCache().load_model(tiny_runs[0])


def run_page(query: dict[str, str]) -> AppTest:
    at = open_page(PAGE, query, timeout=90)
    assert not at.exception
    return at


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception
    return at


def titles(at: AppTest) -> list[str]:
    return [fig["layout"].get("title", {}).get("text", "") for fig in figures(at)]


def chart(at: AppTest, prefix: str) -> dict:
    (fig,) = [fig for fig, title in zip(figures(at), titles(at)) if title.startswith(prefix)]
    return fig


def predictions(at: AppTest) -> list[str]:
    return [metric.value for metric in at.metric if metric.label == "Predicted digit"]


def keras_predict(model, image: np.ndarray) -> int:
    return int(np.argmax(model(image[None, :, :, None], training=False)[0]))


def test_picking_a_test_image_shows_its_prediction_and_every_layer(tiny_runs, tiny_model):
    at = run_page({"run": tiny_runs[0]})
    at.number_input(key="fm_index").set_value(3)
    rerun(at)
    data = load_mnist("embedded")
    expected = keras_predict(tiny_model, data.x_test[3] / 255.0)
    assert predictions(at) == [str(expected)]
    # The verdict is in words (no emoji), and agrees with the label.
    delta = next(m.proto.delta for m in at.metric if m.label == "Predicted digit")
    label = int(data.y_test[3])
    assert delta.endswith(" · right") if expected == label else delta.endswith(f" · wrong: it is a {label}")
    assert at.query_params["digit"] == "3" and at.query_params["input"] == "test"
    shown = titles(at)
    assert f"What the network sees:<br>test image #3 (label {data.y_test[3]})" in shown
    layers = [t for t in shown if "(None," in t]
    assert layers == [
        "conv2d (Conv2D) · (None, 26, 26, 8)",
        "max_pooling2d (MaxPooling2D) · (None, 13, 13, 8)",
        "conv2d_1 (Conv2D) · (None, 11, 11, 16)",
        "max_pooling2d_1 (MaxPooling2D) · (None, 5, 5, 16)",
    ]
    # One heatmap per layer: all channels tiled into a single image.
    first = chart(at, "conv2d (Conv2D)")
    assert [trace["type"] for trace in first["data"]] == ["heatmap"]
    z = plotly_array(first["data"][0]["z"])
    assert z.shape == (26, 8 * 26 + 7)  # 8 channels side by side when one run has the page
    channel_of = plotly_array(first["data"][0]["customdata"])
    assert channel_of.shape == z.shape and channel_of[0, 27] == 1  # hover names the channel
    assert "conv2d: 8 kernels of 3×3" in shown


def test_changing_the_position_moves_the_window_and_the_strongest_channels(tiny_runs, tiny_model):
    import keras

    at = run_page({"run": tiny_runs[0], "digit": "0"})
    at.slider(key="fm0_row").set_value(0)
    at.slider(key="fm0_col").set_value(10)
    rerun(at)
    last = [g for g in geometry(TINY) if g.kind == "Conv2D"][-1]
    top, left, bottom, right = last.window(0, 10)
    fig = chart(at, "(0, 10) sees")
    (rect,) = fig["layout"]["shapes"]
    assert (rect["x0"], rect["x1"], rect["y0"], rect["y1"]) == (left - 0.5, right + 0.5, top - 0.5, bottom + 0.5)
    assert right == 27 and bottom - top + 1 == last.receptive_field
    assert at.query_params["row"] == "0" and at.query_params["col"] == "10"
    # The bars are the channels most active at (0, 10), as Keras computes them independently.
    probe = keras.Model(tiny_model.inputs[0], tiny_model.get_layer("conv2d_1").output)
    image = load_mnist("embedded").x_test[0] / 255.0
    values = np.asarray(probe(image[None, :, :, None], training=False))[0, 0, 10]
    bars = chart(at, "Strongest channels at (0, 10)")["data"][0]
    assert list(bars["x"]) == [f"ch {c}" for c in np.argsort(-values, kind="stable")[:8]]
    np.testing.assert_allclose(plotly_array(bars["y"]), np.sort(values)[::-1][:8], rtol=1e-4, atol=1e-5)
    # The last conv layer's panel rings that position in each of its 16 tiles.
    marks = chart(at, "conv2d_1 (Conv2D)")["data"][1]
    xs, ys = plotly_array(marks["x"]), plotly_array(marks["y"])
    assert len(xs) == 16 and (ys[0], xs[0]) == (0, 10) and (ys[1], xs[1]) == (0, 11 + 1 + 10)


def test_a_link_reopens_the_same_digit_and_position(tiny_runs):
    at = run_page({"run": tiny_runs[0], "digit": "5", "row": "2", "col": "3"})
    assert at.number_input(key="fm_index").value == 5
    assert any(t.startswith("(2, 3) sees") for t in titles(at))


def test_a_hostile_link_falls_back_with_warnings(tiny_runs):
    at = run_page({"run": tiny_runs[0], "digit": "1e9", "row": "-4", "input": "<script>"})
    assert at.number_input(key="fm_index").value == 0
    assert any(t.startswith("(5, 5) sees") for t in titles(at))  # the centre of 11×11
    warnings = " ".join(w.value for w in at.warning)
    assert "digit" in warnings and "row" in warnings and "input" in warnings
    assert predictions(at)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


BLANK_PNG = png(np.full((64, 64, 3), 250, np.uint8))
TEXT = b"this is not a picture at all"
HALF_PNG = png(np.kron(255 - load_mnist("embedded").x_test[1], np.ones((8, 8), np.uint8)))[:300]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("notes.txt", TEXT, "not a picture"),
        ("digit.png", TEXT, "not a picture"),
        ("blank.png", BLANK_PNG, "blank"),
        ("half.png", HALF_PNG, "decoded|not a picture"),
        ("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(digits.MAX_UPLOAD_BYTES), "MB"),
    ],
    ids=["text_file", "text_named_png", "blank", "truncated", "over_5_MB"],
)
def test_a_bad_upload_gives_a_message_not_an_exception(tiny_runs, name, content, message):
    import re

    at = run_page({"run": tiny_runs[0], "input": "upload"})
    assert any("Upload a picture" in info.value for info in at.info)
    at.file_uploader(key="fm_upload").set_value((name, content, "image/png"))
    rerun(at)
    errors = [e.value for e in at.error]
    assert errors and re.search(message, errors[0])
    assert not predictions(at)  # nothing is drawn from a bad picture


def test_a_photo_of_a_digit_is_read_like_a_drawing(tiny_runs, tiny_model):
    data = load_mnist("embedded")
    dark_on_light = np.kron(255 - data.x_test[1], np.ones((8, 8), np.uint8))  # like ink on paper
    content = png(dark_on_light)
    at = run_page({"run": tiny_runs[0], "input": "upload"})
    at.file_uploader(key="fm_upload").set_value(("mine.png", content, "image/png"))
    rerun(at)
    assert not at.error
    expected = keras_predict(tiny_model, digits.from_upload(content))
    assert predictions(at) == [str(expected)]
    assert "What the network sees:<br>upload 'mine.png'" in titles(at)


def test_an_empty_canvas_asks_for_a_drawing(tiny_runs):
    at = run_page({"run": tiny_runs[0]})
    at.radio(key="fm_mode").set_value("draw")
    rerun(at)
    assert any("canvas is empty" in info.value for info in at.info)
    assert not predictions(at)
    assert at.query_params["input"] == "draw" and "digit" not in at.query_params
    assert at.slider(key="fm_stroke").value == 22


def test_two_runs_side_by_side(tiny_runs):
    at = run_page({"run": tiny_runs[0], "digit": "2"})
    at.toggle(key="fm_compare").set_value(True)
    rerun(at)
    assert len(predictions(at)) == 2
    cached = [r.key for r in ModelCache().runs()]  # shipped runs and the tiny test runs
    assert at.query_params["run2"] in cached and at.query_params["run2"] != tiny_runs[0]
    assert sum(t.startswith("conv2d (Conv2D)") for t in titles(at)) == 2
    at.toggle(key="fm_compare").set_value(False)
    rerun(at)
    assert len(predictions(at)) == 1 and "run2" not in at.query_params


def test_the_random_button_picks_an_image_in_range(tiny_runs):
    at = run_page({"run": tiny_runs[0]})
    before = at.number_input(key="fm_index").value
    seen = set()
    for _ in range(3):  # a new random image each click (the same one three times: 1 in 4 million)
        at.button(key="fm_random").click()
        rerun(at)
        index = at.number_input(key="fm_index").value
        assert 0 <= index < len(load_mnist("embedded").x_test)
        assert at.query_params["digit"] == str(index)
        seen.add(index)
    assert seen - {before}, "the button changed the image"


@pytest.mark.slow  # loads the shipped book run, ~1 s
def test_the_default_run_is_the_shipped_book_network():
    from dashboard.ui.run_picker import shipped_book_key

    key = shipped_book_key(ModelCache().runs())
    if key is None:
        pytest.skip("no shipped book run in model_cache/shipped/ yet")
    at = run_page({})
    assert at.query_params["run"] == key
    shown = titles(at)
    assert "conv2d_2 (Conv2D) · (None, 3, 3, 64)" in shown
    assert "(1, 1) sees 18×18:<br>rows 4–21, cols 4–21" in shown  # the centre position's window
    assert predictions(at) == ["7"]  # test image #0 is a 7


def test_without_any_trained_run_the_page_says_so(monkeypatch):
    monkeypatch.setattr("dashboard.ui.run_picker.cached_runs", lambda: [])
    at = run_page({})
    assert any("No trained runs yet" in info.value for info in at.info)
    assert not predictions(at)
    assert at.radio(key="fm_mode").value == "test"  # the digit input still works


def test_a_damaged_run_gives_an_error_not_an_exception(tiny_runs):
    import shutil
    import zipfile

    cache = ModelCache()
    source = cache.entry_dir(tiny_runs[0])
    key = "feature0maps0bad"
    target = cache.root / key
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    record = json.loads((target / "record.json").read_text())
    record["key"] = key
    (target / "record.json").write_text(json.dumps(record))
    with zipfile.ZipFile(target / "model.keras") as archive:
        config = archive.read("config.json")
    with zipfile.ZipFile(target / "model.keras", "w") as archive:  # listed as sound, loads as nothing
        archive.writestr("config.json", config)
        archive.writestr("model.weights.h5", b"not hdf5")
    try:
        at = run_page({"run": key})
        assert any("cannot be used" in error.value for error in at.error)
        assert not predictions(at)
    finally:
        shutil.rmtree(target, ignore_errors=True)
        # The server-wide cache object still holds the damage report for the next page to show.
        import streamlit as st

        st.cache_resource.clear()
