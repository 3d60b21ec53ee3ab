"""How much memory this process may use, and how much a training needs: the app's memory budget.

`read_memory()` follows `/proc/self/cgroup` to the process's own memory cgroup (it may sit in a
nested group) and walks up to the root: the tightest limit on the way is the budget (cgroup v2
`memory.max`, v1 `memory.limit_in_bytes`; "max" or v1's huge number mean no limit there), and
that group's use as the cgroup counts it (`memory.current` / `memory.usage_in_bytes`, page cache
included) is what is in use. Without a limit anywhere it is the machine's memory
(`/proc/meminfo`: MemTotal, and MemTotal - MemAvailable in use). `MEMORY_BUDGET_MB` in the
environment overrides the limit (an operator who knows better, tests).

`training_need(spec, settings, data)` estimates a training's peak in a fresh worker process,
part by part (`Need`): the runtime (Python, Dask's worker, TensorFlow and Keras), the data the
worker holds, the weights with their gradients and optimizer slots, and the activations of one
batch. The constants were measured with `benchmarks/worker_memory.py` (see their comments).

`slot_bytes` splits what the server leaves free into one share per concurrent training, and
`refusal` says, in one plain sentence with the numbers, why a training cannot fit its share and
what to do instead. Pure Python: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.network.spec import INPUT_CHANNELS, INPUT_SIZE, NetworkSpec
from dashboard.network.summaries import summarize

MB = 2**20
NO_LIMIT = 2**60  # cgroup v1 writes 9223372036854771712 (page-rounded 2**63 - 1) for "no limit"
BUDGET_VAR = "MEMORY_BUDGET_MB"

# Measured with benchmarks/worker_memory.py (2 cores, tensorflow-cpu 2.21, Keras 3, Python 3.11,
# the book network with the `fast` preset on full MNIST, two malloc arenas as the pool's workers
# have). Anonymous memory, which is what the worker's guard counts (TensorFlow's libraries add
# ~440 MB of pages read from disk, which the kernel can drop and every process shares):
# Python with `dashboard` and Dask 42 MB; TensorFlow and Keras imported 237 MB; a Dask worker
# process adds its threads and buffers (~15 MB more).
RUNTIME_MB = 255
# The fit on top of the data: 126 MB for the book network at batch 64 (its weights and one
# batch's activations are ~10 MB of it): the compiled training step, tf.data's pipelines and
# TensorFlow's allocator; the test evaluation and the dead-channel count add ~15 MB more (a bare
# process peaked at 432 MB). In a worker of the app's pool (benchmarks/box_memory.py, 1 GB cgroup)
# the same training peaked at 542 MB: Dask's worker, its task and event traffic, and reading the
# data file add ~60 MB, counted here.
FIXED_OVERHEAD_MB = 190
# A Keras model holds its weights, their gradients, the optimizer's slots (RMSprop one, Adam two)
# and the compiled step's copies; saving adds the `.keras` bytes.
WEIGHT_COPIES = 6
# TensorFlow keeps each layer's output of a batch for the backward pass and allocates gradients
# of the same size, with the float32 input and the allocator's slack.
ACTIVATION_COPIES = 4
EVAL_BATCH = 500  # `dashboard.training.trainer.EVAL_BATCH`: validation and test passes, forward only
DATA_COPIES = 1  # the worker's own copy; training gathers its batches from it (`training._gathered`)
# The server itself while a room browses: 244 MB measured (issue 25, every page, full MNIST),
# plus the Dask scheduler and client that hand out the jobs: measured with benchmarks/box_memory.py
# in a 690 MB cgroup, the server's RSS peaked at 393 MB (anonymous 314 MB) while handing out a job.
SERVER_RESERVE_MB = 400


@dataclass(frozen=True)
class Memory:
    """The memory budget of a process: its limit and what is in use, in bytes, and where they come from."""

    limit: int
    used: int
    source: str  # "cgroup v2 /sys/fs/cgroup/…", "cgroup v1 …", "the machine (/proc/meminfo)", "MEMORY_BUDGET_MB"
    limited: bool  # True when a cgroup (or the operator) sets the limit, False for the machine's memory

    def describe(self) -> str:
        """One plain line: '690 MB (memory cgroup limit), 244 MB in use'."""
        what = "memory cgroup limit" if self.limited and self.source.startswith("cgroup") else (
            BUDGET_VAR if self.limited else "this machine's memory")
        return f"{self.limit / MB:,.0f} MB ({what}), {self.used / MB:,.0f} MB in use"


def _read_int(path: Path) -> int | None:
    """A cgroup file's number; None for "max", a missing file or anything unreadable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value >= NO_LIMIT else value


