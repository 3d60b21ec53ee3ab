"""Benchmark: the server's CPU time per page view and per widget rerun, against a trivial page.

A room of learners shares one server, and their browsers share its cores, so wall-clock times
say little. This script measures what the *server* spends: it starts a real
`streamlit run streamlit_app.py` and, in the same run, a one-line Streamlit page (the floor),
opens every page N times in headless Chromium (a new browser context, hence a new session,
each time), and reads the server process's CPU time (psutil, user + system) before the view
and once the page has settled (no script running, server CPU quiet). Between a page's views the
trivial page is opened again, and the page's ratio is to those views of it: the machine's pace
drifts by ±20% over a run, which moved the ratios by as much as the changes measured. Then, on each page, it
changes one widget (the first slider, else the first select box: on the run pages, the run) and
measures that rerun, then changes it back (to a run this server has shown already) and measures again.

Targets (issue 12): every page's repeat view ≤ 1.5× the trivial page's (home ≤ 1.2×); every
widget rerun ≤ 150 ms of server CPU; the first view of Feature maps for a run ≤ 1 s. The first
page that needs TensorFlow pays for importing it (about 3 s of CPU, once per server), so the row
"FM, new run" opens on Feature maps a shipped run no session has viewed yet, once TensorFlow is
loaded: the first view of Feature maps for a run. A second column gives each
page's cost to a new session in a browser that has the static bundle cached already (a learner's
second tab or a reload), which is the server's own work for a session.

    python benchmarks/server_cost.py [--views 4] [--pages Home,Train] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
# (label, URL path) of every page; the paths are Streamlit's page URLs.
PAGES = [
    ("Home", "/"),
    ("Architecture", "/Architecture"),
    ("Train", "/Train"),
    ("Compare", "/Compare"),
    ("Feature maps", "/Feature_maps"),
    ("Inside the 3×3", "/Inside_the_3x3"),
    ("Channels", "/Channels"),
    ("Exercises", "/Exercises"),
    ("Import", "/Import"),
]
QUIET_SECONDS = 1.0  # the server is settled after this long with under QUIET_CPU of CPU
QUIET_CPU = 0.02
SETTLE_TIMEOUT = 180.0
TRIVIAL_PAGE = 'import streamlit as st\n\nst.write("Hello")\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(script: Path, cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`streamlit run script` on a free port; returns (process, base URL) once healthy."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"{script} did not start")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def settle(page, process: psutil.Process) -> None:
    """Wait until no script runs and the server's CPU has been quiet for QUIET_SECONDS."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    page.wait_for_selector('[data-testid="stApp"]', timeout=SETTLE_TIMEOUT * 1000)
    last, quiet_since = cpu_seconds(process), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(process)
        running = page.query_selector('[data-testid="stStatusWidget"]') is not None
        if now - last > QUIET_CPU * 0.25 or running:
            quiet_since = time.monotonic()
        last = now
        if time.monotonic() - quiet_since >= QUIET_SECONDS:
            return
    raise TimeoutError("page did not settle")


def measure(browser, process: psutil.Process, url: str) -> tuple[float, object]:
    """(server CPU seconds to serve and settle `url` in a new session, the open page's context)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    before = cpu_seconds(process)
    page.goto(url)
    settle(page, process)
    # The quiet tail is not part of the view.
    return max(cpu_seconds(process) - before, 0.0), (context, page)


def cached_views(browser, process: psutil.Process, url: str, views: int) -> float:
    """Median server CPU seconds of `views` new sessions (tabs) in ONE browser, after a first tab.

    The tabs share the browser's HTTP cache: Streamlit's static bundle (hashed file names,
    `immutable`) is fetched once, as a learner's browser does; what is left is the server's work
    for a session (script run, messages).
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    costs = []
    try:
        for view in range(views + 1):
            page = context.new_page()
            before = cpu_seconds(process)
            page.goto(url)
            settle(page, process)
            if view:  # the first tab fills the cache
                costs.append(max(cpu_seconds(process) - before, 0.0))
            page.close()
    finally:
        context.close()
    return statistics.median(costs)


def widget_rerun(page, process: psutil.Process) -> tuple[str, float, float | None] | None:
    """Change the first slider (else select box), measure the rerun's server CPU, then change it
    back and measure again: (widget, first change, change back to what was shown before)."""
    slider = page.query_selector('[data-testid="stSlider"] [role="slider"]')
    if slider is not None:
        keys, what = ("ArrowRight", "ArrowLeft"), "slider"
    elif page.query_selector('[data-testid="stSelectbox"] input') is not None:
        keys, what = ("ArrowDown", "ArrowUp"), "select box"
    else:
        return None
    costs = []
    for key in keys:
        before = cpu_seconds(process)
        if what == "slider":
            slider.focus()
            page.keyboard.press(key)
        else:  # a select box: the next option, then back to the previous one (e.g. a run, then the first again)
            page.query_selector('[data-testid="stSelectbox"] input').click()
            page.keyboard.press(key)
            page.keyboard.press("Enter")
        settle(page, process)
        costs.append(max(cpu_seconds(process) - before, 0.0))
    return what, costs[0], costs[1]


