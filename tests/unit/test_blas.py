"""numpy's BLAS runs on one thread once a page module asks for it (dashboard.host)."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info

from dashboard.host import one_blas_thread


def test_one_blas_thread_limits_numpys_blas_and_numbers_stay_the_same():
    x = np.random.default_rng(0).normal(size=(300, 200))
    before = x.T @ x
    assert one_blas_thread() >= 1  # numpy's OpenBLAS was found
    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    np.testing.assert_allclose(x.T @ x, before, rtol=1e-12)