def cgroup_groups(proc_cgroup: str) -> tuple[str | None, str | None]:
    """(v1 memory group path, v2 group path) of a `/proc/<pid>/cgroup` text; None where absent."""
    v1 = v2 = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v1, v2


def _ancestors(base: Path, group: str) -> list[Path]:
    """The group's directory under `base` and each parent up to `base` (the group first).

    In a container with its own cgroup namespace the path may name a group that is not under
    this mount: then the mount's root is the process's group.
    """
    parts = [part for part in group.split("/") if part]
    found = [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]
    return [path for path in found if path.is_dir()] or [base]


def _tightest(groups: list[Path], limit_file: str, usage_file: str) -> tuple[int, int, Path] | None:
    """(limit, use, group) of the group with the smallest limit among `groups`; None if none has one."""
    best = None
    for group in groups:
        limit = _read_int(group / limit_file)
        if limit is not None and (best is None or limit < best[0]):
            best = (limit, _read_int(group / usage_file) or 0, group)
    return best


def machine_memory(meminfo: str) -> tuple[int, int]:
    """(total, in use) in bytes from a `/proc/meminfo` text (in use: MemTotal - MemAvailable)."""
    fields = {}
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        number = rest.split()
        if number and number[0].isdigit():
            fields[name.strip()] = int(number[0]) * 1024  # kB
    total = fields.get("MemTotal", 0)
    return total, max(0, total - fields.get("MemAvailable", fields.get("MemFree", total)))


def read_memory(root: str | os.PathLike = "/sys/fs/cgroup", proc_cgroup: str | os.PathLike = "/proc/self/cgroup",
                meminfo: str | os.PathLike = "/proc/meminfo", environ: dict[str, str] | None = None) -> Memory:
    """This process's memory budget (see the module docstring); never raises."""
    environ = os.environ if environ is None else environ
    root = Path(root)
    try:
        v1, v2 = cgroup_groups(Path(proc_cgroup).read_text(encoding="utf-8"))
    except OSError:
        v1 = v2 = None
    found = None
    if v1 is not None and (root / "memory").is_dir():
        hit = _tightest(_ancestors(root / "memory", v1), "memory.limit_in_bytes", "memory.usage_in_bytes")
        found = None if hit is None else (*hit, "cgroup v1")
    if found is None and v2 is not None:
        hit = _tightest(_ancestors(root, v2), "memory.max", "memory.current")
        found = None if hit is None else (*hit, "cgroup v2")
    try:
        total, in_use = machine_memory(Path(meminfo).read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError):
        total, in_use = 0, 0
    if found is not None and (not total or found[0] < total):
        limit, used, group, version = found
        memory = Memory(limit, used, f"{version} {group}", True)
    else:
        memory = Memory(total, in_use, f"the machine ({meminfo})", False)
    override = environ.get(BUDGET_VAR, "")
    if override.strip().isdigit() and int(override) > 0:
        memory = Memory(int(override) * MB, memory.used, BUDGET_VAR, True)
    return memory


# --- what a training needs ------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """A training's estimated peak in a fresh worker process, part by part, in bytes."""

    runtime: int
    data: int
    weights: int
    activations: int

    @property
    def total(self) -> int:
        """The whole estimate."""
        return self.runtime + self.data + self.weights + self.activations

    def parts_mb(self) -> dict[str, int]:
        """Each part in whole MB (for reports)."""
        return {name: round(getattr(self, name) / MB) for name in ("runtime", "data", "weights", "activations")}


def layer_sizes(spec: NetworkSpec) -> list[int]:
    """Numbers one image is at each step through `spec`: the input, then every layer's output."""
    sizes = [INPUT_SIZE * INPUT_SIZE * INPUT_CHANNELS]
    for row in summarize(spec):
        size = 1
        for dim in row.output_shape[1:]:
            size *= int(dim or 1)
        sizes.append(size)
    return sizes


