"""Outside input: bounded JSON parsing and markdown that renders as plain text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.outside import OutsideInputError, code_span, escape_markdown, json_depth_exceeds, loads_json, plain


def test_deep_nesting_is_refused_before_parsing():
    with pytest.raises(OutsideInputError, match="nested too deeply"):
        loads_json("[" * 2000, max_chars=10_000)
    with pytest.raises(OutsideInputError, match="nested too deeply"):
        loads_json('{"a":' * 100 + "1" + "}" * 100)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[["})
    assert not json_depth_exceeds(text, 3)
    assert loads_json(text, max_depth=3)["a"].startswith("[[[")


def test_too_long_and_invalid():
    with pytest.raises(OutsideInputError, match="too long"):
        loads_json("1" * 101, max_chars=100)
    with pytest.raises(OutsideInputError, match="not valid JSON"):
        loads_json("{nope")
    with pytest.raises(OutsideInputError, match="not UTF-8"):
        loads_json(b"\xff\xfe")
    assert loads_json(b'{"x": [1, 2]}') == {"x": [1, 2]}


@pytest.mark.slow  # hypothesis, ~4 s
@given(st.recursive(st.none() | st.integers() | st.text(), lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids), max_leaves=20))
def test_depth_scan_agrees_with_real_depth(value):
    def depth(v):
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    text = json.dumps(value)
    real = depth(value)
    assert json_depth_exceeds(text, real) is False
    assert json_depth_exceeds(text, real - 1) is (real > 0)


def test_plain_flattens_and_shortens():
    assert plain("a\nb\u202ec") == "a b c"
    assert plain("x" * 100, limit=10) == "x" * 9 + "…"


@pytest.mark.parametrize("hostile", ["[Login](https://example.org/x)", "![x](https://example.org/a.png)", "``a`b``", "`", " "])
def test_code_span_fence_is_longer_than_any_backtick_run(hostile):
    span = code_span(hostile)
    fence = span.split(" ")[0]
    assert set(fence) == {"`"}
    assert span.endswith(" " + fence)
    body = span[len(fence) + 1 : -len(fence) - 1]
    assert body == plain(hostile)
    assert fence not in body


def test_escape_markdown_escapes_every_markup_character():
    out = escape_markdown("[Login](https://example.org) :red[x] $a$ <b>")
    for char in "[]():/$<>.":
        assert f"\\{char}" in out
    assert "\\\\" not in escape_markdown("plain words")


def test_escaped_urls_and_addresses_are_not_linked_by_streamlits_markdown():
    """remark-gfm links `https://…`, `www.…` and e-mail addresses in the text after reading the
    escapes; the escaped text must give it nothing to link, and still read the same."""
    from tests.app.markup import markup_in_markdown

    hostile = "[Login](https://example.org/x) ![x](http://example.org/a.png) www.example.org a@example.org"
    assert markup_in_markdown(hostile)  # the helper sees the links of the raw text
    escaped = escape_markdown(hostile, limit=500)
    assert markup_in_markdown(escaped) == []
    assert escaped.replace("\u2060", "").replace("\\", "") == hostile
