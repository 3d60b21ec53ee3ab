"""Remake the runs shipped in ``model_cache/shipped/``: trained on the full MNIST set.

    python tools/make_shipped_run.py /path/to/mnist.npz            # the book run
    python tools/make_shipped_run.py /path/to/mnist.npz --grid workshop --grid numbers:3 --max-mb 9

Trains the book network with the book training preset (and, with ``--grid NAME[:SEEDS]``, every
run of those grids with seeds 0 to SEEDS-1, each run once) through ``train_now`` into a work
cache (``--work``; kept, so an interrupted remake resumes where it stopped), then copies each
entry into ``model_cache/shipped/<key>/`` with ``"shipped": true`` in its record. Runs whose
model file is larger than ``--max-mb`` (default 2 MB; the no-pooling network is ~8 MB) are
not shipped. ``--prune`` removes shipped runs that the given grids no longer make (e.g. runs
of an older `fast` preset).
Training is reproducible (`dashboard.training.reproducible`): a remake with the same library versions on
the same CPU instruction set gives the same keys and the same models. Runs are trained seed by
seed (every network's seed 0 first), the largest networks last.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="the full MNIST .npz (keras.datasets.mnist layout)")
    parser.add_argument("--grid", action="append", default=[],
                        help="also ship the runs of this grid (workshop, numbers), NAME:SEEDS for seeds 0..SEEDS-1; repeatable")
    parser.add_argument("--work", default=None, help="work cache directory (default: a new temporary one)")
    parser.add_argument("--max-mb", type=float, default=2.0, help="largest model file to ship (MB)")
    parser.add_argument("--replace", action="store_true", help="replace shipped runs of the same key")
    parser.add_argument("--prune", action="store_true", help="remove shipped runs these grids do not make")
    args = parser.parse_args()

    from dashboard.jobs.train_now import train_now
    from dashboard.mnist.data import load_mnist
    from dashboard.network.spec import BOOK
    from dashboard.store.cache import MODEL_FILE, RECORD_FILE, SHIPPED_ROOT, ModelCache
    from dashboard.training.grids import load_grid
    from dashboard.training.train_settings import TRAIN_PRESETS

    data = load_mnist(args.data)
    if not data.is_full:
        print(f"error: {data.label} is not the full MNIST set", file=sys.stderr)
        return 2
    from dataclasses import replace

    from dashboard.network.summaries import total_params

    runs = [("book · book", BOOK, TRAIN_PRESETS["book"])]
    for grid in args.grid:
        name, _, seeds = grid.partition(":")
        for label, spec, settings in load_grid(name):
            runs += [(f"{label} · seed {seed}", spec, replace(settings, seed=seed)) for seed in range(int(seeds or 1))]
    runs.sort(key=lambda run: (total_params(run[1]) > 1_000_000, run[2].seed))  # big ones last
    work_dir = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="convnet-shipped-"))
    work = ModelCache(work_dir, shipped_root=None, max_mb=10_000)
    SHIPPED_ROOT.mkdir(parents=True, exist_ok=True)
    wanted, seen = set(), set()
    for label, spec, settings in runs:
        key = work.key(spec, settings, data.fingerprint)
        if key in seen:
            continue  # in two grids (the book network with the fast preset)
        seen.add(key)
        target = SHIPPED_ROOT / key
        wanted.add(key)
        if target.exists() and not args.replace:
            print(f"{label}: already shipped as {key}")
            continue
        from dashboard.training.model import build_model

        estimate_mb = build_model(spec).count_params() * 4 / 2**20  # float32 weights
        if estimate_mb > args.max_mb:
            print(f"{label}: ~{estimate_mb:.1f} MB of weights, over {args.max_mb} MB: not shipped")
            wanted.discard(key)
            continue
        print(f"{label}: training ({settings.describe()})…", flush=True)
        record, _ = train_now(spec, settings, data, work)
        source = work.root / key
        size_mb = (source / MODEL_FILE).stat().st_size / 2**20
        if size_mb > args.max_mb:
            print(f"{label}: {size_mb:.1f} MB model, over {args.max_mb} MB: not shipped "
                  f"(test accuracy {record.test_accuracy:.4f})")
            wanted.discard(key)
            continue
        shipped = record.with_shipped(True)
        tmp = SHIPPED_ROOT / f".tmp-{key}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        shutil.copy2(source / MODEL_FILE, tmp / MODEL_FILE)
        (tmp / RECORD_FILE).write_text(shipped.to_json() + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
        print(f"{label}: shipped {key}: test accuracy {record.test_accuracy:.4f}, {size_mb:.2f} MB, "
              f"trained in {record.train_seconds:.0f} s")
    for old in sorted(p for p in SHIPPED_ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if args.prune and old.name not in wanted:
            print(f"pruned {old.name} (not made by these grids)")
            shutil.rmtree(old)
    total = sum(f.stat().st_size for f in SHIPPED_ROOT.rglob("*") if f.is_file()) / 2**20
    print(json.dumps(sorted(p.name for p in SHIPPED_ROOT.iterdir() if not p.name.startswith(".")), indent=1))
    print(f"shipped total: {total:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
