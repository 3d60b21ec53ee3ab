"""The app in a memory box: a real `streamlit run` in a new memory cgroup, pages browsed, Train pressed, a model imported.

    MNIST_NPZ=/work/shared/data/mnist.npz nice -n 10 python benchmarks/box_memory.py --limit-mb 690 \
        [--preset book] [--train fast] [--import-model] [--in-process]

Needs root and a writable memory cgroup hierarchy (v1 `/sys/fs/cgroup/memory`, or v2 with the
memory controller). The server (and so its worker processes) runs in the box; Chromium does not.
Reports: the box's peak as the cgroup counts it (v1 `memory.max_usage_in_bytes`, v2
`memory.peak`), the OOM kills in the box, the server's and the worker's peak anonymous memory
and RSS (sampled every 50 ms), whether the server survived, and what the page said about the
training and the import (trained, or not enough memory with the numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server_memory import (  # noqa: E402,E501
    CHROMIUM,
    CHROMIUM_ARGS,
    WARM_LINKS,
    free_port,
    open_links,
    start_server,
    stop_server,
)
from dashboard.jobs.job_guard import anonymous_bytes  # noqa: E402

MB = 2**20


class Box:
    """A new memory cgroup (v1 or v2) with a limit; `peak()`, `oom_kills()`, removed by `close()`."""

    def __init__(self, limit_mb: int) -> None:
        v1 = Path("/sys/fs/cgroup/memory")
        self.v1 = v1.is_dir()
        base = v1 if self.v1 else Path("/sys/fs/cgroup")
        self.path = base / f"convnet-box-{os.getpid()}"
        self.path.mkdir()
        limit = str(limit_mb * MB)
        (self.path / ("memory.limit_in_bytes" if self.v1 else "memory.max")).write_text(limit)

    def enter(self) -> None:
        """Move the calling process into the box (used as the server's `preexec_fn`)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self) -> int:
        name = "memory.max_usage_in_bytes" if self.v1 else "memory.peak"
        return int((self.path / name).read_text())

    def oom_kills(self) -> int:
        if self.v1:
            fields = dict(line.split() for line in (self.path / "memory.oom_control").read_text().splitlines())
            return int(fields.get("oom_kill", 0))
        fields = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
        return int(fields.get("oom_kill", 0))

    def close(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.2)


def say(text: str) -> None:
    """A progress line on stderr."""
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def status_of(pid: int) -> int:
    return anonymous_bytes(f"/proc/{pid}/status")


class Sampler:
    """Peak anonymous memory and RSS of the server and of its worker processes, every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.server = psutil.Process(pid)
        self.peaks = {"server_anon": 0, "server_rss": 0, "worker_anon": 0, "worker_rss": 0}
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self._note("server", self.server.pid, self.server.memory_info().rss)
                for child in self.server.children(recursive=True):
                    try:
                        self._note("worker", child.pid, child.memory_info().rss)
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    def _note(self, who: str, pid: int, rss: int) -> None:
        self.peaks[f"{who}_anon"] = max(self.peaks[f"{who}_anon"], status_of(pid))
        self.peaks[f"{who}_rss"] = max(self.peaks[f"{who}_rss"], rss)

    def take(self) -> dict[str, int]:
        out = {name: round(value / MB) for name, value in self.peaks.items()}
        self.peaks = dict.fromkeys(self.peaks, 0)
        return out


def start(box: Box, port: int, log: Path, in_process: bool) -> subprocess.Popen:
    """The app's server in the box (the worker processes it starts are in the box too)."""
    return start_server(ROOT, port, log, {"JOBS_IN_PROCESS": "1"} if in_process else {}, preexec_fn=box.enter)


def alive(base: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


def press_train(browser, base: str, preset: str, train: str) -> str:
    """Open Train on the preset network and settings, press Train, wait for the panel's verdict."""
    from dashboard.network.spec import PRESETS

    # one dense unit more than the preset: the same cost, but a run no cache holds (the book's `fast` run ships)
    network = PRESETS[preset].to_dict()
    network["dense_units"] = network.get("dense_units", 0) + 1
    spec = json.dumps(network, separators=(",", ":"))
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{base}/Train?" + urllib.parse.urlencode({"spec": spec, "train": train}), timeout=120_000)
    page.wait_for_selector('[data-testid="stApp"]', timeout=120_000)
    page.wait_for_timeout(8000)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("button", name="Train", exact=False).first.click()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        text = page.locator('[data-testid="stApp"]').inner_text(timeout=60_000)
        for marker in ("done: test accuracy", "failed:", "Not enough memory", "out of memory"):
            if marker in text:
                line = next((t for t in text.splitlines() if marker in t), marker)
                return line.strip()[:400]
        time.sleep(2)
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "convnet-box-train.png"))
    return "timeout"


def upload(browser, base: str, path: Path) -> str:
    """Upload a model on Import; what the page said."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{base}/Import", timeout=120_000)
    page.wait_for_selector('[data-testid="stFileUploaderDropzone"]', timeout=120_000)
    with page.expect_file_chooser() as chooser:
        page.locator('[data-testid="stFileUploaderDropzone"] button').first.click()
    chooser.value.set_files(str(path))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        text = page.locator('[data-testid="stApp"]').inner_text(timeout=60_000)
        for marker in ("is ready", "cannot be opened"):
            if marker in text:
                return next((t for t in text.splitlines() if marker in t), marker).strip()[:400]
        time.sleep(2)
    return "timeout"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-mb", type=int, default=690)
    parser.add_argument("--preset", default="book")
    parser.add_argument("--train", default="fast")
    parser.add_argument("--import-model", action="store_true", help="also upload a small Keras model on Import")
    parser.add_argument("--in-process", action="store_true", help="JOBS_IN_PROCESS=1 (training in the server)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    box = Box(args.limit_mb)
    port, log = free_port(), Path(tempfile.mkdtemp(prefix="convnet-box-")) / "streamlit.log"
    server = start(box, port, log, args.in_process)
    base, sampler = f"http://127.0.0.1:{port}", Sampler(server.pid)
    report: dict = {"limit_mb": args.limit_mb, "in_process": args.in_process, "log": str(log)}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            say("browsing every page")
            contexts, states = open_links(browser, base, WARM_LINKS)
            report["browse"] = {"states": sorted(set(states)), **sampler.take(), "box_peak_mb": round(box.peak() / MB)}
            for context in contexts:
                context.close()
            say(f"browsed: {report['browse']}; pressing Train")
            start_train = time.monotonic()
            verdict = press_train(browser, base, args.preset, args.train)
            report["train"] = {"network": args.preset, "preset": args.train, "page_said": verdict,
                               "seconds": round(time.monotonic() - start_train), **sampler.take(),
                               "box_peak_mb": round(box.peak() / MB), "server_alive": alive(base)}
            say(f"training: {report['train']}")
            if args.import_model:
                from tests import keras_models as km

                path = km.save(km.book(), Path(tempfile.mkdtemp()), "box_model", "keras")
                said = upload(browser, base, path)
                report["import"] = {"page_said": said, **sampler.take(), "box_peak_mb": round(box.peak() / MB),
                                    "server_alive": alive(base)}
            browser.close()
        report["oom_kills_in_box"] = box.oom_kills()
        report["server_alive_at_end"] = server.poll() is None and alive(base)
    finally:
        stop_server(server, 30)
        time.sleep(2)
        box.close()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
