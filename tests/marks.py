"""Test tiers: `trains` marks a fixture that trains a network, so every test using it is `slow`.

    @pytest.fixture(scope="module")
    @trains
    def trained(data): ...

`tests/conftest.py` adds the `slow` mark to each test whose fixtures (direct or through other
fixtures) include one marked so; a test that trains by itself carries `@pytest.mark.slow`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def trains(fixture_function: F) -> F:
    """Mark a fixture function as one that trains a network (its tests are `slow`)."""
    fixture_function.trains_a_network = True  # type: ignore[attr-defined]
    return fixture_function
