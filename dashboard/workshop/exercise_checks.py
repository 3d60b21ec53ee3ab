"""Checking a learner's answer, with feedback about the layer the exercise asks about.

Every checker is `check(answer) -> (ok, feedback)`: it takes the answer as typed (a number, a
shape, a choice, a network as JSON, a run key), never raises, and returns plain text. Expected
values come from the layer arithmetic (`dashboard.network.summaries`, equal to Keras's) or the
geometry, never from a number typed here. A wrong answer is explained, most specific first:

1. an exercise's own common mistakes (`Mistakes`: a wrong answer → what it shows was missed);
2. rules that read the network: another layer's value ("that is `max_pooling2d`'s output, the
   layer after `conv2d`"), weights without biases, a total that leaves out a layer;
3. what the asked layer does (its kernel, padding, filters or units), never another layer's rule.

No Streamlit and no TensorFlow here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from dashboard.network.decode import article
from dashboard.network.geometry import Layer
from dashboard.network.spec import NetworkSpec, SpecError, chain, final_map, geometry
from dashboard.network.summaries import LayerRow, summarize
from dashboard.store.run import RunRecord
from dashboard.workshop.answers import parse_count, parse_shape, parse_side

Check = Callable[[str], tuple[bool, str]]
Mistakes = Mapping[str, str]  # a wrong answer as a learner types it → what it shows they missed
RunLookup = Callable[[str], RunRecord | None]  # run key → its record (None if absent)

MAX_ANSWER_CHARS = 2000  # a network's JSON fits; anything longer is refused unread


# --- reading answers -----------------------------------------------------------------------


def too_long(answer: str) -> str | None:
    """Why `answer` cannot be read at all (not text, too long, blank), or None."""
    if not isinstance(answer, str):
        return "Type your answer as text."
    if len(answer) > MAX_ANSWER_CHARS:
        return f"That answer is too long ({len(answer):,} characters)."
    if not answer.strip():
        return "Type an answer first."
    return None


def shape_text(shape: Sequence[int | None]) -> str:
    """(None, 3, 3, 64) as Keras prints it."""
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def _table(mistakes: Mistakes, parse: Callable[[str], Any]) -> dict[Any, str]:
    """The mistakes keyed by their parsed value (so '(None, 28, 28, 32)' matches '28x28x32')."""
    return {parse(answer): message for answer, message in mistakes.items()}


# --- what the network says ----------------------------------------------------------------


@lru_cache(maxsize=32)
def _rows(spec_json: str) -> tuple[LayerRow, ...]:
    return tuple(summarize(NetworkSpec.from_json(spec_json)))


def rows(spec: NetworkSpec) -> tuple[LayerRow, ...]:
    """The summary rows (equal to Keras's `model.summary()`) of `spec`, computed once."""
    return _rows(spec.to_json())


def layer_row(spec: NetworkSpec, layer: str) -> LayerRow:
    """The summary row of `layer` in `spec`."""
    for row in rows(spec):
        if row.name == layer:
            return row
    raise KeyError(f"{layer} is not a layer of {spec.describe()}")


def total_params(spec: NetworkSpec) -> int:
    """Parameter count of the whole network, as Keras reports it."""
    return sum(row.params for row in rows(spec))


def receptive_field(spec: NetworkSpec, layer: str) -> int:
    """Input pixels on a side that one position of `layer` sees."""
    return next(g.receptive_field for g in geometry(spec) if g.name == layer)


def _plain(spec: NetworkSpec, layer: str) -> Layer:
    return next(item for item in chain(spec) if item.name == layer)


def _position(spec: NetworkSpec, other: str, layer: str) -> str:
    """'the layer after conv2d', 'two layers before conv2d_2', …"""
    names = [row.name for row in rows(spec)]
    gap = names.index(other) - names.index(layer)
    count = {1: "the layer", 2: "two layers", 3: "three layers"}.get(abs(gap), f"{abs(gap)} layers")
    return f"{count} {'after' if gap > 0 else 'before'} {layer}"


def what_it_does(spec: NetworkSpec, layer: str) -> str:
    """One sentence on the asked layer alone: what it does to its input."""
    names = [row.name for row in rows(spec)]
    index = names.index(layer)
    source = "the 28×28×1 digit" if index == 0 else f"{names[index - 1]}'s output"
    item = _plain(spec, layer)
    if item.kind == "Conv2D":
        (k, _), (s, _) = item.kernel_size, item.strides
        stride = "" if s == 1 else f", stride {s}"
        return (f"{layer} is a {k}×{k} conv with '{item.padding}' padding{stride} and {item.filters} "
                f"filters, applied to {source}.")
    if item.kind == "Dense":
        return f"{layer} is a Dense layer of {item.units} units, fed {source}."
    return f"{layer} is a {item.kind} layer applied to {source}."


# --- checkers ------------------------------------------------------------------------------


def _shape_feedback(spec: NetworkSpec, layer: str, guess: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """Why `guess` is not `layer`'s output shape (the generic rules, most specific first)."""
    if len(guess) != len(expected):
        parts = "height, width, channels" if len(expected) == 3 else "its units"
        return f"{layer}'s output has {len(expected)} numbers besides the batch size ({parts}); you gave {len(guess)}."
    for row in rows(spec):
        if row.name != layer and tuple(s for s in row.output_shape if s is not None) == guess:
            return (f"That is the output of {row.name} ({row.type}), {_position(spec, row.name, layer)}. "
                    + what_it_does(spec, layer))
    if sorted(guess) == sorted(expected):
        return "The right numbers in the wrong order: Keras puts channels last (height, width, channels)."
    if len(expected) == 3 and guess[2] == expected[2]:
        return "The channels are right; check the height and width again. " + what_it_does(spec, layer)
    if len(expected) == 3 and guess[:2] == expected[:2]:
        return f"Height and width are right; {layer} makes one output map per filter: count its filters."
    return "Not quite. " + what_it_does(spec, layer) + " Follow the sizes layer by layer from 28×28."


def _checked(answer: str, parse: Callable[[str], Any], unreadable: str, expected: Any, right: str,
             table: Mapping[Any, str], explain: Callable[[Any], str],
             first: Callable[[Any], str | None] = lambda guess: None) -> tuple[bool, str]:
    """The common frame of checkers: read the answer with `parse` (`unreadable` if it cannot), then a
    rule that comes before all else (`first`), then right, then the mistakes, then `explain(guess)`."""
    problem = too_long(answer)
    if problem:
        return False, problem
    guess = parse(answer)
    if guess is None:
        return False, unreadable
    early = first(guess)
    if early:
        return False, early
    if guess == expected:
        return True, right
    if guess in table:
        return False, table[guess]
    return False, explain(guess)


def shape_checker(spec: NetworkSpec, layer: str, mistakes: Mistakes | None = None) -> Check:
    """Check a predicted output shape of `layer` (the batch dimension may be left out)."""
    table = _table(mistakes or {}, parse_shape)

    def check(answer: str) -> tuple[bool, str]:
        row = layer_row(spec, layer)
        expected = tuple(s for s in row.output_shape if s is not None)
        return _checked(answer, parse_shape,
                        "I could not read a shape: write it like (None, h, w, c) or h x w x c, with numbers.",
                        expected, f"Right: Keras reports {shape_text(row.output_shape)} for {layer}.", table,
                        lambda guess: _shape_feedback(spec, layer, guess, expected))

    return check


def _count_check(answer: str, value: int, table: dict[Any, str], right: str,
                 explain: Callable[[int], str]) -> tuple[bool, str]:
    """A count checker's frame: a whole number or its arithmetic, compared with `value`."""
    return _checked(answer, parse_count, "I could not read a whole number: write it like 1234, 1,234 or 3 × 3 × 32 + 32.",
                    value, right, table, explain)


def _biases(row: LayerRow) -> int:
    """Biases of one layer: one per filter or unit (its last output dimension) if it has weights."""
    return int(row.output_shape[-1] or 0) if row.type in ("Conv2D", "Dense") and row.params else 0


def _layer_params_feedback(spec: NetworkSpec, layer: str, guess: int) -> str:
    row = layer_row(spec, layer)
    direction = "too high" if guess > row.params else "too low"
    if guess == row.params - _biases(row):
        return (f"{guess:,} is {direction}: that counts {layer}'s weights only. Each "
                f"{'filter' if row.type == 'Conv2D' else 'unit'} also has one bias.")
    others = [r.name for r in rows(spec) if r.name != layer and r.params == guess and guess]
    if others:
        return f"That is the parameter count of {' and '.join(others)}, not of {layer}. " + what_it_does(spec, layer)
    rule = ("(kernel height × kernel width × input channels + 1 bias) × filters" if row.type == "Conv2D"
            else "(inputs + 1 bias) × units")
    return f"{guess:,} is {direction}. " + what_it_does(spec, layer) + f" Its parameters: {rule}."


def _total_feedback(spec: NetworkSpec, guess: int) -> str:
    value = total_params(spec)
    direction = "too high" if guess > value else "too low"
    if guess == value - sum(_biases(row) for row in rows(spec)):
        return f"{guess:,} is {direction}: that counts weights only; every filter and every Dense unit also has a bias."
    missing = [row.name for row in rows(spec) if row.params and row.params == value - guess]
    if missing:
        return (f"{guess:,} is {direction}: it leaves out {' or '.join(missing)} "
                f"({value - guess:,} parameters{' each' if len(missing) > 1 else ''}).")
    for kind in ("Conv2D", "Dense"):
        if guess == sum(row.params for row in rows(spec) if row.type == kind):
            return f"{guess:,} counts only the {kind} layers; the network has both conv and Dense layers."
    return f"{guess:,} is {direction}. Add up every conv and Dense layer; pooling and Flatten have no parameters."


def params_checker(spec: NetworkSpec, layer: str | None = None, mistakes: Mistakes | None = None) -> Check:
    """Check a predicted parameter count of `layer` (or of the whole network when None)."""
    table = _table(mistakes or {}, parse_count)

    def check(answer: str) -> tuple[bool, str]:
        if layer is None:
            value = total_params(spec)
            return _count_check(answer, value, table, f"Right: {value:,} parameters in the whole network.",
                                lambda guess: _total_feedback(spec, guess))
        value = layer_row(spec, layer).params
        return _count_check(answer, value, table, f"Right: {value:,} parameters in {layer}.",
                            lambda guess: _layer_params_feedback(spec, layer, guess))

    return check


def _field_feedback(spec: NetworkSpec, layer: str, guess: int) -> str:
    value = receptive_field(spec, layer)
    direction = "too high" if guess > value else "too low"
    others = [g.name for g in geometry(spec) if g.name != layer and g.receptive_field == guess and g.size]
    if others:
        return (f"That is the receptive field of {others[0]}, {_position(spec, others[0], layer)}. "
                f"Follow the window on to {layer}.")
    return (f"{guess:,} is {direction}. A k×k conv widens the window by (k − 1) × the jump so far; a 2×2 "
            "pooling widens it by one jump and doubles the jump.")


def receptive_field_checker(spec: NetworkSpec, layer: str, mistakes: Mistakes | None = None) -> Check:
    """Check a predicted receptive field (input pixels on a side) of one position of `layer`:
    '18', '18x18' or '18 × 18'; unequal sides are told the window is square."""
    table = _table(mistakes or {}, parse_side)

    def square(sides: tuple[int, int]) -> str | None:
        if sides[0] == sides[1]:
            return None
        return f"The window is square: its two sides are equal, not {sides[0]} and {sides[1]}. Give its side, like 12 or 12×12."

    def explain(sides: tuple[int, int]) -> str:
        if sides[0] == value * value:
            return f"{sides[0]:,} is the window's area in pixels; the question asks how wide it is (its side)."
        return _field_feedback(spec, layer, sides[0])

    value = receptive_field(spec, layer)
    right = f"Right: {value} pixels: one position of {layer} sees {article(value)} {value}×{value} window of the digit."

    def check(answer: str) -> tuple[bool, str]:
        return _checked(answer, parse_side, "I could not read a side length: write it like 12 or 12×12.",
                        (value, value), right, table, explain, first=square)

    return check


def choice_checker(choices: Sequence[str], right: int, explanations: Sequence[str]) -> Check:
    """Check a choice given as its number (1-based), its letter or its text; each choice has its explanation."""

    def check(answer: str) -> tuple[bool, str]:
        problem = too_long(answer)
        if problem:
            return False, problem
        text = answer.strip()
        index = None
        if text.isdigit() and 1 <= int(text) <= len(choices):
            index = int(text) - 1
        elif len(text) == 1 and text.lower() in "abcdefgh"[: len(choices)]:
            index = "abcdefgh".index(text.lower())
        elif text in choices:
            index = list(choices).index(text)
        if index is None:
            return False, "Pick one of the choices."
        return index == right, explanations[index]

    return check


def final_map_checker(side: int) -> Check:
    """Check a network (JSON) whose last conv map is `side`×`side`."""

    def check(answer: str) -> tuple[bool, str]:
        problem = too_long(answer)
        if problem:
            return False, problem
        try:
            spec = NetworkSpec.from_json(answer)
        except SpecError as err:
            return False, f"That network cannot be built: {err}."
        got, channels = final_map(spec)
        if got == side:
            return True, (f"Right: {spec.describe()} ends in a {got}×{got}×{channels} map, "
                          f"{total_params(spec):,} parameters in all.")
        hint = "add a block or pooling" if got > side else "remove a pooling or a block"
        return False, f"Its last conv map is {got}×{got}×{channels}, not {side}×{side}: {hint}."

    return check


def _biggest_layer(record: RunRecord) -> str:
    """' Its biggest layer is dense (12,832 of 14,410).' for a run of the app's own networks."""
    if record.spec is None:
        return ""
    try:
        top = max(summarize(record.spec), key=lambda row: row.params)
    except SpecError:
        return ""
    return f" Its biggest layer is {top.name} ({top.params:,} of {record.params:,} parameters)."


def _seeds_note(record: RunRecord, siblings: Callable[[RunRecord], Any] | None) -> str:
    """' Its 3 seeds' test accuracy: 98.40% (median of 3 seeds, …).' when the network has more than one seed."""
    if siblings is None:
        return ""
    spread = siblings(record).spread
    return f" This network's test accuracy over its seeds: {spread.text()}." if spread.total > 1 else ""


def budget_checker(lookup: RunLookup, max_params: int, target: float,
                   siblings: Callable[[RunRecord], Any] | None = None) -> Check:
    """Check a cached run (by key): at most `max_params` and a last validation accuracy ≥ `target`.

    `siblings(record)` gives the run's group of seeds (`dashboard.store.seeds.RunGroup`): the feedback then
    names their spread, and a failed training is called a failure.
    """

    def check(answer: str) -> tuple[bool, str]:
        problem = too_long(answer)
        if problem:
            return False, problem
        key = answer.strip()
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,80}", key):
            return False, "Pick one of your trained runs."
        try:
            record = lookup(key)
        except Exception as err:  # noqa: BLE001 - a damaged cache must not break the page
            return False, f"That run cannot be read ({type(err).__name__})."
        if record is None:
            return False, "That run is not in the cache: train it on the Train page first."
        if not record.trained:
            return False, f"{record.diagnosis or 'This training failed.'} Train it with another seed on the Train page."
        params, accuracy = record.params, record.val_accuracy
        too_big = params > max_params
        too_weak = not (accuracy >= target)  # nan counts as too weak
        shown = "no validation accuracy" if math.isnan(accuracy) else f"{accuracy:.2%} validation accuracy"
        if not too_big and not too_weak:
            return True, f"Done: {params:,} parameters and {shown} after its last epoch." + _seeds_note(record, siblings)
        reasons = []
        if too_big:
            reasons.append(f"{params:,} parameters is over the budget of {max_params:,}")
        if too_weak:
            reasons.append(f"{shown} is under the target of {target:.1%}")
        return False, ("Not yet: " + " and ".join(reasons) + "." + (_biggest_layer(record) if too_big else "")
                       + _seeds_note(record, siblings))

    return check
