"""Test-wide settings: offline data, a throw-away model cache, quiet TensorFlow; browser tests are `slow`.

Two tiers: `python -m pytest` runs everything (what CI runs); `python -m pytest -m "not slow"`
is the quick tier (under a minute): no training, no server, browser or cluster, no test over
~2 s. Every `e2e` test (a real `streamlit run` and Chromium) and every test using a fixture
marked `tests.marks.trains` is marked `slow` here.
"""

from __future__ import annotations

import os
import tempfile

# Set before anything imports dashboard or TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["MNIST_DOWNLOAD"] = "0"  # tests never touch the network
os.environ.pop("MNIST_NPZ", None)  # tests use the embedded subset, not ../shared
os.environ["MODEL_CACHE_DIR"] = tempfile.mkdtemp(prefix="convnet-test-cache-")  # never a developer's own cache


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _close_training_jobs():
    """Stop the process's job manager (and its in-process Dask cluster) while output is still open."""
    yield
    from dashboard.jobs import job_manager

    if job_manager._default is not None:
        job_manager._default.close()


def _uses_a_training_fixture(item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(getattr(defs[-1].func, "trains_a_network", False)
               for name in item.fixturenames if (defs := info.name2fixturedefs.get(name)))


def pytest_collection_modifyitems(config, items):
    """Browser tests and tests using a fixture marked `tests.marks.trains` belong to the slow tier."""
    for item in items:
        if item.get_closest_marker("slow") is None and (
                item.get_closest_marker("e2e") is not None or _uses_a_training_fixture(item)):
            item.add_marker(pytest.mark.slow)
