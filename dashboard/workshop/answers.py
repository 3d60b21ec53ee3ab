"""Reading a learner's typed answer: a whole number, a side length, a count or a shape.

Learners write the same value in many ways: `36928`, `36,928`, `1 234`, `18x18`, `18 × 18`,
`(None,26,26,32)`, `26x26x32`, `3*3*32 + 32`. Each reader accepts the forms that can only mean
one thing and returns None for anything else (the checker then says how to write it): `1,2,3`
is not read as 123, and `18x20` is read as two sides, for the checker to say the window is
square.

Pure: no Streamlit, no TensorFlow; nothing typed is evaluated by Python (`parse_count` walks a
tiny grammar of whole numbers, `+`, `-`, `×` and brackets itself).
"""

from __future__ import annotations

import re

MAX_DIGITS = 15  # a whole number longer than this is not an answer to any exercise
MAX_EXPRESSION_CHARS = 80
UNITS = r"(?:parameters|parameter|params|param|pixels|pixel|px|numbers|units)"  # a word a learner may add
TIMES = r"[x×*·]|by"  # how a learner writes "times" between two numbers
_SEPARATORS = "[ ,_'’\u00a0\u202f\u2009]"  # thousands separators: space, comma, underscore, apostrophe, thin spaces


def _without_unit(answer: str) -> str:
    """`answer` stripped, lower case, with one trailing unit word ('320 params') and a final full stop removed."""
    text = answer.strip().lower().rstrip(".").strip()
    return re.sub(rf"\s*{UNITS}$", "", text).strip()


def parse_int(answer: str) -> int | None:
    """A whole number: '93322', '93,322', '93 322', '93_322', '93’322', '320 params'; None otherwise.

    Thousands separators must group by three ('1,234,567'), so '1,2,3' (a list) is not a number.
    """
    text = _without_unit(answer)
    sign = ""
    if text[:1] in ("+", "-"):
        sign, text = text[0], text[1:].lstrip()
    if not re.fullmatch(rf"\d+|\d{{1,3}}(?:{_SEPARATORS}\d{{3}})+", text):
        return None
    digits = re.sub(_SEPARATORS, "", text)
    if len(digits) > MAX_DIGITS:
        return None
    return int(sign + digits)


def parse_side(answer: str) -> tuple[int, int] | None:
    """A square's side: '18', '18x18', '18 × 18', '18 by 18', '18 px' → (18, 18); '18x20' → (18, 20).

    Returns (height, width) so that the checker can say a window is square; None if unreadable.
    """
    text = _without_unit(answer)
    single = parse_int(text)
    if single is not None:
        return single, single
    match = re.fullmatch(rf"(\d{{1,{MAX_DIGITS}}})\s*(?:{TIMES})\s*(\d{{1,{MAX_DIGITS}}})", text)
    return (int(match[1]), int(match[2])) if match else None


def parse_shape(answer: str) -> tuple[int, ...] | None:
    """'(None, 3, 3, 64)', '(None,3,3,64)', '3x3x64', '3 × 3 × 64', '3 by 3 by 64', '[3, 3, 64]',
    '(?, 3, 3, 64)' → (3, 3, 64); None if unreadable (words, more than 6 numbers)."""
    text = answer.strip().lower()
    text = re.sub(r"\bnone\b|\?|\bbatch(?:_size)?\b", "", text)
    text = re.sub(rf"(?<=\d)\s*(?:{TIMES})\s*(?=\d)", ",", text)
    if not re.fullmatch(r"[\s\d,()\[\]]+", text):
        return None
    numbers = re.findall(r"\d+", text)
    if not numbers or len(numbers) > 6:
        return None
    return tuple(int(n) for n in numbers)


def _tokens(text: str) -> list[str] | None:
    """The tokens of an arithmetic answer (whole numbers, + - * ( )), or None if something else is there."""
    text = re.sub(rf"(?<=[\d)])\s*(?:{TIMES})\s*(?=[\d(])", "*", text)
    text = text.replace("−", "-")
    tokens = re.findall(r"\d+|[-+*()]|\S", text)
    if any(not (token.isdigit() or token in "+-*()") for token in tokens):
        return None
    return tokens


def _evaluate(tokens: list[str]) -> int | None:
    """Evaluate `tokens` (sum of products of whole numbers or bracketed sums); None if malformed."""
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def factor() -> int | None:
        token = peek()
        if token is None:
            return None
        take()
        if token.isdigit():
            return int(token) if len(token) <= MAX_DIGITS else None
        if token == "(":
            value = total()
            return value if value is not None and peek() == ")" and take() else None
        return None

    def product() -> int | None:
        value = factor()
        while value is not None and peek() == "*":
            take()
            right = factor()
            value = None if right is None else value * right
        return value

    def total() -> int | None:
        value = product()
        while value is not None and peek() in ("+", "-"):
            sign = take()
            right = product()
            value = None if right is None else value + right if sign == "+" else value - right
        return value

    value = total()
    if value is None or position != len(tokens) or abs(value) >= 10**MAX_DIGITS:
        return None
    return value


def parse_count(answer: str) -> int | None:
    """A count: a whole number (`parse_int`), or its arithmetic: '3*3*32 + 32', '(3×3×1 + 1) × 32',
    '26x26x32' → the value; None if unreadable."""
    whole = parse_int(answer)
    if whole is not None:
        return whole
    text = _without_unit(answer)
    if len(text) > MAX_EXPRESSION_CHARS or not re.search(r"\d", text):
        return None
    tokens = _tokens(text)
    return None if not tokens else _evaluate(tokens)