def another_run(shipped: Path, default: str = "5ac6e14cdfcf409e") -> str | None:
    """A shipped run other than the one Feature maps opens with (the book network, book preset)."""
    keys = sorted(p.name for p in shipped.iterdir() if (p / "record.json").is_file()) if shipped.is_dir() else []
    return next((key for key in keys if key != default), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=4, help="views of each page (first + repeats)")
    parser.add_argument("--pages", default="", help="comma-separated page labels (default: all)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    wanted = [p for p in PAGES if not args.pages or p[0] in args.pages.split(",")]

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MNIST_DOWNLOAD": os.environ.get("MNIST_DOWNLOAD", "0")}
    env.setdefault("MODEL_CACHE_DIR", tempfile.mkdtemp(prefix="server-cost-cache-"))
    trivial_dir = Path(tempfile.mkdtemp(prefix="trivial-page-"))
    (trivial_dir / "trivial.py").write_text(TRIVIAL_PAGE)

    from playwright.sync_api import sync_playwright

    app, app_url = start_server(ROOT / "streamlit_app.py", ROOT, env)
    floor, floor_url = start_server(trivial_dir / "trivial.py", trivial_dir, env)
    results: dict[str, dict] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            floor_proc = psutil.Process(floor.pid)
            floor_costs = []
            for _ in range(args.views):
                cost, (context, _) = measure(browser, floor_proc, floor_url)
                floor_costs.append(cost)
                context.close()
            trivial = statistics.median(floor_costs[1:] or floor_costs)
            trivial_cached = cached_views(browser, floor_proc, floor_url, max(args.views - 1, 1))
            results["trivial page"] = {"first": floor_costs[0], "repeat": trivial, "cached": trivial_cached}
            app_proc = psutil.Process(app.pid)
            for label, path in wanted:
                costs, floors, rerun = [], [], None
                for view in range(args.views):
                    if view:  # the floor again, view for view: the machine's pace drifts between pages
                        floor_cost, (context, _) = measure(browser, floor_proc, floor_url)
                        floors.append(floor_cost)
                        context.close()
                    cost, (context, page) = measure(browser, app_proc, app_url + path)
                    costs.append(cost)
                    if view == args.views - 1:
                        rerun = widget_rerun(page, app_proc)
                    context.close()
                if label == "Feature maps":  # TensorFlow is loaded by now: a run no session has viewed yet
                    other = another_run(ROOT / "model_cache" / "shipped")
                    if other is not None:
                        cost, (context, _) = measure(browser, app_proc, f"{app_url}{path}?run={other}")
                        context.close()
                        results["FM, new run"] = {"first": cost, "repeat": cost, "cached": cost}
                repeat = statistics.median(costs[1:] or costs)
                floor_now = statistics.median(floors) if floors else trivial
                cached = cached_views(browser, app_proc, app_url + path, max(args.views - 1, 1))
                results[label] = {"first": costs[0], "repeat": repeat, "trivial": floor_now,
                                  "ratio": repeat / floor_now if floor_now else None,
                                  "cached": cached,
                                  "rerun": None if rerun is None else {"widget": rerun[0], "cpu": rerun[1], "back": rerun[2]}}
            browser.close()
    finally:
        for process in (app, floor):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    print(f"{'page':<16}{'first view':>12}{'repeat view':>13}{'trivial then':>14}{'× trivial':>11}{'cached browser':>16}"
          f"{'widget rerun':>22}{'and back':>10}")
    for label, row in results.items():
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") else "1.00" if label == "trivial page" else ""
        rerun = row.get("rerun")
        rerun_text = f"{rerun['cpu'] * 1000:.0f} ms ({rerun['widget']})" if rerun else "—"
        back_text = f"{rerun['back'] * 1000:.0f} ms" if rerun and rerun.get("back") is not None else ""
        floor_text = f"{row['trivial'] * 1000:.0f}ms" if row.get("trivial") else ""
        print(f"{label:<16}{row['first'] * 1000:>10.0f}ms{row['repeat'] * 1000:>11.0f}ms{floor_text:>14}{ratio:>11}"
              f"{row['cached'] * 1000:>14.0f}ms{rerun_text:>22}{back_text:>10}")
    print("repeat view: a new browser each time (it fetches Streamlit's static bundle); trivial then: the trivial "
          "page's repeat views measured between that page's views, the ratio's floor; cached browser: a new tab "
          "(session) in one browser, its HTTP cache warm; FM, new run: Feature maps of a run no session has viewed, "
          "TensorFlow loaded")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
