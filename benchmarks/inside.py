"""Benchmark: each computation of the Inside-the-3×3 page, first time and cached, for the book run.

Target (issue 5): every chart appears in under 2 s after the first time. Each step calls the
page's own `st.cache_*` wrappers (dashboard.ui.inside_cache) twice and times both calls, then times
building and serialising the figure; finally the whole page runs twice under AppTest.
With `--rss`, a real `streamlit run` server opens the page in headless Chromium and the
server's memory (RSS) is read before and after: what a deployment needs.

The run: `--run KEY`, else the shipped book run, else a book run already in the cache for the
data in use, else the book network trained with the "fast" preset into a temporary cache.

    MNIST_NPZ=/work/shared/data/mnist.npz python benchmarks/inside_cache.py [--rss] [--no-tsne] [--stored]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MNIST_DOWNLOAD", "0")
RESULTS = ROOT / "benchmarks" / "results" / "inside_cache.json"
TARGET_SECONDS = 2.0


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def find_or_train_book() -> str:
    """Key of the book run to measure (see the module docstring)."""
    from dashboard.jobs.train_now import train_now
    from dashboard.mnist.data import load_mnist
    from dashboard.network.spec import BOOK
    from dashboard.store.cache import ModelCache
    from dashboard.training.train_settings import TRAIN_PRESETS

    cache = ModelCache()
    data = load_mnist("auto")
    from dashboard.store.run import find_run, shipped_book

    runs = cache.runs()
    found = shipped_book(runs) or find_run(runs, spec=BOOK, data_fingerprint=data.fingerprint)
    if found is not None:
        return found.key
    if "MODEL_CACHE_DIR" not in os.environ:  # never write into the repo's model_cache/ from here
        os.environ["MODEL_CACHE_DIR"] = tempfile.mkdtemp(prefix="inside-bench-")
        cache = ModelCache()
    print(f"no book run in the cache: training one on {data.label} (fast preset)…", flush=True)
    record, _ = train_now(BOOK, TRAIN_PRESETS["fast"], data, cache)
    return record.key


def bench_steps(key: str, tsne: bool) -> list[dict]:
    """First and cached time of each of the page's computations, and its figure's build time."""
    import numpy as np

    from dashboard.charts import inside as charts
    from dashboard.mnist.digits import from_mnist
    from dashboard.ui import cached, inside_cache
    from dashboard.ui.run_picker import model_cache, run_model

    record = model_cache().get(key)
    data = cached.mnist()
    fp = data.fingerprint
    image = from_mnist(data.x_test[0])
    rows: list[dict] = []

    def step(name: str, compute: Callable[[], object], figure: Callable[[object], object] | None = None) -> object:
        first, value = timed(compute)
        again, value = timed(compute)
        build = 0.0
        if figure is not None:
            build, fig = timed(lambda: figure(value).to_json())  # st.plotly_chart serialises it
        rows.append({"step": name, "first_s": first, "cached_s": again, "figure_s": build})
        print(f"{name:<28} first {first:7.2f} s   cached {again * 1000:7.1f} ms   figure {build * 1000:6.1f} ms", flush=True)
        return value

    step("the run's model", lambda: run_model(key))
    step("final map of 2,000 images", lambda: inside_cache.features(key, inside_cache.N_IMAGES, fp))
    step(
        "PCA projection",
        lambda: inside_cache.projection(key, "pca", fp),
        lambda p: charts.projection_chart(p["coords"], p["labels"], p["indices"], p["predicted"], "PCA", p["explained"]),
    )
    if tsne:
        step(
            "t-SNE projection",
            lambda: inside_cache.projection(key, "tsne", fp),
            lambda p: charts.projection_chart(p["coords"], p["labels"], p["indices"], p["predicted"], "t-SNE"),
        )
    ablation = step(
        "ablations (positions+channels)",
        lambda: inside_cache.ablation(key, fp),
        lambda a: charts.position_chart(a.zero_one, a.baseline, "zeroed"),
    )
    step("channel chart", lambda: ablation, lambda a: charts.channel_chart(a.channel_accuracy, a.channel_order, a.baseline))
    step(
        "Grad-CAM of one digit",
        lambda: inside_cache.grad_cam(key, run_model(key).cache_id, np.asarray(image, np.float32), None),
        lambda c: charts.gradcam_chart(image, c.heatmap, c.coarse, "Grad-CAM"),
    )
    step("summary CSV", lambda: inside_cache._summary_text(record))
    return rows


def bench_page(key: str) -> dict:
    """The whole page under AppTest: first run (in this warmed process) and a rerun."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.switch_page("pages/5_Inside_the_3x3.py")
    at.query_params["run"] = key
    first, _ = timed(at.run)
    assert not at.exception, at.exception
    rerun, _ = timed(at.run)
    print(f"{'whole page (AppTest)':<28} first {first:7.2f} s   rerun  {rerun * 1000:7.1f} ms", flush=True)
    return {"page_first_s": first, "page_rerun_s": rerun}


