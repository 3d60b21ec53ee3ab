"""In a real browser: clicking a channel of the atlas, or a position on Feature maps' digit, moves the sliders."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import exception_texts, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BOOK_RUN = "e65858bf802bbe92"  # shipped


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
