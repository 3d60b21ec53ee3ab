"""The browser-storage entry: what is read back from the browser, and the JavaScript that writes it."""

from __future__ import annotations

import json

from dashboard.views import browser_store as bs


def test_parse_keeps_a_valid_learner_id_and_progress_text_and_drops_the_rest():
    learner = "0123456789abcdef" * 2
    raw = json.dumps({"learner": learner, "progress": "{\"answers\": {}}", "other": 1})
    assert bs.parse(raw) == {"learner": learner, "progress": "{\"answers\": {}}"}
    for bad in (None, "", "not json", "[1, 2]", json.dumps({"learner": "x" * 32, "progress": 5}),
                json.dumps({"learner": learner.upper(), "progress": "p" * (bs.MAX_PROGRESS_CHARS + 1)})):
        assert bs.parse(bad) == {"learner": None, "progress": None}


def test_the_write_expression_quotes_any_progress_text_as_one_string_literal():
    text = 'an answer with "quotes", a backslash \\ and </script> and `backticks` ${x}'
    expression = bs.write_expression(text)
    assert f"stored.progress = {json.dumps(text)};" in expression
    assert expression.count(json.dumps(bs.STORAGE_KEY)) == 1
    assert "${x}" in expression and "`" not in expression.replace(json.dumps(text), "")  # no template literal
    read = bs.read_expression()
    assert json.dumps(bs.STORAGE_KEY) in read and "getRandomValues" in read and "randomUUID" not in read
