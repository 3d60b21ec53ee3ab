"""TensorFlow's thread pools pinned to constants, so the same run trains to the same weights anywhere.

A training's floating-point sums are split across TensorFlow's intra-op thread pool, and the
split follows the pool's size, which TensorFlow takes from the machine's core count unless told
otherwise. The same seed then gives different weights on one core and on two (measured: book
network, `fast` preset, embedded set, seed 3: 97.45% with one core, 97.35% with two). With the
pool sizes fixed here, one core and two give identical weights and history, in the app's
process or a Dask worker of any thread count; on two cores it costs no time (the default pool
is already two threads there).

Keras draws its default initializer seeds from Python's process-wide `random`, which other threads
use too (a Dask worker's own threads drew from it between seeding and building: the same run gave
32.75% and 37.35% in two fresh workers). So training draws nothing from global random state: every
seed comes from the run's own (`SEEDING`, see `dashboard.training.trainer`).

What is promised: the same key trained with the same library versions on the same CPU
instruction set gives the same numbers. Not promised: other TensorFlow or Keras versions, or
another instruction set (AVX-512 against AVX2, ARM against x86), which round differently.

TensorFlow reads `TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS` when its runtime starts,
so `pin_threads()` runs when the `dashboard` package is imported, before any of its modules can
start TensorFlow. Pure: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import os
import sys

INTRA_OP_THREADS = 2  # one training's arithmetic split in two, whatever the core count
INTER_OP_THREADS = 1  # independent ops one after another
SEEDING = 1  # every random draw from the run's seed alone (`training`); bump if that scheme changes
RECIPE = {"intra_op_threads": INTRA_OP_THREADS, "inter_op_threads": INTER_OP_THREADS, "seeding": SEEDING}
_ENV = {"TF_NUM_INTRAOP_THREADS": str(INTRA_OP_THREADS), "TF_NUM_INTEROP_THREADS": str(INTER_OP_THREADS)}


class NotReproducible(RuntimeError):
    """TensorFlow was started with other thread pools: a training here would not match its key."""


_started_unpinned = False  # TensorFlow's runtime started before the pools were pinned


def pin_threads() -> None:
    """Set TensorFlow's pool sizes for this process (environment, and TensorFlow's config if imported)."""
    global _started_unpinned
    already = all(os.environ.get(name) == value for name, value in _ENV.items())
    os.environ.update(_ENV)
    tf = sys.modules.get("tensorflow")
    if tf is None or not hasattr(tf, "config"):
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(INTRA_OP_THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(INTER_OP_THREADS)
    except RuntimeError:  # the runtime has started: with our pools only if the environment had them
        _started_unpinned = _started_unpinned or not already


def check_threads() -> dict[str, int]:
    """The recipe in force (recorded with each run); raise `NotReproducible` if TensorFlow runs with others."""
    import tensorflow as tf

    pin_threads()
    configured = (tf.config.threading.get_intra_op_parallelism_threads(),
                  tf.config.threading.get_inter_op_parallelism_threads())
    # 0 means "from the environment", which pin_threads set before TensorFlow could read it.
    env_ok = all(os.environ.get(name) == value for name, value in _ENV.items())
    if configured not in ((INTRA_OP_THREADS, INTER_OP_THREADS), (0, 0)) or not env_ok or _started_unpinned:
        raise NotReproducible(
            f"TensorFlow runs with {configured[0]} intra-op and {configured[1]} inter-op threads, not "
            f"{INTRA_OP_THREADS} and {INTER_OP_THREADS}: a training here would not give its key's numbers; "
            "restart the process without setting TensorFlow's thread pools"
        )
    return dict(RECIPE)
