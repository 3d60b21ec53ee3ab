"""The same run trains to the same weights anywhere: one core or two, this process or a Dask worker; failures are named."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.network.spec import NetworkSpec
from dashboard.training.reproducible import INTER_OP_THREADS, INTRA_OP_THREADS, RECIPE, check_threads
from dashboard.training.train_settings import TrainSettings

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"blocks": [{"filters": 8, "kernel_size": 3, "pool": True}, {"filters": 8, "kernel_size": 3, "pool": True}],
         "head": "flatten", "dense_units": 16}
SETTINGS = {"epochs": 1, "batch_size": 64, "train_size": 3000, "seed": 3}
# One last filter at a high learning rate: seed 1 kills its only ReLU channel, seed 0 trains (embedded set).
DYING = {"blocks": [{"filters": 4, "kernel_size": 3, "pool": True}, {"filters": 1, "kernel_size": 3, "pool": True}],
         "head": "flatten", "dense_units": 0}


def fingerprint(spec: dict, settings: dict) -> dict:
    """Train on the embedded set; the weights' hash, history and test accuracy (run in any process)."""
    from dashboard.mnist.data import load_mnist
    from dashboard.training.trainer import train

    result = train(NetworkSpec.from_dict(spec), TrainSettings.from_dict(settings), load_mnist("embedded"))
    weights = hashlib.sha256(b"".join(w.numpy().tobytes() for w in result.model.weights)).hexdigest()
    return {"weights": weights, "history": result.history, "test_accuracy": result.test_accuracy}


def in_subprocess(cpus: set[int]) -> dict:
    """`fingerprint` in a fresh Python restricted to `cpus` (as `taskset` would)."""
    code = ("import json, os, sys; os.sched_setaffinity(0, %r); sys.path.insert(0, %r); "
            "from tests.unit.test_reproducible import fingerprint, SMALL, SETTINGS; "
            "print(json.dumps(fingerprint(SMALL, SETTINGS)))" % (cpus, str(ROOT)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_dashboard_pins_tensorflows_pools():
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == str(INTRA_OP_THREADS)
    assert os.environ["TF_NUM_INTEROP_THREADS"] == str(INTER_OP_THREADS)
    assert check_threads() == RECIPE


@pytest.mark.slow  # trains three times
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to compare one against two")
def test_one_core_two_cores_and_a_dask_worker_with_three_threads_train_the_same_weights():
    one = in_subprocess({sorted(os.sched_getaffinity(0))[0]})
    two = in_subprocess(set(sorted(os.sched_getaffinity(0))[:2]))
    assert one == two
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=3, processes=True, dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster) as client:
        on_worker = client.submit(fingerprint, SMALL, SETTINGS).result(timeout=300)
    assert on_worker == one


@pytest.mark.slow  # trains
def test_a_training_that_dies_is_recorded_as_failed_with_its_dead_channel():
    from dashboard.mnist.data import load_mnist
    from dashboard.store.run import trained_record
    from dashboard.training.trainer import train

    data, spec = load_mnist("embedded"), NetworkSpec.from_dict(DYING)
    verdicts = {}
    for seed in (0, 1):
        settings = TrainSettings(epochs=1, batch_size=64, learning_rate=0.05, train_size=2000, seed=seed)
        record = trained_record(f"k{seed}", spec, settings, data, train(spec, settings, data))
        verdicts[seed] = record
    dead = verdicts[1]
    assert not dead.trained and dead.dead_channels == 1 and dead.recipe == RECIPE
    assert dead.test_accuracy < 1.5 * dead.commonest_share
    assert "1 of 1 channel of the last conv layer never fires" in dead.diagnosis
    alive = verdicts[0]
    assert alive.trained and alive.diagnosis is None and alive.dead_channels == 0 and alive.test_accuracy > 0.3
