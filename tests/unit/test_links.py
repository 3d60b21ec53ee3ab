"""URL state: links round-trip, and hostile query strings fall back with a warning."""

from __future__ import annotations

import pytest

from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec
from dashboard.views.links import (
    MAX_VALUE_LENGTH,
    int_from_params,
    spec_from_params,
    spec_to_params,
    token_from_params,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_link_by_name(name):
    params = spec_to_params(PRESETS[name])
    assert params == {"preset": name}
    assert spec_from_params(params) == (PRESETS[name], None)


def test_custom_network_round_trips_through_the_link():
    spec = NetworkSpec(blocks=(ConvBlock(12, kernel_size=5, strides=2, padding="same"),), dense_units=16, dropout=0.25)
    params = spec_to_params(spec)
    assert set(params) == {"spec"}
    assert spec_from_params(params) == (spec, None)


def test_repeated_key_uses_the_last_value():
    tiny = PRESETS["tiny"].to_json()
    assert spec_from_params({"spec": [BOOK.to_json(), tiny]})[0] == PRESETS["tiny"]


@pytest.mark.parametrize(
    ("params", "warning"),
    [
        pytest.param({"spec": "{not json"}, "not valid JSON", id="broken-json"),
        pytest.param({"spec": '{"blocks": [{"filters": 9999}]}'}, "filters must be 1 to 256", id="out-of-range"),
        pytest.param({"spec": '{"blocks": [], "__class__": "os.system"}'}, "unknown key", id="unknown-key"),
        pytest.param({"spec": "[" * 100_000}, "too long", id="huge-value"),
        pytest.param({"spec": "null"}, "expected an object", id="json-null"),
        pytest.param({"preset": "<script>alert(1)</script>"}, "Unknown preset", id="script-preset"),
    ],
)
def test_hostile_links_fall_back_to_the_default_with_a_warning(params, warning):
    spec, message = spec_from_params(params)
    assert spec == BOOK
    assert message is not None and warning in message
    assert len(message) < MAX_VALUE_LENGTH  # the warning never echoes a huge value


def test_no_network_in_the_link_is_not_a_warning():
    assert spec_from_params({}) == (BOOK, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("7", (7, None), id="plain"),
        pytest.param(" 12 ", (12, None), id="spaces"),
        pytest.param("-1", (0, "expected 0–99"), id="below"),
        pytest.param("100", (0, "expected 0–99"), id="above"),
        pytest.param("1e3", (0, "expected 0–99"), id="exponent"),
        pytest.param("9" * 400, (0, "expected 0–99"), id="huge"),
    ],
)
def test_int_from_params(text, expected):
    value, warning = int_from_params({"digit": text}, "digit", 0, 99, default=0)
    assert value == expected[0]
    assert (warning is None) == (expected[1] is None)
    if expected[1]:
        assert expected[1] in warning


@pytest.mark.parametrize(
    ("text", "allowed", "ok"),
    [
        pytest.param("a1b2c3", None, True, id="key"),
        pytest.param("../../etc/passwd", None, False, id="path"),
        pytest.param("book", ["book", "tiny"], True, id="allowed"),
        pytest.param("other", ["book", "tiny"], False, id="not-allowed"),
        pytest.param("x" * 200, None, False, id="too-long"),
    ],
)
def test_token_from_params(text, allowed, ok):
    value, warning = token_from_params({"run": text}, "run", allowed)
    assert (value == text) is ok
    assert (warning is None) is ok
