"""Server memory under the worst valid links: a real `streamlit run`, Chromium sessions, psutil.

    MNIST_NPZ=/work/shared/data/mnist.npz flock /work/heavy.lock nice -n 10 \
        python benchmarks/server_memory.py [--copies 2] [--sessions N] [--skip-singles] [--settle 120] [--app-dir DIR]

1. Starts `streamlit run streamlit_app.py` (from `--app-dir`, default this checkout) and warms it
   up: every page opened once with its default link (so the data and the shipped book run are
   loaded, as on any server that has had a visitor; TensorFlow only if a page needs it, which
   browsing the shipped runs with their stored results does not), then the sessions close. `before` is the
   server's resident memory (RSS, with any child processes) once it has settled.
2. Opens each worst valid link alone and reports what it added (RSS after the page finished
   running, minus RSS just before, and the peak during).
3. Opens every worst link `--copies` times at once and reports the peak.
4. Closes every browser context (Streamlit drops a session when its websocket closes), waits
   `--settle` seconds and reports `after`.

Targets (issue 10, defect 3): each link adds at most 100 MB; `after` - `before` at most 100 MB.
The worst valid network is six blocks of 256 filters, 7×7, 'same', no pooling, 512 dense units:
118,836,490 parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
MB = 2**20
MAX_BLOCK = {"filters": 256, "kernel_size": 7, "padding": "same", "pool": False, "strides": 1}
MAX_SPEC = {"blocks": [MAX_BLOCK] * 6, "dense_units": 512, "dropout": 0.0, "head": "flatten"}


def spec_json(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def worst_spec(variant: int) -> str:
    """The largest valid network; `variant` > 0 takes a few dense units off so that every session
    asks for a network no cache has seen (118,836,490 parameters for variant 0)."""
    return spec_json({**MAX_SPEC, "dense_units": 512 - variant})


def shipped_keys(app_dir: Path) -> list[str]:
    """Keys of the shipped runs (directory names under model_cache/shipped)."""
    shipped = app_dir / "model_cache" / "shipped"
    return sorted(p.name for p in shipped.iterdir() if (p / "record.json").exists()) if shipped.exists() else []


def worst_links(app_dir: Path, variant: int) -> list[str]:
    """Paths with query strings: the costliest valid link of every page, networks unseen before."""
    big, big2 = worst_spec(2 * variant), worst_spec(2 * variant + 1)
    q = urllib.parse.urlencode
    links = [
        "/Architecture?" + q({"spec": big}),
        "/Architecture?" + q({"spec": big2, "compare": "custom", "compare_spec": worst_spec(200 + variant)}),
        "/Train?" + q({"spec": worst_spec(300 + variant), "train": "book"}),
        "/?" + q({"spec": worst_spec(400 + variant)}),
        "/Exercises?" + q({"spec": worst_spec(450 + variant), "step": "11"}),
        "/Compare?" + q({"spec": worst_spec(480 + variant)}),
    ]
    for key in shipped_keys(app_dir):
        links.append("/Inside_the_3x3?" + q({"run": key}))
        links.append("/Feature_maps?" + q({"run": key}))
    return links


WARM_LINKS = ["/", "/Architecture", "/Train", "/Compare", "/Feature_maps", "/Inside_the_3x3", "/Exercises"]


class Sampler:
    """RSS of the server (and its children) every 100 ms; `peak` since the last `reset`."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        threading.Thread(target=self._run, daemon=True).start()

    def rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, self.rss())
            except psutil.NoSuchProcess:
                return
            time.sleep(0.1)

    def reset(self) -> int:
        now = self.rss()
        self.peak = now
        return now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(app_dir: Path, port: int, log: Path, environ: dict[str, str] | None = None,
                 preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen:
    """`streamlit run` of `app_dir` on loopback `port` (extra `environ`; `preexec_fn` runs in the child first)."""
    env = {**os.environ, "MODEL_CACHE_DIR": tempfile.mkdtemp(prefix="convnet-bench-srv-"), "TF_CPP_MIN_LOG_LEVEL": "2",
           **(environ or {})}
    # The shipped runs are read from the checkout; trained runs (none here) would go to a temp dir.
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    process = subprocess.Popen(command, cwd=app_dir, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
                               preexec_fn=preexec_fn)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"streamlit did not start; see {log}")


