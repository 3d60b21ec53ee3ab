"""End-to-end fixtures: a real `streamlit run` server and the system's headless Chromium.

The server runs the app as a user would (`python -m streamlit run streamlit_app.py`) on a free
local port, with the test settings of tests/conftest.py in its environment (offline data, a
throw-away model cache). Playwright cannot download browsers here, so it drives the Debian
Chromium at /usr/bin/chromium. Without that browser the tests are skipped, except under CI
(env CI set), where a missing browser is a failure: `.ci/run` installs it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
HEALTH_TIMEOUT = 60.0  # seconds for the server to answer /_stcore/health


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _no_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(f"{reason}; install it (apt-get install chromium) to run the browser tests")


@pytest.fixture(scope="session")
def feature_run() -> str | None:
    """The run the drawing test reads with: None for the shipped book run (the page's default),
    else the key of a tiny network trained here (1 epoch on the embedded data, ~7 s)."""
    from dashboard.jobs.train_now import train_now
    from dashboard.mnist.data import load_mnist
    from dashboard.network.spec import BOOK, PRESETS
    from dashboard.store.cache import ModelCache
    from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings

    cache = ModelCache()  # MODEL_CACHE_DIR: the tests' temp dir, which the server inherits
    book = TRAIN_PRESETS["book"]
    if any(r.shipped and r.spec == BOOK and r.settings == book for r in cache.runs()):
        return None
    record, _ = train_now(PRESETS["tiny"], TrainSettings(epochs=1, seed=0), load_mnist("embedded"), cache)
    return record.key


@pytest.fixture(scope="session")
def server(feature_run) -> Iterator[str]:
    """Base URL of `streamlit run streamlit_app.py` on a free port; stopped after the session."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkdtemp(prefix="convnet-e2e-")) / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with status {process.returncode}:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer {url}/_stcore/health within {HEALTH_TIMEOUT:.0f} s:\n{_log_tail(log_path)}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """The system Chromium, headless, driven by Playwright."""
    if not CHROMIUM.exists():
        _no_browser(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A fresh tab (its own session) with a desktop-sized window."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
