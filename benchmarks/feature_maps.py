"""Benchmark: from a new drawing to updated panels on the Feature maps page, server side.

For the book network, times what a rerun does after the canvas sends a new drawing:
  1. preprocess the canvas's RGBA pixels into the 28×28 input (`digits.from_canvas`),
  2. one forward pass returning every activation and the probabilities (`RunModel.read`: numpy,
     `dashboard.inspection.numpy_run`),
  3. every figure the page draws for the run (`charts.maps.reading_figures` and the 28×28
     preview), and their JSON as `st.plotly_chart` makes it (`plotly.io.to_json`).
Target: at most 150 ms median for the whole. The run's model is built once (`open_run`, as the
page's `st.cache_resource` does) and is not part of the timing; its one-off cost is printed too.

Each repeat uses a new drawing: a different MNIST test digit, enlarged to the 280×280 canvas.

    python benchmarks/feature_maps.py [--repeats 100] [--run KEY] [--json]

The network is the shipped book run when present (else `--run KEY` from the cache, else an
untrained book network: the timing does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import plotly.io as pio  # noqa: E402

from dashboard.charts import maps as charts  # noqa: E402
from dashboard.mnist import digits  # noqa: E402
from dashboard.mnist.data import load_mnist  # noqa: E402
from dashboard.network.spec import BOOK  # noqa: E402
from dashboard.store.cache import ModelCache  # noqa: E402

TARGET_MS = 150.0


def load_book(run_key: str | None) -> tuple[object, str]:
    """(the run's model, `dashboard.inspection.run_model.RunModel`, and its description) of the network to time."""
    from dashboard.inspection.numpy_run import NumpyRun
    from dashboard.inspection.run_factory import open_run

    cache = ModelCache()
    if run_key is None:
        from dashboard.store.run import shipped_book

        shipped = shipped_book(cache.runs())
        run_key = shipped.key if shipped else None
    if run_key is not None:
        record = cache.get(run_key)
        if record is None:
            raise SystemExit(f"run {run_key!r} is not in the cache")
        from dashboard.views.labels import run_title

        return open_run(record, cache), f"run {run_key} ({run_title(record)})"
    from dashboard.inspection.forward import Network
    from dashboard.network.spec import geometry
    from dashboard.training.model import build_model

    model = build_model(BOOK)
    weights = {layer.name: tuple(np.asarray(w) for w in layer.get_weights()) for layer in model.layers if layer.weights}
    layers = geometry(BOOK)
    return NumpyRun("untrained-book", "untrained-book", [g.kind for g in layers], layers, Network(BOOK, weights)), \
        "untrained book network (no shipped run found)"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of `values`."""
    return float(np.percentile(np.asarray(values), q))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print median/p90; exit 1 if the median misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100, help="timed drawings (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed drawings first (default 5)")
    parser.add_argument("--run", help="a cached run's key instead of the shipped book run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    from dashboard.ui.map_panels import STRONGEST

    started = time.perf_counter()
    run, description = load_book(args.run)  # what st.cache_resource keeps: built once per run
    loaded = prepared = time.perf_counter()

    data = load_mnist("embedded")
    count = args.warmup + args.repeats
    canvases = [digits.to_canvas_rgba(data.x_test[i % len(data.x_test)]) for i in range(count)]
    last = run.last_conv
    side = last.size or 1

    phases: dict[str, list[float]] = {"preprocess": [], "forward": [], "figures": [], "json": [], "total": []}
    for i, rgba in enumerate(canvases):
        position = (i % side, (i // side) % side)  # the position changes too
        t0 = time.perf_counter()
        image = digits.from_canvas(rgba)
        t1 = time.perf_counter()
        reading = run.read(image)
        t2 = time.perf_counter()
        figures = charts.reading_figures(reading, run.kernels(), last, position, wide=True, strongest=STRONGEST)
        figures["seen"] = charts.digit_chart(image, title="What the network sees: your drawing", height=300)
        t3 = time.perf_counter()
        specs = [pio.to_json(fig, validate=False) for fig in figures.values()]
        t4 = time.perf_counter()
        if i >= args.warmup:
            for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                phases[name].append(seconds * 1000)

    summary = {
        name: {"median_ms": round(statistics.median(v), 2), "p90_ms": round(percentile(v, 90), 2)}
        for name, v in phases.items()
    }
    median = summary["total"]["median_ms"]
    result = {
        "network": " → ".join(g.name for g in run.map_layers),
        "model": description,
        "repeats": args.repeats,
        "figures_per_drawing": len(specs),
        "json_kb_per_drawing": round(sum(len(s) for s in specs) / 1024, 1),
        "load_weights_ms": round((loaded - started) * 1000, 1),
        "prepare_ms": round((prepared - loaded) * 1000, 1),
        "phases": summary,
        "target_median_ms": TARGET_MS,
        "ok": median <= TARGET_MS,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"Feature maps, new drawing → updated panels ({result['network']})")
        print(f"model: {description}")
        print(f"one-off: the run's model built {result['load_weights_ms']} ms (weights read, h5py's import included)")
        print(f"{args.repeats} drawings, {len(specs)} figures each ({result['json_kb_per_drawing']} KB of JSON)")
        for name, stats in summary.items():
            print(f"  {name:<10} median {stats['median_ms']:7.1f} ms   p90 {stats['p90_ms']:7.1f} ms")
        verdict = "OK" if result["ok"] else "TOO SLOW"
        print(f"total median {median:.1f} ms (target ≤ {TARGET_MS:.0f} ms): {verdict}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