def bench_rss(key: str) -> dict:
    """RSS of a `streamlit run` server: idle, after the home page, after the Inside page of `key`."""
    import socket
    import subprocess
    import urllib.request

    import psutil
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def rss_mb() -> float:
        proc = psutil.Process(server.pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20

    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        idle = rss_mb()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--no-first-run"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text("ConvNet Explorer").first.wait_for(timeout=120_000)
            time.sleep(2)
            home = rss_mb()
            start = time.perf_counter()
            page.goto(f"{url}/Inside_the_3x3?run={key}", wait_until="domcontentloaded")
            page.get_by_text("Grad-CAM for digit").first.wait_for(timeout=600_000)
            page.get_by_text("History (.csv)").first.wait_for(timeout=60_000)
            shown = time.perf_counter() - start
            time.sleep(2)
            inside_mb = rss_mb()
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"server RSS: idle {idle:.0f} MB, home {home:.0f} MB, Inside page with the book run {inside_mb:.0f} MB "
          f"(page shown in {shown:.1f} s)", flush=True)
    return {"rss_idle_mb": idle, "rss_home_mb": home, "rss_inside_mb": inside_mb, "browser_first_show_s": shown}


def ignore_stored_results() -> None:
    """Measure the computations: results kept beside runs are neither read nor written."""
    from dashboard.store.cache import ModelCache

    ModelCache.read_result = lambda self, key, name: None  # type: ignore[method-assign]
    ModelCache.write_result = lambda self, key, name, data, shipped=False: False  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run key to measure (default: the book run, see above)")
    parser.add_argument("--no-tsne", action="store_true", help="skip the t-SNE projection")
    parser.add_argument("--rss", action="store_true", help="also measure a real server's memory in Chromium")
    parser.add_argument("--stored", action="store_true",
                        help="read results kept beside the run (dashboard.store.stored) instead of computing them")
    args = parser.parse_args()
    if not args.stored:
        ignore_stored_results()

    key = args.run or find_or_train_book()
    from dashboard.mnist.data import load_mnist

    print(f"run {key} · data: {load_mnist('auto').label}", flush=True)
    rows = bench_steps(key, tsne=not args.no_tsne)
    tensorflow = "tensorflow" in sys.modules
    print(f"TensorFlow imported by the page's computations: {'yes' if tensorflow else 'no'}", flush=True)
    result: dict = {"run": key, "steps": rows, "tensorflow_imported": tensorflow, **bench_page(key)}
    if args.rss:
        result.update(bench_rss(key))
    slow = [r["step"] for r in rows if r["cached_s"] + r["figure_s"] > TARGET_SECONDS]
    print("every chart under 2 s after the first time" if not slow else f"SLOWER THAN 2 s CACHED: {slow}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
