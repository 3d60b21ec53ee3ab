"""Job overhead and server memory: one training run directly, as a job in-process, and on a LocalCluster.

    MNIST_NPZ=/work/shared/data/mnist.npz python benchmarks/jobs_overhead.py [--modes direct,local,cluster,tls]

Each mode runs in a fresh subprocess (clean memory): a warm-up training (tiny network, 600
images: TensorFlow imported, data in place, the cluster's worker started), then the measured
one: the book network, `fast` preset, full MNIST, into a throw-away cache.
- `direct`: `training.train` called in this process (today's path, no job);
- `local`: a job on the default in-process Dask cluster (`JobManager` as the app uses it);
- `cluster`: a job on a `LocalCluster` of one worker process (1 thread), as a workshop cluster;
- `tls`: the same with TLS and mutual authentication (certificates from `cluster certs`), the
  cost of encryption on a job (`--tls` adds it to the modes).
Reported: submit → first batch (s), total (s, until the record is stored), the training's own
`train_seconds`, and peak resident memory of the server process (sampled every 20 ms) and of
its child processes (the cluster's workers). The target: a job at most 10% slower than direct.
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
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402


class Peaks:
    """Peak RSS (MB) of this process and of the sum of its children, sampled every 20 ms."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.server = self.children = 0.0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.server = max(self.server, self.me.memory_info().rss / 2**20)
            total = 0.0
            for child in self.me.children(recursive=True):
                try:
                    total += child.memory_info().rss / 2**20
                except psutil.Error:
                    pass
            self.children = max(self.children, total)
            time.sleep(0.02)


def run_mode(mode: str) -> dict:
    from dashboard.mnist.data import load_mnist
    from dashboard.network.spec import BOOK, PRESETS
    from dashboard.store.cache import ModelCache
    from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings
    from dashboard.training.trainer import train

    peaks = Peaks()
    data = load_mnist("auto")
    fast = TRAIN_PRESETS["fast"]
    warm = TrainSettings(epochs=1, train_size=600, batch_size=64)
    if mode == "direct":
        train(PRESETS["tiny"], warm, data)
        first: list[float] = []
        start = time.perf_counter()
        result = train(BOOK, fast, data, on_batch=lambda p: first or first.append(time.perf_counter() - start))
        total = time.perf_counter() - start
        return {"mode": mode, "first_batch_s": first[0], "total_s": total, "train_seconds": result.train_seconds,
                "test_accuracy": result.test_accuracy, "server_peak_mb": peaks.server, "workers_peak_mb": peaks.children}

    from dashboard.jobs.job_cluster import process_cluster_client
    from dashboard.jobs.job_manager import JobManager

    client = None
    if mode == "cluster":
        client = process_cluster_client(1)
    elif mode == "tls":
        from dashboard.jobs.cluster_certs import make_certificates
        from dashboard.jobs.job_cluster import local_security

        certs = make_certificates(Path(tempfile.mkdtemp(prefix="convnet-bench-certs-")) / "certs")
        client = process_cluster_client(1, security=local_security(certs.directory))
    manager = JobManager(ModelCache(root=tempfile.mkdtemp(prefix="convnet-bench-jobs-"), shipped_root=None),
                         client=client)
    manager.wait(manager.submit(PRESETS["tiny"], warm, data).id)
    start = time.perf_counter()
    status = manager.submit(BOOK, fast, data)
    first = None
    while True:
        now = manager.status(status.id)
        if first is None and now.batches > 0:
            first = time.perf_counter() - start
        if not now.active:
            break
        time.sleep(0.01)
    total = time.perf_counter() - start
    assert now.state == "done" and now.stored, now.describe()
    out = {"mode": mode, "first_batch_s": first, "total_s": total, "train_seconds": now.record.train_seconds,
           "queued_seconds": now.record.queued_seconds, "test_accuracy": now.record.test_accuracy,
           "trained_on": now.record.trained_on, "server_peak_mb": peaks.server, "workers_peak_mb": peaks.children}
    manager.close()
    if client is not None:
        cluster = client.cluster
        client.close()
        cluster.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", default="direct,local,cluster")
    parser.add_argument("--tls", action="store_true", help="add the `tls` mode: the cluster with TLS")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a subprocess running one mode
    args = parser.parse_args()
    if args.tls and "tls" not in args.modes.split(","):
        args.modes += ",tls"
    if args.one:
        print(json.dumps(run_mode(args.one)))
        return
    if not os.environ.get("MNIST_NPZ"):
        print("note: MNIST_NPZ is not set; the figures may be for the embedded subset", file=sys.stderr)
    results = []
    for mode in args.modes.split(","):
        done = subprocess.run([sys.executable, __file__, "--one", mode], capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            print(f"{mode}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(lines[-1]))
        r = results[-1]
        print(f"{mode:8s} first batch {r['first_batch_s']:.2f} s · total {r['total_s']:.1f} s · "
              f"fit {r['train_seconds']:.1f} s · test {r['test_accuracy']:.4f} · server peak "
              f"{r['server_peak_mb']:.0f} MB · worker processes peak {r['workers_peak_mb']:.0f} MB", flush=True)
    direct = next((r for r in results if r["mode"] == "direct"), None)
    if direct:
        for r in results:
            if r["mode"] != "direct":
                print(f"{r['mode']}: total {r['total_s'] / direct['total_s'] - 1:+.1%} vs direct (target ≤ +10%)")


if __name__ == "__main__":
    main()
