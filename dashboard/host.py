"""Numpy's BLAS on one thread: a server shared by many sessions gains nothing from more.

numpy's OpenBLAS starts one worker thread per core and lets them spin while they wait for
work. On a server whose cores are busy with other sessions (or, here, other processes),
the spinning costs far more than the parallel work saves: a PCA of 2,000 last maps
(2000×576) measured 2,400 ms of CPU with two BLAS threads on this 2-core machine under
load, and 70 ms with one. `one_blas_thread` limits every BLAS library loaded in the
process (threadpoolctl), once; TensorFlow's own thread pools are not affected.
"""

from __future__ import annotations

from functools import cache


@cache
def one_blas_thread() -> int:
    """Limit the BLAS libraries loaded so far (numpy's OpenBLAS) to one thread; returns how many were limited."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # kept for the life of the process
    return sum(1 for pool in threadpool_info() if pool.get("user_api") == "blas")