def stop_server(server: subprocess.Popen, seconds: float = 20) -> None:
    """Ask the server to stop; kill it after `seconds`."""
    server.terminate()
    try:
        server.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        server.kill()


def wait_rendered(page, timeout: float = 240.0) -> str:
    """Wait until the script run is over (no status widget for 3 s); 'ok', 'exception' or 'timeout'."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        running = page.query_selector('[data-testid="stStatusWidget"]') is not None
        quiet_since = None if running else (quiet_since or time.monotonic())
        if quiet_since and time.monotonic() - quiet_since > 3:
            return "exception" if page.query_selector('[data-testid="stException"]') else "ok"
        time.sleep(0.25)
    return "timeout"


def open_links(browser, base: str, links: list[str]) -> tuple[list, list[str]]:
    """Open every link in its own context (its own session) at once; wait for all to finish."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    contexts, pages = [], []
    for link in links:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        contexts.append(context)
        try:  # a server busy with many sessions may not answer a new one within the default 30 s
            page.goto(base + link, wait_until="commit", timeout=120_000)
        except PlaywrightTimeout:
            pages.append(None)  # reported as "no answer"; the other sessions still count
            continue
        pages.append(page)
    return contexts, ["no answer" if page is None else wait_rendered(page) for page in pages]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout to serve (e.g. main's)")
    parser.add_argument("--copies", type=int, default=2, help="sessions per worst link in the concurrent phase")
    parser.add_argument("--settle", type=float, default=120.0, help="seconds to wait after the sessions close")
    parser.add_argument("--sessions", type=int, default=0,
                        help="at most this many sessions in the concurrent phase (0: every link × copies); "
                             "pages, then Inside, then Feature maps links are taken first")
    parser.add_argument("--skip-singles", action="store_true", help="skip opening each worst link alone")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port, log = free_port(), Path(tempfile.mkdtemp(prefix="convnet-bench-mem-")) / "streamlit.log"
    server = start_server(args.app_dir.resolve(), port, log)
    base = f"http://127.0.0.1:{port}"
    sampler = Sampler(server.pid)
    report: dict = {"app_dir": str(args.app_dir), "started_mb": round(sampler.rss() / MB)}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            contexts, states = open_links(browser, base, WARM_LINKS)
            for context in contexts:
                context.close()
            report["warm_states"] = states
            time.sleep(20)
            before = sampler.reset()
            report["before_mb"] = round(before / MB)
            print(f"before: {before / MB:.0f} MB (after warming every page once)", flush=True)

            singles = []
            for link in [] if args.skip_singles else worst_links(args.app_dir, 0):
                start = sampler.reset()
                contexts, states = open_links(browser, base, [link])
                done, peak = sampler.rss(), sampler.peak
                for context in contexts:
                    context.close()
                row = {"link": link[:70], "state": states[0], "added_mb": round((done - start) / MB),
                       "peak_added_mb": round((peak - start) / MB)}
                singles.append(row)
                print(json.dumps(row), flush=True)
            report["single_links"] = singles

            time.sleep(5)
            start = sampler.reset()
            links = [link for copy in range(1, args.copies + 1) for link in worst_links(args.app_dir, copy)]
            if args.sessions:  # 72 sessions at once on 2 cores take over half an hour just to open
                links = sorted(links, key=lambda link: link.startswith("/Feature_maps"))[: args.sessions]
            contexts, states = open_links(browser, base, links)
            report["concurrent"] = {"sessions": len(links), "states": sorted(set(states)),
                                    "start_mb": round(start / MB), "peak_mb": round(sampler.peak / MB)}
            print(json.dumps(report["concurrent"]), flush=True)
            for context in contexts:
                context.close()
            browser.close()
        closed = time.monotonic()
        trace = []
        while time.monotonic() - closed < args.settle:
            time.sleep(10)
            trace.append(round(sampler.rss() / MB))
        after = sampler.rss()
        report["after_trace_mb"] = trace
        report["after_mb"] = round(after / MB)
        report["after_minus_before_mb"] = round((after - before) / MB)
        report["worst_single_added_mb"] = max((r["peak_added_mb"] for r in singles), default=0)
    finally:
        stop_server(server)
    print(json.dumps(report, indent=1))
    ok = report["worst_single_added_mb"] <= 100 and report["after_minus_before_mb"] <= 100
    print(f"targets (≤100 MB per link, ≤100 MB left after {args.settle:.0f} s): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
