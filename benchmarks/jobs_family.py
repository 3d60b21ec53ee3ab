"""Wall time of the built-in family (book network, last conv at 1…64 filters, fast preset) as jobs.

    MNIST_NPZ=/work/shared/data/mnist.npz python benchmarks/jobs_family.py [--modes local,cluster2] [--members 7]

- `local`: the default, an in-process Dask cluster training one run at a time;
- `cluster2`: a `LocalCluster` of two single-threaded worker processes (what two workshop
  machines would give; on this 2-core machine they share the same cores, so the point is that
  it works, and the per-run figures).
Each mode runs in a fresh subprocess with a throw-away cache (shipped runs ignored), submits
every member at once and waits for all. Reported: wall time, sum of the runs' own training
times, where each trained, and test accuracy per member.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run_mode(mode: str, members: int) -> dict:
    from dashboard.jobs.job_cluster import process_cluster_client
    from dashboard.jobs.job_manager import JobManager
    from dashboard.mnist.data import load_mnist
    from dashboard.store.cache import ModelCache
    from dashboard.training.families import builtin_family

    data = load_mnist("auto")
    client = None
    if mode == "cluster2":
        client = process_cluster_client(2)
    cache = ModelCache(root=tempfile.mkdtemp(prefix="convnet-bench-family-"), shipped_root=None)
    manager = JobManager(cache, client=client, max_per_session=100, max_queued=100)
    start = time.perf_counter()
    ids = [manager.submit(m.spec, m.settings, data, label=str(m.value)).id for m in builtin_family()[:members]]
    finished = [manager.wait(job_id) for job_id in ids]
    wall = time.perf_counter() - start
    runs = [{"filters": int(s.label), "state": s.state, "test_accuracy": s.record.test_accuracy if s.record else None,
             "train_seconds": s.record.train_seconds if s.record else None,
             "trained_on": s.record.trained_on if s.record else s.message} for s in finished]
    manager.close()
    if client is not None:
        cluster = client.cluster
        client.close()
        cluster.close()
    return {"mode": mode, "wall_s": wall, "fit_sum_s": sum(r["train_seconds"] or 0 for r in runs), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", default="local,cluster2")
    parser.add_argument("--members", type=int, default=7)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_mode(args.one, args.members)))
        return
    for mode in args.modes.split(","):
        done = subprocess.run([sys.executable, __file__, "--one", mode, "--members", str(args.members)],
                              capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            print(f"{mode}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        r = json.loads(lines[-1])
        workers = sorted({run["trained_on"].split(" ")[0] for run in r["runs"]})
        print(f"{mode:9s} wall {r['wall_s']:.1f} s · sum of fits {r['fit_sum_s']:.1f} s · "
              f"{len(workers)} place(s): {', '.join(workers)}")
        for run in r["runs"]:
            acc = "-" if run["test_accuracy"] is None else f"{run['test_accuracy']:.4f}"
            fit = "-" if run["train_seconds"] is None else f"{run['train_seconds']:.1f}"
            print(f"    {run['filters']:>2} filters: {run['state']:9s} test {acc} fit {fit} s")


if __name__ == "__main__":
    main()
