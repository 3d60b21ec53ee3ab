"""The server process's housekeeping: numpy's BLAS on one thread, glibc's memory handed back, a frozen heap.

No Streamlit here; `dashboard.ui.session_memory` decides when these run. glibc is tuned from
inside the process (`mallopt`) rather than by launch-time variables (`MALLOC_ARENA_MAX`,
`MALLOC_MMAP_THRESHOLD_`) because the app does not control its launch everywhere it runs
(Streamlit Community Cloud starts `streamlit run` itself); both measure the same.

Numpy's BLAS on one thread: a server shared by many sessions gains nothing from more.

numpy's OpenBLAS starts one worker thread per core and lets them spin while they wait for
work. On a server whose cores are busy with other sessions (or, here, other processes),
the spinning costs far more than the parallel work saves: a PCA of 2,000 last maps
(2000×576) measured 2,400 ms of CPU with two BLAS threads on this 2-core machine under
load, and 70 ms with one. `one_blas_thread` limits every BLAS library loaded in the
process (threadpoolctl), once; TensorFlow's own thread pools are not affected.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from functools import cache


@cache
def one_blas_thread() -> int:
    """Limit the BLAS libraries loaded so far (numpy's OpenBLAS) to one thread; returns how many were limited."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # kept for the life of the process
    return sum(1 for pool in threadpool_info() if pool.get("user_api") == "blas")


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 1 << 20  # blocks from 1 MiB up get pages of their own, returned when freed


def tune_malloc() -> bool:
    """Make glibc hand big blocks back and keep one arena a core; False where there is no glibc.

    By default glibc raises its mmap threshold to the largest block freed so far (up to 32 MiB),
    so NumPy's and TensorFlow's arrays land in per-thread arenas (up to 8 a core) and stay there.
    """
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return mallopt(M_ARENA_MAX, max(2, os.cpu_count() or 1)) == 1 and ok


def _libc_function(name: str):
    """glibc's function `name`, or None where it does not exist."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def malloc_trim():
    """glibc's `malloc_trim`, or None where it does not exist."""
    return _libc_function("malloc_trim")


def freeze_heap() -> int:
    """Collect, then move every object alive now into the collector's permanent generation; how many are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
