"""Fixtures shared by the job tests: the embedded MNIST subset and a throw-away model cache.

    from tests.job_fixtures import cache, data  # noqa: F401 - pytest fixtures
"""

from __future__ import annotations

import pytest

from dashboard.mnist.data import MnistData, load_mnist
from dashboard.store.cache import ModelCache


@pytest.fixture(scope="module")
def data() -> MnistData:
    """The embedded subset (tests never need the full MNIST)."""
    return load_mnist("embedded")


@pytest.fixture
def cache(tmp_path) -> ModelCache:
    """An empty model cache of this test, without the shipped runs."""
    return ModelCache(root=tmp_path / "cache", shipped_root=None)
