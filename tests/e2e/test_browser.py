"""In a real browser: draw a "1" on the Feature maps page and see it read; every page opens cleanly."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = Path("/tmp/convnet-e2e-feature-maps.png")
RUN_TIMEOUT_MS = 180_000  # a cold page imports TensorFlow and may compute analyses first

pytestmark = pytest.mark.e2e


def page_paths() -> list[tuple[str, str]]:
    """(id, URL path) of the home page and of every file in pages/ now, as Streamlit routes them."""
    paths = [("home", "")]
    for file in sorted((ROOT / "pages").glob("*.py")):
        # pages/4_Feature_maps.py is served at /Feature_maps.
        paths.append((file.stem, re.sub(r"^\d+[_ -]*", "", file.stem)))
    return paths


def wait_for_app(page, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Wait until the script has run to the end (Streamlit marks the app `notRunning`)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    settled = 0
    while settled < 3:  # idle three checks in a row: no rerun queued right behind
        if time.monotonic() > deadline:
            raise AssertionError(f"the app was still running after {timeout_ms / 1000:.0f} s")
        state = page.get_attribute('[data-testid="stApp"]', "data-test-script-state")
        settled = settled + 1 if state == "notRunning" else 0
        page.wait_for_timeout(300)


def exception_texts(page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()


def test_drawing_a_one_shows_the_prediction_and_the_layer_panels(server, page, feature_run):
    from playwright.sync_api import expect

    query = "?input=draw" + (f"&run={feature_run}" if feature_run else "")
    page.goto(f"{server}/Feature_maps{query}")
    wait_for_app(page)
    canvas = page.locator("canvas.upper-canvas")  # Fabric.js's drawing layer, in the component's shadow root
    expect(canvas).to_be_visible(timeout=60_000)
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100

    # A vertical stroke down the middle of the canvas: a "1".
    x = box["x"] + box["width"] * 0.5
    top, bottom = box["y"] + box["height"] * 0.15, box["y"] + box["height"] * 0.85
    page.mouse.move(x, top)
    page.mouse.down()
    for step in range(1, 26):
        page.mouse.move(x + step * 0.2, top + (bottom - top) * step / 25)
    page.mouse.up()

    prediction = page.locator('[data-testid="stMetric"]').filter(has_text="Predicted digit")
    expect(prediction.first.locator('[data-testid="stMetricValue"]')).to_have_text("1", timeout=RUN_TIMEOUT_MS)
    wait_for_app(page)
    # The network's view of the drawing, the probabilities, and one panel per conv/pool layer.
    # The title's two lines are two SVG text spans: at 1280×720 one line was cut off at the column's edge.
    expect(page.get_by_text("What the network sees:", exact=True).first).to_be_visible()
    expect(page.get_by_text("your drawing", exact=True).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Predicted 1 \(")).first).to_be_attached()
    layer_titles = page.get_by_text(re.compile(r"^(conv2d|max_pooling2d)(_\d+)? \((Conv2D|MaxPooling2D)\) · \(None, "))
    expect(layer_titles.first).to_be_attached(timeout=30_000)
    assert layer_titles.count() >= 4
    assert page.locator(".js-plotly-plot").count() >= 4 + 4  # layers + seen, probabilities, window, kernels
    assert exception_texts(page) == []
    page.screenshot(path=str(SCREENSHOT))


@pytest.mark.parametrize("path", [p for _, p in page_paths()], ids=[i for i, _ in page_paths()])
def test_every_page_opens_without_an_exception(server, page, path):
    page.goto(f"{server}/{path}")
    wait_for_app(page)
    assert page.locator("h1").count() >= 1, "the page shows no heading"
    assert exception_texts(page) == [], f"/{path} shows an exception"
    # the tab's title is the menu's name for the page (`page_setup.PAGES`), the home page the app's
    from dashboard.ui.page_setup import APP, PAGES

    label = next(label for file, label, _, _ in PAGES if re.sub(r"^(pages/\d+_)?|\.py$", "", file) == path
                 or (path == "" and file == "streamlit_app.py"))
    assert page.title() == (APP if path == "" else f"{label} · {APP}")
