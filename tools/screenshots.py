"""Screenshots of pages as a learner sees them: a real `streamlit run`, headless Chromium, the
page scrolled through in viewport-sized shots at each window size.

    python tools/screenshots.py [--pages /,/Architecture?preset=tiny] [--sizes 1400x1000,1280x720]
                                [--out shots/] [--url http://127.0.0.1:8501]

Without `--url` it starts its own server (the app's own `model_cache/`, offline data unless
MNIST_NPZ is set) and stops it at the end. Files: <out>/<page>-<W>x<H>-<n>.png.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server_cost import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402

PAGES = "/,/Architecture,/Train,/Compare,/Feature_maps,/Inside_the_3x3,/Channels,/Exercises,/Import"


def settle(page, timeout: float = 120.0) -> None:
    """Wait until Streamlit has stopped running the script and the page no longer changes."""
    deadline = time.monotonic() + timeout
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    last, stable = None, 0
    while time.monotonic() < deadline and stable < 3:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        html_size = len(page.content())
        stable = stable + 1 if (not running and html_size == last) else 0
        last = html_size
        time.sleep(0.7)


def shoot(browser, url: str, path: str, width: int, height: int, out: Path) -> list[Path]:
    """Screenshots of one page, top to bottom, one per viewport height."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url + path)
    settle(page)
    name = (re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "Home")[:80]  # a long query string stays a valid file name
    scroller = '[data-testid="stMain"]'
    total = page.evaluate(f"() => (document.querySelector('{scroller}') || document.scrollingElement).scrollHeight")
    files = []
    for n, top in enumerate(range(0, max(total, 1), height - 80)):
        page.evaluate(f"() => (document.querySelector('{scroller}') || document.scrollingElement).scrollTo(0, {top})")
        time.sleep(0.4)
        file = out / f"{name}-{width}x{height}-{n}.png"
        page.screenshot(path=str(file))
        files.append(file)
    context.close()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default=PAGES)
    parser.add_argument("--sizes", default="1400x1000,1280x720")
    parser.add_argument("--out", default="shots")
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    process = None
    url = args.url
    if url is None:
        env = os.environ.copy()
        process, url = start_server(ROOT / "streamlit_app.py", ROOT, env)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            for size in args.sizes.split(","):
                width, height = (int(v) for v in size.split("x"))
                for path in args.pages.split(","):
                    for file in shoot(browser, url, path, width, height, out):
                        print(file)
            browser.close()
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
