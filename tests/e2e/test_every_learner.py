"""In a real browser, for every learner: the Train button above the fold on a laptop, every page at a
phone's width (tables scroll in their own box), drawing with a finger, the jobs panel on a phone,
exercise progress kept across reloads in the browser's own storage (never in a link), and the
convolution animation still under reduced motion."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from dashboard.ui.page_setup import PAGES
from tests.e2e.test_browser import RUN_TIMEOUT_MS, exception_texts, wait_for_app
from tests.e2e.test_navigation import url_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 720}
STORAGE_KEY = "convnet-explorer"


def train_button(tab):
    """The primary Train button of the main area."""
    return tab.locator('[data-testid="stMain"] [data-testid="stBaseButton-primary"]').filter(
        has_text=re.compile(r"^\W*(model_training)?\s*Train$"))


def test_the_train_button_is_in_the_main_area_above_the_fold_at_1280x720(server, browser):
    context = browser.new_context(viewport=LAPTOP)
    tab = context.new_page()
    try:
        tab.goto(f"{server}/Train")
        wait_for_app(tab)
        button = train_button(tab)
        assert button.count() == 1
        box = button.bounding_box()
        main = tab.locator('[data-testid="stMain"]').bounding_box()
        assert box is not None and main is not None
        # Inside the window without scrolling, and in the main area, not the sidebar.
        assert 0 <= box["y"] and box["y"] + box["height"] <= LAPTOP["height"], box
        assert main["x"] <= box["x"] and box["x"] + box["width"] <= LAPTOP["width"], box
        assert tab.evaluate("document.querySelector('[data-testid=stMain]').scrollTop") == 0
        # Beside it, how long the settings take; the page starts from the one-epoch preset.
        assert tab.get_by_text(re.compile(r"Training with these settings takes about \d+ (s|min)")).count() == 1
        assert tab.get_by_text("fast preset", exact=True).count() >= 1
    finally:
        context.close()


def _too_wide(tab) -> list[str]:
    """What makes the page wider than the window: the document, the main area, or a table not in a scroller."""
    return tab.evaluate("""(width) => {
        const found = [];
        if (document.scrollingElement.scrollWidth > width + 1) found.push(`document ${document.scrollingElement.scrollWidth}`);
        const main = document.querySelector('[data-testid=stMain]');
        if (main.scrollWidth > width + 1) found.push(`main area ${main.scrollWidth}`);
        for (const table of document.querySelectorAll('[data-testid=stMain] table')) {
            if (table.getClientRects().length === 0) continue;  // not displayed (a closed expander's)
            let box = table, scrolls = false;
            while (box && box !== main) {
                const style = getComputedStyle(box);
                if (['auto', 'scroll'].includes(style.overflowX) && box.clientWidth <= width) { scrolls = true; break; }
                box = box.parentElement;
            }
            if (!scrolls) found.push(`a table of ${table.scrollWidth} px outside a scroller`);
        }
        return found;
    }""", PHONE["width"])


def test_at_390x844_no_page_is_wider_than_the_phone_and_tables_scroll_in_their_own_box(server, browser):
    context = browser.new_context(viewport=PHONE, has_touch=True)
    tab = context.new_page()
    found, tables = {}, 0
    try:
        for path, label, _, _ in PAGES:
            tab.goto(f"{server}/{url_name(path)}")
            wait_for_app(tab)
            assert exception_texts(tab) == [], label
            wide = _too_wide(tab)
            if wide:
                found[label] = wide
            tables += tab.locator('[data-testid="stMain"] table').count()
    finally:
        context.close()
    assert found == {}
    assert tables >= 2  # Home's and Architecture's summaries are Markdown tables: the check saw some


def test_a_finger_draws_on_the_canvas(server, browser, feature_run):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, has_touch=True)
    tab = context.new_page()
    try:
        query = "?input=draw" + (f"&run={feature_run}" if feature_run else "")
        tab.goto(f"{server}/Feature_maps{query}")
        wait_for_app(tab)
        canvas = tab.locator("canvas.upper-canvas")
        expect(canvas).to_be_visible(timeout=60_000)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1
        canvases = tab.locator("canvas")  # Fabric.js's layers; a finished stroke is drawn on one of them
        count_ink = """canvases => canvases.reduce((sum, canvas) => {
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 0; i < data.length; i += 4) sum += data[i] + data[i + 1] + data[i + 2];
            return sum;
        }, 0)"""
        before = canvases.evaluate_all(count_ink)
        # Playwright's touchscreen only taps: a stroke is touchStart, touchMoves and touchEnd through CDP.
        cdp = context.new_cdp_session(tab)
        x = box["x"] + box["width"] * 0.5
        top, bottom = box["y"] + box["height"] * 0.15, box["y"] + box["height"] * 0.85
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": top}]})
        for step in range(1, 26):
            point = {"x": x + step * 0.2, "y": top + (bottom - top) * step / 25}
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
            tab.wait_for_timeout(20)  # a finger's pace: Fabric.js samples the moves between frames
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        # The stroke is on the canvas (its pixels changed), and the network reads it.
        assert canvases.evaluate_all(count_ink) > before, "the finger left no stroke"
        prediction = tab.locator('[data-testid="stMetric"]').filter(has_text="Predicted digit")
        expect(prediction.first.locator('[data-testid="stMetricValue"]')).to_have_text("1", timeout=RUN_TIMEOUT_MS)
        assert exception_texts(tab) == []
    finally:
        context.close()


def test_on_a_phone_train_a_tiny_network_and_follow_it_in_the_jobs_panel(server, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, has_touch=True)
    tab = context.new_page()
    try:
        tab.goto(f"{server}/Train?preset=tiny&train=fast")
        wait_for_app(tab)
        button = train_button(tab)
        box = button.bounding_box()
        assert box and box["y"] + box["height"] <= PHONE["height"] * 1.5  # near the top, not under the settings
        button.scroll_into_view_if_needed()
        button.tap()
        expect(tab.get_by_text(re.compile(r"^(Trained on this server|Trained before)")).first).to_be_visible(
            timeout=RUN_TIMEOUT_MS)
        # The sidebar opens over the page and lists the job with its result.
        tab.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button').first.tap()
        sidebar = tab.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text("Training jobs").first).to_be_visible(timeout=30_000)
        expect(sidebar.get_by_text(re.compile("done: test accuracy")).first).to_be_visible(timeout=30_000)
        width = sidebar.bounding_box()["width"]
        assert width <= PHONE["width"] + 1
        assert tab.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"] + 1
        assert exception_texts(tab) == []
    finally:
        context.close()


@contextmanager
def opened_in_another_browser(browser, link: str, settle_ms: int) -> Iterator:
    """A tab of a fresh browser context (another learner) on `link`, once the app has settled."""
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    try:
        other.goto(link)
        wait_for_app(other)
        other.wait_for_timeout(settle_ms)
        wait_for_app(other)
        yield other
    finally:
        fresh.close()


def _solved(tab) -> str:
    return tab.locator('[data-testid="stSidebar"] [data-testid="stProgress"]').inner_text()


def test_exercise_progress_survives_a_reload_but_not_a_shared_link(server, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    try:
        tab.goto(f"{server}/Exercises?step=1")
        wait_for_app(tab)
        expect(tab.locator('[data-testid="stSidebar"] [data-testid="stProgress"]')).to_contain_text("0 of ")
        tab.get_by_label("Your answer").fill("(None, 26, 26, 32)")
        tab.get_by_role("button", name="Check").click()
        expect(tab.locator('[data-testid="stSidebar"] [data-testid="stProgress"]')).to_contain_text("1 of ")
        stored = ""
        for _ in range(50):  # the browser confirms the write in a rerun
            stored = tab.evaluate(f"window.localStorage.getItem('{STORAGE_KEY}')") or ""
            if "conv1_shape" in stored:
                break
            tab.wait_for_timeout(200)
        assert "conv1_shape" in stored and re.search(r'"learner":"[0-9a-f]{32}"', stored), stored
        link = tab.url
        assert "conv1_shape" not in link and "26" not in link.split("?", 1)[-1]  # the link carries no progress

        tab.reload()
        wait_for_app(tab)
        expect(tab.locator('[data-testid="stSidebar"] [data-testid="stProgress"]')).to_contain_text("1 of ",
                                                                                               timeout=30_000)
        assert _solved(tab).startswith("1 of ")
    finally:
        context.close()

    with opened_in_another_browser(browser, link, 1500) as other:  # another learner opening the link
        assert _solved(other).startswith("0 of ")
        learner = other.evaluate(f"JSON.parse(window.localStorage.getItem('{STORAGE_KEY}')).learner")
        assert re.fullmatch(r"[0-9a-f]{32}", learner) and learner not in stored  # its own id


def test_the_convolution_animation_does_not_move_by_itself_under_reduced_motion(server, browser, feature_run):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, reduced_motion="reduce")
    tab = context.new_page()
    try:
        tab.goto(f"{server}/Channels" + (f"?run={feature_run}" if feature_run else ""))
        wait_for_app(tab)
        from playwright.sync_api import expect

        box = tab.locator(".st-key-atlas_convolution")
        box.scroll_into_view_if_needed()
        chart = box.locator(".js-plotly-plot")
        expect(chart.locator(".updatemenu-container")).to_be_attached(timeout=60_000)  # its Play button
        tab.wait_for_timeout(500)
        first = chart.screenshot()
        tab.wait_for_timeout(1500)
        assert chart.screenshot() == first  # no frame advanced on its own: it plays only when asked
        duration = tab.evaluate("getComputedStyle(document.querySelector('[data-testid=stApp]')).transitionDuration")
        assert duration in ("1e-05s", "0.00001s", "0s"), duration  # the page's own transitions are off
    finally:
        context.close()


def test_a_learners_jobs_are_back_after_a_reload_but_not_in_another_browser(server, browser):
    from playwright.sync_api import expect

    seed = random.randrange(1000, 2**31 - 1)  # a run no earlier test session has cached: it trains as a job
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    try:
        tab.goto(f"{server}/Train?preset=tiny&train=fast&settings=seed{seed}~n1000&data=embedded")
        wait_for_app(tab)
        train_button(tab).click()
        sidebar = tab.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text(re.compile(r"^Training jobs \(")).first).to_be_visible(timeout=30_000)
        assert sidebar.get_by_text(re.compile(r"tiny · ")).count() == 1
        link = tab.url
        assert f"seed{seed}" in link and "learner" not in link  # the link carries the settings, not who trains

        tab.reload()  # a new Streamlit session: the browser's learner id finds the job again
        wait_for_app(tab)
        sidebar = tab.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text(re.compile(r"tiny · ")).first).to_be_visible(timeout=30_000)
        expect(sidebar.get_by_text(re.compile("done: test accuracy|running|queued")).first).to_be_visible(
            timeout=30_000)
        second = context.new_page()  # a new tab of the same browser
        second.goto(f"{server}/Architecture")
        wait_for_app(second)
        expect(second.locator('[data-testid="stSidebar"]').get_by_text(re.compile(r"tiny · ")).first).to_be_visible(
            timeout=30_000)
    finally:
        context.close()

    # The browser's answer, and a rerun if it had jobs, come within 3 s.
    with opened_in_another_browser(browser, link, 3000) as other:  # another learner opening the link
        assert other.locator('[data-testid="stSidebar"]').get_by_text(re.compile(r"^Training jobs \(")).count() == 0
        assert other.get_by_label("Seed").input_value() == str(seed)  # the same view: the link's settings
