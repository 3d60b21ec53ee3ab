"""Benchmark: how long the Architecture page takes to rerun after a widget change.

Target (issue 2): median at most 150 ms for the book network, measured with AppTest after the
first run. Two cases: toggling between networks already seen (their summaries and figures
cached) and changing to networks never seen before (summaries computed from the spec, no Keras).

    python benchmarks/architecture_rerun.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MNIST_DOWNLOAD", "0")

from streamlit.testing.v1 import AppTest  # noqa: E402

ENTRY = str(ROOT / "streamlit_app.py")  # pages run through the entrypoint, as in a browser (their menu links need it)
PAGE = "pages/1_Architecture.py"


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    assert not at.exception, at.exception
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.switch_page(PAGE)
    first = timed_run(at)

    seen = []  # filters of block 1 toggling 32 <-> 16: both summaries cached after one pass
    for i in range(args.repeats):
        at.select_slider(key="arch_b0_filters").set_value(16 if i % 2 == 0 else 32)
        seen.append(timed_run(at))

    unseen = []  # a new dense width every time: a network the page has not seen
    widths = [w for w in range(8, 513, 4) if w != 64][: args.repeats]
    for width in widths:
        at.session_state["arch_dense_units"] = width  # a value outside the slider's stops is still valid
        unseen.append(timed_run(at))

    def fmt(values: list[float]) -> str:
        ms = sorted(v * 1000 for v in values)
        return f"median {statistics.median(ms):6.1f} ms   p90 {ms[int(len(ms) * 0.9) - 1]:6.1f} ms   (n={len(ms)})"

    print(f"first run (loads MNIST; no TensorFlow): {first * 1000:.0f} ms")
    print(f"rerun, widget change to a network seen before: {fmt(seen)}")
    print(f"rerun, widget change to a new network:         {fmt(unseen)}")


if __name__ == "__main__":
    main()
