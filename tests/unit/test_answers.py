"""Reading typed answers: every unambiguous way of writing a number, a side or a shape is read,
anything else is refused (None), and no reader raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.workshop.answers import parse_count, parse_int, parse_shape, parse_side

COUNTS = st.integers(min_value=0, max_value=10**9)


@pytest.mark.parametrize("answer, value", [
    ("36928", 36928), ("36,928", 36928), ("1 234", 1234), ("1\u00a0234", 1234), ("1\u202f234", 1234),
    ("93_322", 93322), ("93’322", 93322), ("1,234,567", 1234567), ("320 params", 320),
    ("320 parameters.", 320), ("18 pixels", 18), ("-5", -5),
    ("1,2,3", None), ("12,34", None), ("9.3e4", None), ("lots", None), ("", None), ("1" * 40, None),
])
def test_parse_int(answer, value):
    assert parse_int(answer) == value


@pytest.mark.parametrize("answer, sides", [
    ("18", (18, 18)), ("18x18", (18, 18)), ("18×18", (18, 18)), ("18 x 18", (18, 18)), ("18 X 18", (18, 18)),
    ("18 by 18", (18, 18)), ("18*18", (18, 18)), ("18x18 px", (18, 18)), ("18 pixels", (18, 18)),
    ("3x3", (3, 3)), ("18x20", (18, 20)),
    ("18x", None), ("x18", None), ("18x18x18", None), ("eighteen", None), ("", None),
])
def test_parse_side(answer, sides):
    assert parse_side(answer) == sides


@pytest.mark.parametrize("answer, shape", [
    ("(None, 26, 26, 32)", (26, 26, 32)), ("(None,26,26,32)", (26, 26, 32)), ("26x26x32", (26, 26, 32)),
    ("26 × 26 × 32", (26, 26, 32)), ("26 by 26 by 32", (26, 26, 32)), ("[26, 26, 32]", (26, 26, 32)),
    ("(?, 26, 26, 32)", (26, 26, 32)), ("(batch, 26, 26, 32)", (26, 26, 32)), ("None, 576", (576,)),
    ("three by three", None), ("(3, 3, 64); import os", None), ("", None), ("1,2,3,4,5,6,7", None),
])
def test_parse_shape(answer, shape):
    assert parse_shape(answer) == shape


@pytest.mark.parametrize("answer, value", [
    ("(3*3*1 + 1) * 32", 320), ("(3×3×1+1)×32", 320), ("26x26x32", 21632), ("3 x 3 x 64 + 64", 640),
    ("576 * 64 + 64", 36928), ("36,928", 36928), ("10 − 1", 9),
    ("about 37k", None), ("3x", None), ("((3)", None), ("3 3", None), ("2**100", None), ("__import__('os')", None),
    ("9" * 16 + "*9", None),
])
def test_parse_count_reads_arithmetic_without_evaluating_python(answer, value):
    assert parse_count(answer) == value


@given(COUNTS, st.sampled_from([",", " ", "_", "’", "\u00a0", "\u202f"]))
def test_a_number_grouped_by_thousands_reads_as_itself(value, separator):
    assert parse_int(f"{value:,}".replace(",", separator)) == value
    assert parse_count(f"{value:,}".replace(",", separator)) == value


@given(st.integers(min_value=1, max_value=999), st.sampled_from(["x", "×", " x ", " × ", " by ", "*"]))
def test_a_side_written_twice_reads_as_that_side(side, times):
    assert parse_side(f"{side}{times}{side}") == (side, side)


@given(st.lists(st.integers(min_value=1, max_value=4096), min_size=1, max_size=4), st.booleans())
def test_a_shape_reads_back_as_keras_prints_it_or_as_a_product(dims, keras):
    text = "(None, " + ", ".join(map(str, dims)) + ")" if keras else "x".join(map(str, dims))
    assert parse_shape(text) == tuple(dims)


@given(st.text(max_size=60))
def test_no_reader_raises_on_any_text(text):
    for reader in (parse_int, parse_side, parse_shape, parse_count):
        value = reader(text)
        assert value is None or isinstance(value, (int, tuple))
