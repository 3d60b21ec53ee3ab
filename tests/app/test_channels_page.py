"""The 'What channels look for' page: the atlas of the linked run and layer, one channel on the digit."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts import tiles
from dashboard.charts.atlas import GAP, mosaics
from dashboard.inspection import channel_atlas
from dashboard.mnist.data import load_mnist
from dashboard.mnist.digits import from_mnist
from dashboard.network.spec import BOOK, geometry
from dashboard.store.cache import ModelCache
from tests.app.apptools import figures, open_page, plotly_array, png_picture

PAGE = "pages/6_Channels.py"
BOOK_RUN = "5ac6e14cdfcf409e"  # shipped: the book network, book preset


def run_page(query: dict[str, str]) -> AppTest:
    at = open_page(PAGE, query, timeout=240)
    assert not at.exception, at.exception
    return at


def figure(at: AppTest, title: str) -> dict:
    found = [f for f in figures(at) if title in f["layout"].get("title", {}).get("text", "")]
    assert found, f"no chart titled {title!r}"
    return found[0]


@pytest.fixture(scope="module")
def model():
    return ModelCache().load_model(BOOK_RUN)


@pytest.fixture(scope="module")
def page():
    return run_page({"run": BOOK_RUN, "channel": "5", "digit": "3"})


@pytest.mark.slow
def test_atlas_of_the_last_layer_is_the_top_windows_of_the_test_images(page, model):
    at = page
    assert at.selectbox(key="atlas_layer").value == "conv2d_2"
    assert at.slider(key="atlas_channel").value == 5
    assert any("64 channels of `conv2d_2`" in m.value and "2,000 searched" in m.value for m in at.markdown)
    fig = figure(at, "conv2d_2: what each channel looks for")
    # The left image is the tiled top-9 windows of an independent search over the same images.
    geo = next(g for g in geometry(BOOK) if g.name == "conv2d_2")
    found = channel_atlas.top_windows(channel_atlas.layer_output_model(model, "conv2d_2"), load_mnist("auto").x_test, geo)
    expected = tiles.tile(mosaics(found.crops), 8, gap=GAP)
    assert fig["data"][0]["type"] == "image" and fig["data"][0]["hoverinfo"] == "skip"  # the markers name channels
    np.testing.assert_array_equal(np.isnan(png_picture(fig["data"][0]["source"])), np.isnan(expected))  # gaps
    np.testing.assert_allclose(png_picture(fig["data"][0]["source"]), expected, atol=0.5 / 255)  # crops: uint8 exactly
    assert png_picture(fig["data"][1]["source"]).shape == (8 * 28 + 7 * GAP,) * 2  # 64 patterns, 8 a row
    spec = next(chart.proto.spec for chart in at.get("plotly_chart") if chart.key == "atlas_chart")
    assert len(spec) < 400_000  # PNG pictures: 2.8 MB as heatmaps of numbers
    # One selectable marker per channel on each side; channel 5 is framed.
    assert [len(plotly_array(fig["data"][i]["customdata"])) for i in (2, 3)] == [64, 64]
    assert fig["layout"]["clickmode"] == "event+select" and len(fig["layout"]["shapes"]) == 2


@pytest.mark.slow
def test_the_chosen_channel_is_drawn_on_the_digit(model):
    at = run_page({"run": BOOK_RUN, "channel": "5", "digit": "3"})  # its own page: it moves the slider
    fig = figure(at, "Channel 5 of conv2d_2 on test image #3")
    image = from_mnist(load_mnist("auto").x_test[3])
    body = channel_atlas.layer_output_model(model, "conv2d_2")
    channel_map = np.asarray(body(image[None, :, :, None]))[0, :, :, 5]
    geo = next(g for g in geometry(BOOK) if g.name == "conv2d_2")
    np.testing.assert_allclose(plotly_array(fig["data"][1]["z"]), channel_atlas.channel_overlay(channel_map, geo), atol=1e-5)
    strongest = channel_atlas.strongest_positions(channel_map)
    boxes = [(s["y0"] + 0.5, s["x0"] + 0.5, s["y1"] - 0.5, s["x1"] - 0.5) for s in fig["layout"]["shapes"]]
    assert boxes == [geo.window(r, c) for r, c, _ in strongest]
    text = " ".join(m.value for m in at.markdown)
    if strongest:
        r, c, v = strongest[0]
        assert f"fires most at position ({r}, {c})" in text and f"with {v:.2f}" in text
        # The boxes are named by the colours they are drawn in, strongest first.
        assert "(red box)" in text and [s["line"]["color"] for s in fig["layout"]["shapes"]][:1] == ["#E03131"]
        for name, (r2, c2, v2) in zip(("amber", "teal"), strongest[1:]):
            assert f"{name}: ({r2}, {c2}), {v2:.2f}" in text

    # The animation: one frame per output position (3×3), ending with the channel's map.
    anim = figure(at, "conv2d_2, filter 5")
    assert len(anim["frames"]) == 9
    np.testing.assert_allclose(plotly_array(anim["frames"][-1]["data"][0]["z"]).astype(float), channel_map, atol=1e-4)

    # Another channel from the slider: the page follows, the atlas frame moves.
    at.slider(key="atlas_channel").set_value(12).run()
    assert not at.exception
    figure(at, "Channel 12 of conv2d_2")
    shapes = figure(at, "what each channel looks for")["layout"]["shapes"]
    top, left = tiles.tile_origin(12, 28, 28, 8, GAP)
    assert shapes[1]["x0"] == left - 1.5 and shapes[1]["y0"] == top - 1.5
    assert at.query_params["channel"] in ("12", ["12"])


@pytest.mark.slow
def test_first_layer_and_bad_channel_in_the_link():
    at = run_page({"run": BOOK_RUN, "layer": "conv2d", "channel": "999"})
    assert at.selectbox(key="atlas_layer").value == "conv2d"
    default = run_page({"run": BOOK_RUN, "layer": "conv2d"}).slider(key="atlas_channel").value
    assert at.slider(key="atlas_channel").value == default  # the bad channel falls back to the page's own choice
    assert any("channel" in w.value and "999" in w.value for w in at.warning), [w.value for w in at.warning]
    fig = figure(at, "conv2d: what each channel looks for")
    assert len(plotly_array(fig["data"][2]["customdata"])) == 32
    assert any("3×3 window" in m.value for m in at.markdown)


@pytest.mark.slow
def test_the_page_opens_on_the_channel_that_fires_most_on_the_digit_and_numbers_the_channels(model):
    at = run_page({"run": BOOK_RUN})  # no channel in the link; the first test image
    image = from_mnist(load_mnist("auto").x_test[0])
    maps = np.asarray(channel_atlas.layer_output_model(model, "conv2d_2")(image[None, :, :, None]))[0]  # (3, 3, 64)
    expected = int(np.argmax(maps.max(axis=(0, 1))))
    assert at.slider(key="atlas_channel").value == expected and maps[:, :, expected].max() > 0
    assert not any("stays at zero" in m.value for m in at.markdown)
    assert at.query_params["channel"] in (str(expected), [str(expected)])
    fig = figure(at, "conv2d_2: what each channel looks for")
    numbers = [a["text"] for a in fig["layout"]["annotations"] if a.get("xref") == "x"]
    assert numbers == [str(c) for c in range(64)]
