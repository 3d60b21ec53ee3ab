"""Workshop mode: a sequence of short tasks, each checked by the app, and the learner's progress.

Every exercise has a `check(answer) -> (ok, feedback)` that takes the learner's answer as text
(a number, a shape, a choice, a network as JSON, a run key) and never raises. Expected values
come from the layer arithmetic (`dashboard.summaries`, checked against Keras) or the geometry, never from a
number typed here; the budget exercise reads a cached run's record.

Progress is a plain JSON-ready dict (`new_progress`), kept in the session, downloaded as a
file and uploaded back (`progress_from_json` checks it and drops what it cannot use).

No Streamlit and no TensorFlow here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from dashboard.outside import OutsideInputError, loads_json, plain
from dashboard.run import RunRecord
from dashboard.spec import BOOK, PRESETS, NetworkSpec, SpecError, final_map, geometry

Kind = Literal["shape", "number", "choice", "network", "run"]
Check = Callable[[str], tuple[bool, str]]
RunLookup = Callable[[str], RunRecord | None]  # run key → its record (None if absent)

PROGRESS_FORMAT = "convnet-explorer-exercises"
PROGRESS_VERSION = 1
MAX_ANSWER_CHARS = 2000  # a network's JSON fits; anything longer is refused unread
MAX_PROGRESS_BYTES = 200_000
PROGRESS_DEPTH = 8  # progress > answers > entry: 3 levels
BUDGET_PARAMS = 20_000
BUDGET_TARGET = 0.98


@dataclass(frozen=True)
class Exercise:
    """One task: what to do, how the answer is given, how it is checked, and a hint."""

    id: str
    title: str
    prompt: str  # markdown
    kind: Kind
    check: Check
    hint: str
    choices: tuple[str, ...] = ()
    spec: NetworkSpec | None = None  # the network the task is about, for the page to show or link
    reveal: Callable[[], str] | None = field(default=None, repr=False)  # the answer, for "show me"


# --- reading answers -----------------------------------------------------------------------


def _too_long(answer: str) -> str | None:
    if not isinstance(answer, str):
        return "Type your answer as text."
    if len(answer) > MAX_ANSWER_CHARS:
        return f"That answer is too long ({len(answer):,} characters)."
    if not answer.strip():
        return "Type an answer first."
    return None


def parse_int(answer: str) -> int | None:
    """A whole number written as '93322', '93,322', '93 322' or '93_322'; None otherwise."""
    text = re.sub(r"[\s,_'’]", "", answer.strip())
    if not re.fullmatch(r"[+-]?\d{1,15}", text):
        return None
    return int(text)


def parse_shape(answer: str) -> tuple[int, ...] | None:
    """'(None, 3, 3, 64)', '3x3x64', '3 × 3 × 64' or '[3, 3, 64]' → (3, 3, 64); None if unreadable."""
    text = answer.strip().lower().replace("none", "").replace("×", "x")
    if not re.fullmatch(r"[\s\d,x*()\[\]]+", text):
        return None
    numbers = re.findall(r"\d+", text)
    if not numbers or len(numbers) > 6:
        return None
    return tuple(int(n) for n in numbers)


def _shape_text(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


# --- expected values (from Keras and the geometry) ------------------------------------------


@lru_cache(maxsize=32)
def _rows(spec_json: str) -> tuple[Any, ...]:
    from dashboard.summaries import summarize  # pure Python: no model is built

    return tuple(summarize(NetworkSpec.from_json(spec_json)))


def layer_row(spec: NetworkSpec, layer: str) -> Any:
    """The summary row (`dashboard.summaries.LayerRow`, equal to Keras's) of `layer` in `spec`."""
    for row in _rows(spec.to_json()):
        if row.name == layer:
            return row
    raise KeyError(f"{layer} is not a layer of {spec.describe()}")


def total_params(spec: NetworkSpec) -> int:
    """Parameter count of the whole network, as Keras reports it."""
    return sum(row.params for row in _rows(spec.to_json()))


# --- checkers ------------------------------------------------------------------------------


def shape_checker(spec: NetworkSpec, layer: str) -> Check:
    """Check a predicted output shape of `layer` (the batch dimension may be left out)."""

    def check(answer: str) -> tuple[bool, str]:
        problem = _too_long(answer)
        if problem:
            return False, problem
        guess = parse_shape(answer)
        if guess is None:
            return False, "I could not read a shape: write it like (None, 26, 26, 32) or 26x26x32."
        expected = tuple(s for s in layer_row(spec, layer).output_shape if s is not None)
        if guess == expected:
            return True, f"Right: Keras reports {_shape_text(layer_row(spec, layer).output_shape)} for {layer}."
        if len(guess) != len(expected):
            return False, (
                f"{layer}'s output has {len(expected)} numbers besides the batch size "
                f"({'height, width, channels' if len(expected) == 3 else 'its units'}); you gave {len(guess)}."
            )
        if sorted(guess) == sorted(expected):
            return False, "The right numbers in the wrong order: Keras puts channels last (height, width, channels)."
        if len(expected) == 3 and guess[2] == expected[2]:
            return False, "The channels are right; check the height and width again (valid padding, then 2×2 pooling)."
        if len(expected) == 3 and guess[:2] == expected[:2]:
            return False, "Height and width are right; the channels are the layer's number of filters."
        return False, "Not quite. Follow the sizes layer by layer from 28×28."

    return check


def _count_checker(expected: Callable[[], int], what: str) -> Check:
    def check(answer: str) -> tuple[bool, str]:
        problem = _too_long(answer)
        if problem:
            return False, problem
        guess = parse_int(answer)
        if guess is None:
            return False, "I could not read a whole number: write it like 320 or 36,928."
        value = expected()
        if guess == value:
            return True, f"Right: {value:,} {what}."
        direction = "too high" if guess > value else "too low"
        close = " (close: off by the biases?)" if abs(guess - value) <= 512 else ""
        return False, f"{guess:,} is {direction}{close}."

    return check


def params_checker(spec: NetworkSpec, layer: str | None = None) -> Check:
    """Check a predicted parameter count of `layer` (or of the whole network when None)."""
    if layer is None:
        return _count_checker(lambda: total_params(spec), "parameters in the whole network")
    return _count_checker(lambda: layer_row(spec, layer).params, f"parameters in {layer}")


def receptive_field_checker(spec: NetworkSpec, layer: str) -> Check:
    """Check a predicted receptive field (input pixels on a side) of one unit of `layer`."""
    expected = next(g.receptive_field for g in geometry(spec) if g.name == layer)
    return _count_checker(lambda: expected, f"pixels: one unit of {layer} sees a {expected}×{expected} window")


def choice_checker(choices: Sequence[str], right: int, explanations: Sequence[str]) -> Check:
    """Check a choice given as its number (1-based), its letter or its text."""

    def check(answer: str) -> tuple[bool, str]:
        problem = _too_long(answer)
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
        problem = _too_long(answer)
        if problem:
            return False, problem
        try:
            spec = NetworkSpec.from_json(answer)
        except SpecError as err:
            return False, f"That network cannot be built: {err}."
        got, channels = final_map(spec)
        if got == side:
            return True, (
                f"Right: {spec.describe()} ends in a {got}×{got}×{channels} map, "
                f"{total_params(spec):,} parameters in all."
            )
        hint = "add a block or pooling" if got > side else "remove a pooling or a block"
        return False, f"Its last conv map is {got}×{got}×{channels}, not {side}×{side}: {hint}."

    return check


def budget_checker(lookup: RunLookup, max_params: int, target: float) -> Check:
    """Check a cached run (by key): at most `max_params` and a last validation accuracy ≥ `target`."""

    def check(answer: str) -> tuple[bool, str]:
        problem = _too_long(answer)
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
        params, accuracy = record.params, record.val_accuracy
        too_big = params > max_params
        too_weak = not (accuracy >= target)  # nan counts as too weak
        shown = "no validation accuracy" if math.isnan(accuracy) else f"{accuracy:.2%} validation accuracy"
        if not too_big and not too_weak:
            return True, f"Done: {params:,} parameters and {shown} after its last epoch."
        reasons = []
        if too_big:
            reasons.append(f"{params:,} parameters is over the budget of {max_params:,}")
        if too_weak:
            reasons.append(f"{shown} is under the target of {target:.0%}")
        return False, "Not yet: " + " and ".join(reasons) + "."

    return check


# --- the sequence --------------------------------------------------------------------------


def _default_lookup(key: str) -> Any:
    from dashboard.cache import ModelCache

    return ModelCache().get(key)


def exercises(lookup: RunLookup | None = None) -> list[Exercise]:
    """The workshop's tasks, in order; `lookup(run_key)` finds cached runs (default: the model cache)."""
    lookup = lookup or _default_lookup
    no_pool, gap = PRESETS["no_pooling"], PRESETS["global_avg"]
    one_choices = (
        "It falls to about chance (10%): a 1×1 map cannot say where anything is.",
        "It drops a little (around a point) but stays far above chance: each of the 64 numbers sees "
        "the whole digit and still says which strokes are there; what is lost is where they are.",
        "It rises: one more block of depth always buys accuracy.",
    )
    one_explanations = (
        "No: a 1×1 unit sees the whole 28×28 digit, and its 64 channels still say which strokes and loops "
        "are present. On the Inside page, keeping just one of the book's 3×3 positions already gives far "
        "more than chance.",
        "Right. One unit of a 1×1 map sees the whole input, so the 64 filters still detect which strokes are "
        "present; the layout of the 3×3 (top stroke here, loop there) is gone, and the last pooling throws "
        "away 8 of every 9 numbers, so a little accuracy goes with it. Compare the cached runs on the "
        "Inside page (Depth against size).",
        "No: more depth is not free. The extra pooling squeezes 3×3 to 1×1 and discards information; "
        "compare the two networks trained alike in the cache.",
    )
    seq = [
        Exercise(
            id="conv1_shape",
            title="The first layer's output",
            prompt=(
                "The book's network starts with `Conv2D(32, (3, 3), activation='relu')` on 28×28×1 "
                "images, with 'valid' padding (no padding). **What is the output shape of this first "
                "layer, `conv2d`?**"
            ),
            kind="shape",
            check=shape_checker(BOOK, "conv2d"),
            hint="A 3×3 window fits 28 − 3 + 1 times along each side; there is one output map per filter.",
            spec=BOOK,
            reveal=lambda: _shape_text(layer_row(BOOK, "conv2d").output_shape),
        ),
        Exercise(
            id="conv1_params",
            title="Weights of one conv layer",
            prompt="**How many parameters (weights and biases) does `conv2d` have?**",
            kind="number",
            check=params_checker(BOOK, "conv2d"),
            hint="Each of the 32 filters has 3×3×1 weights and one bias.",
            spec=BOOK,
            reveal=lambda: f"{layer_row(BOOK, 'conv2d').params:,}",
        ),
        Exercise(
            id="last_shape",
            title="Down to 3×3",
            prompt=(
                "Then come `MaxPooling2D(2)`, `Conv2D(64, 3)`, `MaxPooling2D(2)` and `Conv2D(64, 3)`. "
                "**What is the output shape of the last conv layer, `conv2d_2`?**"
            ),
            kind="shape",
            check=shape_checker(BOOK, "conv2d_2"),
            hint="26 → pool → 13 → conv → 11 → pool → 5 (pooling rounds down) → conv → ?",
            spec=BOOK,
            reveal=lambda: _shape_text(layer_row(BOOK, "conv2d_2").output_shape),
        ),
        Exercise(
            id="last_rf",
            title="What one of the 3×3 sees",
            prompt=(
                "Each of the 3×3 positions of `conv2d_2` looks at a square window of the input. "
                "**How many input pixels wide is that window (its receptive field)?**"
            ),
            kind="number",
            check=receptive_field_checker(BOOK, "conv2d_2"),
            hint="Each 3×3 conv adds 2 × (the current jump); each 2×2 pooling adds 1 × the jump and doubles it.",
            spec=BOOK,
            reveal=lambda: str(next(g.receptive_field for g in geometry(BOOK) if g.name == "conv2d_2")),
        ),
        Exercise(
            id="dense_params",
            title="576 numbers into Dense(64)",
            prompt=(
                "`Flatten` turns `conv2d_2`'s output into one vector, which feeds `Dense(64)`. "
                "**How many parameters does that Dense layer (`dense`) have?**"
            ),
            kind="number",
            check=params_checker(BOOK, "dense"),
            hint="3 × 3 × 64 = 576 inputs, each connected to each of the 64 units, plus 64 biases.",
            spec=BOOK,
            reveal=lambda: f"{layer_row(BOOK, 'dense').params:,}",
        ),
        Exercise(
            id="book_total",
            title="The whole network",
            prompt="**How many parameters does the whole book network have?**",
            kind="number",
            check=params_checker(BOOK),
            hint="Add up the three conv layers and the two Dense layers; pooling and Flatten have none.",
            spec=BOOK,
            reveal=lambda: f"{total_params(BOOK):,}",
        ),
        Exercise(
            id="no_pool_params",
            title="Without pooling",
            prompt=(
                "Remove both `MaxPooling2D` layers (the **no_pooling** preset): the three convs now "
                "give 26, 24 and 22 pixels a side. **How many parameters does its first Dense layer "
                "(`dense`) have now?**"
            ),
            kind="number",
            check=params_checker(no_pool, "dense"),
            hint="22 × 22 × 64 inputs, times 64 units, plus 64 biases.",
            spec=no_pool,
            reveal=lambda: f"{layer_row(no_pool, 'dense').params:,}",
        ),
        Exercise(
            id="gap_params",
            title="Average instead of flatten",
            prompt=(
                "The **global_avg** preset replaces `Flatten` by `GlobalAveragePooling2D`, which "
                "averages each of the 64 maps to one number. **How many parameters does its first "
                "Dense layer (`dense`, 64 units) have?**"
            ),
            kind="number",
            check=params_checker(gap, "dense"),
            hint="64 inputs, 64 units, 64 biases.",
            spec=gap,
            reveal=lambda: f"{layer_row(gap, 'dense').params:,}",
        ),
        Exercise(
            id="one_by_one",
            title="Make the last map 1×1",
            prompt=(
                "Build a network whose last conv map is **1×1** (on the Architecture page, or type its "
                "JSON), then check it here. *One way:* add a fourth block, or keep the pooling after "
                "the third conv."
            ),
            kind="network",
            check=final_map_checker(1),
            hint="From 3×3, one more 2×2 pooling gives 1×1 (pooling rounds down).",
            spec=PRESETS["one_by_one"],
            reveal=lambda: PRESETS["one_by_one"].to_json(),
        ),
        Exercise(
            id="one_by_one_why",
            title="What does 1×1 cost?",
            prompt=(
                "Compared with the book network's 3×3×64 last map, **what happens to test accuracy "
                "when the last map is 1×1×64, and why?**"
            ),
            kind="choice",
            check=choice_checker(one_choices, 1, one_explanations),
            hint="What does one unit of a 1×1 map see of the input? Try the Inside page's ablations.",
            choices=one_choices,
            spec=PRESETS["one_by_one"],
            reveal=lambda: one_choices[1],
        ),
        Exercise(
            id="budget",
            title="Small but good",
            prompt=(
                f"Find a network with **at most {BUDGET_PARAMS:,} parameters** that reaches **at least "
                f"{BUDGET_TARGET:.0%} validation accuracy** after its last epoch. Train it on the Train "
                "page, then pick its run here."
            ),
            kind="run",
            check=budget_checker(lookup, BUDGET_PARAMS, BUDGET_TARGET),
            hint=(
                "The Flatten → Dense link is usually the biggest: count it first. The tiny preset (14,410) "
                "falls just short of the accuracy; a few more filters and a smaller Dense layer can get there."
            ),
            spec=PRESETS["tiny"],
        ),
    ]
    return seq


# --- progress ------------------------------------------------------------------------------


def new_progress() -> dict[str, Any]:
    """Empty progress: at the first exercise, nothing answered."""
    return {"format": PROGRESS_FORMAT, "version": PROGRESS_VERSION, "step": 0, "answers": {}}


def record_attempt(progress: dict[str, Any], exercise_id: str, answer: str, ok: bool, revealed: bool = False) -> dict[str, Any]:
    """A new progress dict with one more attempt at `exercise_id` (a solved exercise stays solved)."""
    answers = {k: dict(v) for k, v in progress.get("answers", {}).items()}
    entry = answers.get(exercise_id, {"answer": "", "ok": False, "tries": 0, "revealed": False})
    entry = {
        "answer": str(answer)[:MAX_ANSWER_CHARS],
        "ok": bool(entry.get("ok")) or bool(ok),
        "tries": int(entry.get("tries", 0)) + (0 if revealed else 1),
        "revealed": bool(entry.get("revealed")) or revealed,
    }
    answers[exercise_id] = entry
    return {**progress, "answers": answers}


def with_step(progress: dict[str, Any], step: int) -> dict[str, Any]:
    """A new progress dict at exercise `step`."""
    return {**progress, "step": int(step)}


def solved(progress: dict[str, Any], seq: Sequence[Exercise]) -> list[str]:
    """Ids of the exercises of `seq` solved without revealing the answer first."""
    answers = progress.get("answers", {})
    return [ex.id for ex in seq if answers.get(ex.id, {}).get("ok") and not answers[ex.id].get("revealed")]


def progress_to_json(progress: dict[str, Any]) -> str:
    """The progress as a file's text."""
    return json.dumps(progress, indent=1, sort_keys=True)


def progress_from_json(
    text: str | bytes, seq: Sequence[Exercise], recheck: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """(progress, warnings) from an uploaded file; anything unusable is dropped with a warning.

    With `recheck`, an answer marked solved counts only if it still passes its checker (so an
    edited file cannot claim a solution). A file that is not progress gives fresh progress.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_PROGRESS_BYTES:
            return new_progress(), [f"The file is too large ({len(text):,} bytes) to be exercise progress."]
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return new_progress(), ["The file is not text: it is not exercise progress."]
    if len(text) > MAX_PROGRESS_BYTES:
        return new_progress(), [f"The file is too large ({len(text):,} characters) to be exercise progress."]
    try:
        data = loads_json(text, max_chars=MAX_PROGRESS_BYTES, max_depth=PROGRESS_DEPTH, what="The file")
    except OutsideInputError as err:
        return new_progress(), [f"{err}."]
    if not isinstance(data, dict) or data.get("format") != PROGRESS_FORMAT:
        return new_progress(), ["The file is not ConvNet Explorer exercise progress."]
    warnings = []
    if data.get("version") != PROGRESS_VERSION:
        warnings.append(f"The file is from another version ({plain(repr(data.get('version')), 20)}); read what could be read.")
    progress = new_progress()
    step = data.get("step", 0)
    if isinstance(step, int) and not isinstance(step, bool) and 0 <= step < len(seq):
        progress["step"] = step
    else:
        warnings.append(f"Ignored the step {plain(repr(step), 20)}; starting at the first exercise.")
    by_id = {ex.id: ex for ex in seq}
    raw = data.get("answers", {})
    if not isinstance(raw, dict):
        warnings.append("Ignored the answers: they are not a list of exercises.")
        raw = {}
    dropped, failed = 0, 0
    for ex_id, entry in raw.items():
        if ex_id not in by_id or not isinstance(entry, dict):
            dropped += 1
            continue
        answer = str(entry.get("answer", ""))[:MAX_ANSWER_CHARS]
        ok = entry.get("ok") is True
        if ok and recheck:
            try:
                ok = by_id[ex_id].check(answer)[0]
            except Exception:  # noqa: BLE001 - a checker that cannot run counts as not passed
                ok = False
            failed += not ok
        tries = entry.get("tries", 0)
        progress["answers"][ex_id] = {
            "answer": answer,
            "ok": ok,
            "tries": tries if isinstance(tries, int) and not isinstance(tries, bool) and 0 <= tries < 10**6 else 0,
            "revealed": entry.get("revealed") is True,
        }
    if dropped:
        warnings.append(f"Ignored {dropped} answer(s) to exercises this version does not have.")
    if failed:
        warnings.append(f"{failed} answer(s) marked solved do not pass their check here; they count as open.")
    return progress, warnings
