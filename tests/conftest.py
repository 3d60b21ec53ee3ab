"""Test-wide settings: offline data, a throw-away model cache, quiet TensorFlow."""

from __future__ import annotations

import os
import tempfile

# Set before anything imports dashboard or TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["MNIST_DOWNLOAD"] = "0"  # tests never touch the network
os.environ.pop("MNIST_NPZ", None)  # tests use the embedded subset, not ../shared
os.environ.setdefault("MODEL_CACHE_DIR", tempfile.mkdtemp(prefix="convnet-test-cache-"))


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _close_training_jobs():
    """Stop the process's job manager (and its in-process Dask cluster) while output is still open."""
    yield
    from dashboard import jobs

    if jobs._default is not None:
        jobs._default.close()
