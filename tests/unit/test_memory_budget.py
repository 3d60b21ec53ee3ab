"""The memory budget (dashboard.jobs.memory_budget): cgroup v1 and v2 read from fake trees, estimates, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dashboard.jobs import memory_budget as mb
from dashboard.mnist.data import MnistData
from dashboard.network.spec import PRESETS
from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings

MEMINFO = "MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"
MB = 2**20


def tree(tmp_path: Path, proc: str, files: dict[str, str]) -> dict:
    """A fake /sys/fs/cgroup with `files` (relative paths), /proc/self/cgroup and /proc/meminfo."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "proc_cgroup").write_text(proc)
    (tmp_path / "meminfo").write_text(MEMINFO)
    return {"root": root, "proc_cgroup": tmp_path / "proc_cgroup", "meminfo": tmp_path / "meminfo", "environ": {}}


def test_v2_reads_the_processs_own_nested_group_limit_and_use(tmp_path):
    paths = tree(tmp_path, "0::/app.slice/streamlit.service\n", {
        "memory.max": "max\n",  # the root: no limit
        "app.slice/memory.max": "max\n", "app.slice/memory.current": "999999999\n",
        "app.slice/streamlit.service/memory.max": str(690 * MB), "app.slice/streamlit.service/memory.current": str(244 * MB),
    })
    memory = mb.read_memory(**paths)
    assert (memory.limit, memory.used, memory.limited) == (690 * MB, 244 * MB, True)
    assert memory.source.startswith("cgroup v2") and memory.source.endswith("streamlit.service")
    assert memory.describe() == "690 MB (memory cgroup limit), 244 MB in use"


def test_v2_a_parents_tighter_limit_wins_and_max_everywhere_means_the_machine(tmp_path):
    paths = tree(tmp_path, "0::/box/app\n", {
        "box/memory.max": str(512 * MB), "box/memory.current": str(300 * MB),
        "box/app/memory.max": "max", "box/app/memory.current": str(200 * MB),
    })
    memory = mb.read_memory(**paths)
    assert (memory.limit, memory.used) == (512 * MB, 300 * MB)  # the parent's limit and the parent's use
    unlimited = tree(tmp_path / "u", "0::/box\n", {"box/memory.max": "max\n", "box/memory.current": "1"})
    machine = mb.read_memory(**unlimited)
    assert not machine.limited and machine.limit == 24000000 * 1024
    assert machine.used == (24000000 - 20000000) * 1024 and "this machine's memory" in machine.describe()


def test_v1_reads_limit_in_bytes_of_the_memory_hierarchys_group_and_its_huge_no_limit(tmp_path):
    proc = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n"
    paths = tree(tmp_path, proc, {
        "memory/memory.limit_in_bytes": "9223372036854771712\n",
        "memory/process_api/abc/memory.limit_in_bytes": str(1024 * MB),
        "memory/process_api/abc/memory.usage_in_bytes": str(100 * MB),
    })
    memory = mb.read_memory(**paths)
    assert (memory.limit, memory.used) == (1024 * MB, 100 * MB) and memory.source.startswith("cgroup v1")
    huge = tree(tmp_path / "h", proc, {"memory/process_api/abc/memory.limit_in_bytes": "9223372036854771712\n",
                                        "memory/process_api/abc/memory.usage_in_bytes": "5"})
    assert not mb.read_memory(**huge).limited


def test_a_group_outside_the_mount_is_the_mounts_root_and_the_override_wins(tmp_path):
    # a container with its own cgroup namespace shows "/" or a path its mount does not have
    paths = tree(tmp_path, "0::/not/here\n", {"memory.max": str(700 * MB), "memory.current": str(10 * MB)})
    assert mb.read_memory(**paths).limit == 700 * MB
    assert mb.read_memory(**{**paths, "environ": {mb.BUDGET_VAR: "900"}}).limit == 900 * MB
    assert mb.read_memory(**{**paths, "environ": {mb.BUDGET_VAR: "lots"}}).limit == 700 * MB
    assert mb.read_memory(root=tmp_path / "none", proc_cgroup=tmp_path / "none", meminfo=tmp_path / "none",
                          environ={}).limit == 0  # nothing readable: no crash


def test_this_machines_own_budget_is_read():
    memory = mb.read_memory()
    assert memory.limit > 0 and 0 <= memory.used


def data(n_train: int = 60_000, n_test: int = 10_000) -> MnistData:
    return MnistData(np.zeros((n_train, 28, 28), np.uint8), np.zeros(n_train, np.uint8),
                     np.zeros((n_test, 28, 28), np.uint8), np.zeros(n_test, np.uint8), "file", "fake")


def test_the_estimate_grows_with_the_batch_the_network_and_the_data():
    fast = TRAIN_PRESETS["fast"]
    book = mb.training_need(PRESETS["book"], fast, data())
    assert book.runtime == (mb.RUNTIME_MB + mb.FIXED_OVERHEAD_MB) * MB
    assert 50 * MB < book.data < 150 * MB  # 55 MB of full MNIST, plus the training slice once more
    big_batch = mb.training_need(PRESETS["book"], TrainSettings.from_dict({**fast.to_dict(), "batch_size": 4096}), data())
    assert big_batch.activations > 8 * book.activations
    assert mb.training_need(PRESETS["no_pooling"], fast, data()).weights > 20 * book.weights
    assert mb.training_need(PRESETS["book"], fast, data(12_000, 2_000)).data < book.data / 4


def test_a_training_that_does_not_fit_its_share_is_refused_with_the_numbers_and_what_to_do():
    memory = mb.Memory(690 * MB, 200 * MB, "cgroup v2 /x", True)
    slot = mb.slot_bytes(memory, slots=1)
    assert slot == 690 * MB - mb.SERVER_RESERVE_MB * MB == 290 * MB
    assert mb.slot_bytes(memory, slots=2) == slot // 2  # two trainings at once: two estimates
    assert mb.slot_bytes(memory, slots=1, own_rss=600 * MB) == 90 * MB  # a server already using more
    need = mb.Need(runtime=400 * MB, data=60 * MB, weights=10 * MB, activations=50 * MB)
    reason = mb.refusal(need, slot, memory)
    assert reason.startswith("Not enough memory for this training: this server has 690 MB")
    assert "needs about 520 MB" in reason and "shipped runs" in reason and "smaller batch" in reason
    assert mb.refusal(need, 600 * MB, memory) is None
    assert mb.refusal(need.total, 100 * MB, memory, what="measuring this model").startswith("Not enough memory for this:")
    assert "training ran out of memory: this server has 690 MB" in mb.out_of_memory(need.total, memory, slot)
    assert mb.out_of_memory(need.total, memory, slot, "measuring this model").startswith("the measurement ran out")
