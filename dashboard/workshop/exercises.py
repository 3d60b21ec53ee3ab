"""Workshop mode: a sequence of short tasks, each checked by the app, and the learner's progress.

`exercises()` assembles the sequence from the words in `dashboard.workshop.exercise_texts` and the
checkers of `dashboard.workshop.exercise_checks` (expected values come from the layer arithmetic, checked
against Keras, or from a cached run's record). `attempt` and `reveal` are the page's two
actions: each returns new progress and the `Feedback` to show. An exercise may carry
`evidence`: lines from this server's cached runs shown with its feedback.

Progress is a plain JSON-ready dict (`new_progress`), kept in the session, downloaded as a
file and uploaded back (`progress_from_json` checks it and drops what it cannot use).

No Streamlit and no TensorFlow here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from dashboard.network.spec import BOOK, PRESETS, NetworkSpec
from dashboard.outside import OutsideInputError, loads_json, plain
from dashboard.store.run import RunRecord
from dashboard.workshop.answers import parse_int, parse_shape
from dashboard.workshop.exercise_checks import (
    MAX_ANSWER_CHARS,
    Check,
    RunLookup,
    budget_checker,
    choice_checker,
    final_map_checker,
    layer_row,
    params_checker,
    receptive_field,
    receptive_field_checker,
    shape_checker,
    shape_text,
    total_params,
)
from dashboard.workshop.exercise_texts import ONE_BY_ONE_CHOICES, ONE_BY_ONE_EXPLANATIONS, PLACEHOLDERS, TEXTS

__all__ = [
    "BUDGET_PARAMS", "BUDGET_TARGET", "MAX_ANSWER_CHARS", "Exercise", "Feedback", "attempt", "budget_checker",
    "exercises", "network_caption", "new_progress", "parse_int", "parse_shape", "progress_from_json", "progress_to_json",
    "record_attempt", "reveal", "solved", "statuses", "with_step",
]

Kind = Literal["shape", "number", "choice", "network", "run"]
Status = Literal["solved", "revealed", "open"]

PROGRESS_FORMAT = "convnet-explorer-exercises"
PROGRESS_VERSION = 1
MAX_PROGRESS_BYTES = 200_000
PROGRESS_DEPTH = 8  # progress > answers > entry: 3 levels
# Exercise 11 ("small but good"), measured with benchmarks/budget_candidates.py (fast preset: one
# epoch on full MNIST, last validation accuracy, seeds 0 and 1). The budget is below every preset
# and every shipped run (the smallest, tiny, has 14,410 parameters), so none solves it unworked.
# Under 10,000: tiny with Dense(16) (7,834) 98.43 / 98.10%; tiny without its Dense (5,258) 98.10 /
# 98.13%; three convs 8-16-32 and global average (6,218) 96.80 / 96.73%; two convs 12-24, no Dense
# (8,746) 98.50 / 98.52%; three convs 8-16-32, the third unpooled, no Dense (8,778) 98.63 / 98.67%.
BUDGET_PARAMS = 10_000
BUDGET_TARGET = 0.985


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
    placeholder: str = ""  # the answer box's example: a format, never an answer
    evidence: Callable[[Sequence[RunRecord]], list[str]] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Feedback:
    """What the page shows after Check or Show the answer: plain text (it may quote the answer)."""

    exercise_id: str
    status: Literal["right", "wrong", "revealed"]
    message: str


# --- the sequence --------------------------------------------------------------------------


def _default_lookup(key: str) -> Any:
    from dashboard.store.cache import ModelCache

    return ModelCache().get(key)


def _task(exercise_id: str, kind: Kind, check: Check, spec: NetworkSpec | None,
          reveal: Callable[[], str] | None, **extra: Any) -> Exercise:
    """An exercise whose words come from `TEXTS[exercise_id]`."""
    words = TEXTS[exercise_id]
    return Exercise(id=exercise_id, title=words["title"], prompt=words["prompt"], kind=kind, check=check,
                    hint=words["hint"], spec=spec, reveal=reveal, placeholder=PLACEHOLDERS.get(kind, ""), **extra)


def _shape(exercise_id: str, spec: NetworkSpec, layer: str) -> Exercise:
    check = shape_checker(spec, layer, TEXTS[exercise_id]["mistakes"])
    return _task(exercise_id, "shape", check, spec, lambda: shape_text(layer_row(spec, layer).output_shape))


def _params(exercise_id: str, spec: NetworkSpec, layer: str | None) -> Exercise:
    check = params_checker(spec, layer, TEXTS[exercise_id]["mistakes"])
    value = (lambda: total_params(spec)) if layer is None else (lambda: layer_row(spec, layer).params)
    return _task(exercise_id, "number", check, spec, lambda: f"{value():,}")


def one_by_one_evidence(runs: Sequence[RunRecord]) -> list[str]:
    """The book network against the 1×1 preset, their seeds together, for each training they share (at most 3)."""
    from dashboard.store.seeds import difference_words, group_runs

    one = PRESETS["one_by_one"]
    pairs: dict[Any, dict[str, Any]] = {}
    for group in group_runs(runs):
        run = group.first
        if run.settings is not None and run.spec in (BOOK, one):
            which = "book" if run.spec == BOOK else "one"
            pairs.setdefault((replace(run.settings, seed=0), run.data_fingerprint), {})[which] = group.spread
    return [f"Cached runs trained alike: book (3×3×64) {pair['book'].text()} · one_by_one (1×1×64) "
            f"{pair['one'].text()}. " + difference_words(pair["book"], pair["one"], "the book network", "The 1×1 map")
            for pair in pairs.values() if len(pair) == 2][:3]


def budget_texts() -> dict[str, str]:
    """The budget exercise's prompt and hint, with the budget, target and the tiny preset's numbers."""
    from dashboard.workshop.exercise_checks import rows

    tiny = PRESETS["tiny"]
    numbers = {"budget": BUDGET_PARAMS, "target": BUDGET_TARGET, "tiny": total_params(tiny),
               "tiny_dense": next(row.params for row in rows(tiny) if row.name == "dense")}
    return {part: TEXTS["budget"][part].format(**numbers) for part in ("prompt", "hint")}


def _default_siblings(record: Any) -> Any:
    from dashboard.store.cache import ModelCache
    from dashboard.store.seeds import group_of

    return group_of(record, ModelCache().runs())


def exercises(lookup: RunLookup | None = None, siblings: Callable[[Any], Any] | None = None) -> list[Exercise]:
    """The workshop's tasks, in order; `lookup(run_key)` finds cached runs (default: the model cache),
    `siblings(record)` a run's group of seeds (default: among the model cache's runs)."""
    siblings = siblings or (_default_siblings if lookup is None else None)
    lookup = lookup or _default_lookup
    no_pool, gap, one = PRESETS["no_pooling"], PRESETS["global_avg"], PRESETS["one_by_one"]
    rf_mistakes = TEXTS["last_rf"]["mistakes"]
    budget = _task("budget", "run", budget_checker(lookup, BUDGET_PARAMS, BUDGET_TARGET, siblings), PRESETS["tiny"], None)
    return [
        _shape("conv1_shape", BOOK, "conv2d"),
        _params("conv1_params", BOOK, "conv2d"),
        _shape("last_shape", BOOK, "conv2d_2"),
        _task("last_rf", "number", receptive_field_checker(BOOK, "conv2d_2", rf_mistakes), BOOK,
              lambda: str(receptive_field(BOOK, "conv2d_2"))),
        _params("dense_params", BOOK, "dense"),
        _params("book_total", BOOK, None),
        _params("no_pool_params", no_pool, "dense"),
        _params("gap_params", gap, "dense"),
        _task("one_by_one", "network", final_map_checker(1), one, one.to_json),
        _task("one_by_one_why", "choice", choice_checker(ONE_BY_ONE_CHOICES, 1, ONE_BY_ONE_EXPLANATIONS), one,
              lambda: ONE_BY_ONE_CHOICES[1], choices=ONE_BY_ONE_CHOICES, evidence=one_by_one_evidence),
        replace(budget, **budget_texts()),
    ]


# --- the page's actions ----------------------------------------------------------------------


def attempt(progress: dict[str, Any], item: Exercise, answer: str) -> tuple[dict[str, Any], Feedback]:
    """Check `answer`: (new progress, feedback); a blank answer is explained but not counted."""
    try:
        ok, message = item.check(answer)
    except Exception as err:  # noqa: BLE001 - a failing checker must not break the workshop
        ok, message = False, f"This answer could not be checked ({type(err).__name__}: {plain(err, 120)})."
    if str(answer).strip():
        progress = record_attempt(progress, item.id, answer, ok)
    return progress, Feedback(item.id, "right" if ok else "wrong", message)


def reveal(progress: dict[str, Any], item: Exercise, answer: str) -> tuple[dict[str, Any], Feedback]:
    """Show the answer: (new progress where this exercise no longer counts as solved, feedback)."""
    if item.reveal is None:
        return progress, Feedback(item.id, "wrong", "This exercise has no single answer to show.")
    progress = record_attempt(progress, item.id, answer, False, revealed=True)
    return progress, Feedback(item.id, "revealed", f"The answer: {item.reveal()}")


def network_caption(item: Exercise, progress: dict[str, Any]) -> str | None:
    """The caption naming the exercise's network (markdown), or None when there is none to show.

    A task about a given network names it from the start; in a task whose answer is a network
    ("network" kind) the network is one solution, named only once the learner has checked or
    revealed an answer, so that it never reads as the answer given away.
    """
    if item.spec is None or item.kind == "run":
        return None
    if item.kind != "network":
        return f"The network: `{item.spec.describe()}`"
    if item.id not in progress.get("answers", {}):
        return None
    return f"One network that does it: `{item.spec.describe()}`"


def statuses(progress: dict[str, Any], seq: Sequence[Exercise]) -> list[Status]:
    """'solved', 'revealed' (answer seen first) or 'open' for each exercise of `seq`."""
    done = set(solved(progress, seq))
    answers = progress.get("answers", {})
    return ["solved" if ex.id in done else "revealed" if answers.get(ex.id, {}).get("revealed") else "open"
            for ex in seq]


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


def _entry(entry: dict[str, Any], item: Exercise, recheck: bool) -> dict[str, Any]:
    """One uploaded answer, cleaned; with `recheck`, 'ok' only if the answer still passes its check."""
    answer = str(entry.get("answer", ""))[:MAX_ANSWER_CHARS]
    ok = entry.get("ok") is True
    if ok and recheck:
        try:
            ok = bool(item.check(answer)[0])
        except Exception:  # noqa: BLE001 - a checker that cannot run counts as not passed
            ok = False
    tries = entry.get("tries", 0)
    return {
        "answer": answer,
        "ok": ok,
        "tries": tries if isinstance(tries, int) and not isinstance(tries, bool) and 0 <= tries < 10**6 else 0,
        "revealed": entry.get("revealed") is True,
    }


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
        progress["answers"][ex_id] = _entry(entry, by_id[ex_id], recheck)
        failed += entry.get("ok") is True and not progress["answers"][ex_id]["ok"]
    if dropped:
        warnings.append(f"Ignored {dropped} answer(s) to exercises this version does not have.")
    if failed:
        warnings.append(f"{failed} answer(s) marked solved do not pass their check here; they count as open.")
    return progress, warnings
