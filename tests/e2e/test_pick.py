"""In a real browser: clicking a channel of the atlas, or a position on Feature maps' digit, moves the sliders."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import exception_texts, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BOOK_RUN = "5ac6e14cdfcf409e"  # shipped


def click_point(page, chart_key: str, trace: int, point: int) -> None:
    """Click point `point` of trace `trace` of the plotly chart with Streamlit key `chart_key`."""
    plot = page.locator(f".st-key-{chart_key} .js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    x, y = plot.evaluate(
        """(gd, [ti, pi]) => {
            const t = gd._fullData[ti], L = gd._fullLayout;
            const xa = L[t.xaxis.replace('x', 'xaxis')], ya = L[t.yaxis.replace('y', 'yaxis')];
            return [xa._offset + xa.d2p(t.x[pi]), ya._offset + ya.d2p(t.y[pi])];
        }""",
        [trace, point],
    )
    page.mouse.click(box["x"] + x, box["y"] + y)


def slider_value(page, key: str) -> str | None:
    return page.locator(f".st-key-{key} [data-testid=stSliderThumbValue]").first.inner_text()


def test_clicking_a_channel_of_the_atlas_picks_it(server, page):
    page.goto(f"{server}/Channels?run={BOOK_RUN}&channel=3")
    wait_for_app(page)
    assert slider_value(page, "atlas_channel") == "3"
    click_point(page, "atlas_chart", 3, 20)  # the patterns' markers: channel 20
    page.wait_for_timeout(500)
    wait_for_app(page)
    assert slider_value(page, "atlas_channel") == "20"
    assert page.get_by_text("Channel 20 of conv2d_2 on").count() >= 1
    assert exception_texts(page) == []


def test_clicking_a_position_on_the_digit_picks_it(server, page):
    page.goto(f"{server}/Feature_maps?run={BOOK_RUN}")
    wait_for_app(page)
    assert (slider_value(page, "fm0_row"), slider_value(page, "fm0_col")) == ("1", "1")
    click_point(page, "fm0_window", 1, 2)  # position (0, 2)
    page.wait_for_timeout(500)
    wait_for_app(page)
    assert (slider_value(page, "fm0_row"), slider_value(page, "fm0_col")) == ("0", "2")
    assert exception_texts(page) == []


def test_dragging_a_box_on_the_projection_shows_those_digits(server, page):
    page.goto(f"{server}/Inside_the_3x3?run={BOOK_RUN}")
    wait_for_app(page)
    plot = page.locator(".st-key-inside_projection .js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    x, y = plot.evaluate(  # the first dot of the digit-0 trace, in the chart's pixels
        """gd => { const t = gd._fullData[0], L = gd._fullLayout;
            return [L.xaxis._offset + L.xaxis.d2p(t.x[0]), L.yaxis._offset + L.yaxis.d2p(t.y[0])]; }"""
    )
    page.mouse.move(box["x"] + x - 12, box["y"] + y - 12)
    page.mouse.down()
    page.mouse.move(box["x"] + x + 12, box["y"] + y + 12, steps=5)
    page.mouse.up()
    page.wait_for_timeout(500)
    wait_for_app(page)
    thumbnails = page.locator(".st-key-inside_selected .js-plotly-plot")
    assert thumbnails.count() == 1  # the selected digits, each captioned with its test index
    captions = thumbnails.first.evaluate("gd => gd.layout.annotations.map(a => a.text)")
    assert captions and all(text.startswith("#") for text in captions)
    assert exception_texts(page) == []