def activation_floats(spec: NetworkSpec) -> int:
    """Numbers one image produces on its way through `spec`: the input and every layer's output."""
    return sum(layer_sizes(spec))


def largest_layer(spec: NetworkSpec) -> int:
    """Numbers of the largest single step (input or a layer's output) of one image through `spec`."""
    return max(layer_sizes(spec))


def data_bytes(data: Any, train_size: int | None = None) -> int:
    """Bytes of the data a worker holds for one training (`MnistData` or anything with its arrays)."""
    arrays = [data.x_train, data.y_train, data.x_test, data.y_test]
    held = sum(int(array.nbytes) for array in arrays)
    n = len(data.x_train) if train_size is None else min(train_size, len(data.x_train))
    sliced = int(data.x_train[:n].nbytes + data.y_train[:n].nbytes)
    return held + (DATA_COPIES - 1) * sliced


def training_need(spec: NetworkSpec, settings: Any, data: Any) -> Need:
    """The estimated peak of training `spec` with `settings` on `data` in a fresh worker process."""
    params = sum(row.params for row in summarize(spec))
    per_image = activation_floats(spec) * 4
    # a forward-only pass reuses the fit's freed buffers: measured +15 MB for the book network,
    # whose largest output at the evaluation's batch is 43 MB
    evaluation = EVAL_BATCH * largest_layer(spec) * 4
    activations = max(settings.batch_size * per_image * ACTIVATION_COPIES, evaluation)
    return Need(runtime=(RUNTIME_MB + FIXED_OVERHEAD_MB) * MB, data=data_bytes(data, settings.train_size),
                weights=params * 4 * WEIGHT_COPIES, activations=activations)


def import_need(file_bytes: int, data: Any) -> int:
    """The estimated peak of loading and measuring a model file of `file_bytes` on `data` in a fresh worker."""
    return (RUNTIME_MB + FIXED_OVERHEAD_MB) * MB + data_bytes(data) + file_bytes * WEIGHT_COPIES


# --- sharing the budget ---------------------------------------------------------------------


def server_reserve(memory: Memory, own_rss: int = 0) -> int:
    """Bytes kept for the server itself: what it uses now, at least `SERVER_RESERVE_MB`."""
    return max(SERVER_RESERVE_MB * MB, own_rss)


def slot_bytes(memory: Memory, slots: int, own_rss: int = 0) -> int:
    """Bytes each of `slots` concurrent trainings may use: the limit less the server's reserve, shared."""
    return max(0, (memory.limit - server_reserve(memory, own_rss)) // max(1, slots))


ADVICE = ("pick a run that is already trained (the shipped runs on Compare, Feature maps and Inside), "
          "a smaller batch size or a smaller network, run the app on your own computer "
          "(streamlit run streamlit_app.py), or give it a workshop's Dask cluster (docs/deployment.md)")


def refusal(need: Need | int, slot: int, memory: Memory, slots: int = 1, what: str = "training this network") -> str | None:
    """Why a job needing `need` (bytes, or a `Need`) cannot run in a share of `slot` bytes (one sentence), or None."""
    total = need.total if isinstance(need, Need) else int(need)
    if total <= slot:
        return None
    shared = f", shared by {slots} jobs at once" if slots > 1 else ""
    work = "this training" if what.startswith("training") else "this"
    return (f"Not enough memory for {work}: this server has {memory.limit / MB:,.0f} MB, about "
            f"{slot / MB:,.0f} MB of it for a job{shared}, and {what} needs about "
            f"{total / MB:,.0f} MB. Instead: {ADVICE}.")


def out_of_memory(need_bytes: int, memory: Memory, slot: int, what: str = "training this network") -> str:
    """The reason of a job whose worker was ended for memory (one sentence with the numbers)."""
    work = "training" if what.startswith("training") else "measurement"
    return (f"the {work} ran out of memory: this server has {memory.limit / MB:,.0f} MB ({slot / MB:,.0f} MB "
            f"for a job), {what} needs about {need_bytes / MB:,.0f} MB; nothing was stored. Instead: {ADVICE}")
