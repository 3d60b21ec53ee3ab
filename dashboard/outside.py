"""Input from outside the app (URLs, uploads, file names, cache records, model files), made safe.

Two rules, one module:

* Parse nothing unbounded: `loads_json` refuses text longer than `max_chars` or nested deeper
  than `max_depth` *before* `json.loads` sees it (deep nesting would raise `RecursionError`).
* Show nothing as markup: `code_span` and `escape_markdown` turn any string into markdown
  that renders as exactly that text (no link, image, HTML, emoji shortcode or LaTeX).
  `plain` shortens and flattens a string for messages; `plotly_text` does the same for
  plotly, whose titles, legends and hover text read a little HTML (`<a href>`, `<b>`, …).

Pure Python: imports neither Streamlit nor TensorFlow.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

DEFAULT_MAX_CHARS = 100_000
DEFAULT_MAX_DEPTH = 32
SHOWN_CHARS = 60  # how much of an outside string a message quotes

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
WORD_JOINER = "\u2060"  # zero width, invisible: breaks a pattern without changing what one reads
_AUTOLINK_START = re.compile(r"(?i)(?:https?|www)(?=\\[:.])|\\@")  # "https\:", "www\.", "\@" once escaped


class OutsideInputError(ValueError):
    """Outside input that is too large, too deep or not valid JSON; the message says which."""


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """True if brackets in `text` (outside strings) nest deeper than `max_depth`; O(len) scan."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False


def loads_json(text: str | bytes, max_chars: int = DEFAULT_MAX_CHARS, max_depth: int = DEFAULT_MAX_DEPTH,
               what: str = "the JSON") -> Any:
    """`json.loads` that first bounds size and nesting; raise `OutsideInputError` with a plain message."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > max_chars * 4:
            raise OutsideInputError(f"{what} is too long ({len(text):,} bytes; at most {max_chars:,} characters)")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise OutsideInputError(f"{what} is not UTF-8 text") from None
    if not isinstance(text, str):
        raise OutsideInputError(f"{what} is not text")
    if len(text) > max_chars:
        raise OutsideInputError(f"{what} is too long ({len(text):,} characters; at most {max_chars:,})")
    if json_depth_exceeds(text, max_depth):
        raise OutsideInputError(f"{what} is nested too deeply (more than {max_depth} levels)")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as err:
        raise OutsideInputError(f"{what} is not valid JSON ({str(err)[:80]})") from None


def plain(text: Any, limit: int = SHOWN_CHARS) -> str:
    """`text` as one short line: control and bidi characters become spaces, long text ends in '…'."""
    flat = _CONTROL.sub(" ", str(text))
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def code_span(text: Any, limit: int = SHOWN_CHARS) -> str:
    """Markdown for an inline code span showing `text` literally (shortened by `plain`)."""
    body = plain(text, limit)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space on each side, so padding keeps edge backticks and blanks intact.
    return f"{fence} {body} {fence}"


def escape_markdown(text: Any, limit: int = SHOWN_CHARS) -> str:
    """Markdown that renders as `text` in the normal font: every ASCII punctuation mark is escaped.

    Escapes stop emoji shortcodes, Streamlit's `:color[…]` directives and (`$`) LaTeX. They do
    not stop autolinks: Streamlit's markdown (remark-gfm) also looks for `https://…`, `www.…` and
    e-mail addresses in the text *after* reading the escapes, so an invisible word joiner goes
    after `http`/`https`/`www` and after `@`, where those patterns need the next character.
    """
    escaped = _ASCII_PUNCTUATION.sub(r"\\\1", plain(text, limit))
    return _AUTOLINK_START.sub(lambda match: match.group(0) + WORD_JOINER, escaped)


def plotly_text(text: Any, limit: int = SHOWN_CHARS) -> str:
    """`text` for a plotly title, legend entry or hover label: shortened, with `<`, `>` and `&` escaped.

    Plotly renders a subset of HTML in text (`<a href=…>` links, `<b>`, `<br>`); entities are
    decoded, so an escaped string shows literally. Pass outside text as data (`text=`, `name=`),
    never inside a `hovertemplate`, where `%{…}` would be read as a placeholder.
    """
    return html.escape(plain(text, limit), quote=False)


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {int: "a whole number", bool: "true or false", str: "a string", list: "a list"}
    if isinstance(expected, tuple):
        return "a number"
    return names.get(expected, expected.__name__)


def field_problems(
    data: Any, types: dict[str, type | tuple[type, ...]], where: str, required: set[str]
) -> list[str]:
    """Problems of a JSON object from outside against `types` (key → expected type): not an object,
    unknown or missing keys, wrong types (a JSON `true` is never a number). Plain text, values shortened."""
    if not isinstance(data, dict):
        return [f"{where}: expected an object with keys {', '.join(types)}"]
    problems = []
    unknown = sorted(set(data) - set(types), key=str)
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(plain(repr(key), 30) for key in unknown[:5])}")
    for key in sorted(required - set(data)):
        problems.append(f"{where}: missing key '{key}'")
    for key, expected in types.items():
        if key not in data:
            continue
        value = data[key]
        # bool is a subclass of int in Python; JSON true is never a filter count.
        wrong_bool = isinstance(value, bool) and expected is not bool
        if wrong_bool or not isinstance(value, expected):
            problems.append(f"{where}: '{key}' must be {_type_name(expected)}, got {plain(json.dumps(value), 40)}")
    return problems
