"""Workshop exercises: each checker with right and wrong answers; progress round-trips and hostile files."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from dashboard.inspection.evaluation import paired_accuracies
from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec, final_map
from dashboard.store.cache import SHIPPED_ROOT, ModelCache
from dashboard.store.run import RunRecord
from dashboard.training.train_settings import TrainSettings
from dashboard.workshop import exercises as ex
from dashboard.workshop.exercise_texts import PLACEHOLDERS, TEXTS

# The book's numbers (Deep Learning with Python, listing 5.1 and model.summary()).
BOOK_ANSWERS = {
    "conv1_shape": "(None, 26, 26, 32)",
    "conv1_params": "320",
    "last_shape": "(None, 3, 3, 64)",
    "last_rf": "18",
    "dense_params": "36,928",
    "book_total": "93,322",
    "no_pool_params": "1,982,528",  # 22·22·64·64 + 64
    "gap_params": "4160",  # 64·64 + 64
    "one_by_one_why": "2",
}
WRONG_ANSWERS = {
    "conv1_shape": "(None, 28, 28, 32)",
    "conv1_params": "288",
    "last_shape": "5x5x64",
    "last_rf": "9",
    "dense_params": "36864",
    "book_total": "93,000",
    "no_pool_params": "36,928",
    "gap_params": "36928",
    "one_by_one_why": "1",
}


def record(key: str = "k1", params: int = 14_410, val: list[float] | None = None, spec=PRESETS["tiny"]) -> RunRecord:
    """A real cache record, as the budget exercise reads it."""
    history = {"loss": [0.3, 0.1], "accuracy": [0.9, 0.97], "val_loss": [0.2, 0.08], "val_accuracy": [0.97, 0.983] if val is None else val}
    return RunRecord(
        key=key, spec=spec, settings=TrainSettings(), history=history, test_accuracy=0.98, params=params,
        final_map=final_map(spec), train_seconds=10.0, data_source="embedded", data_label="embedded", data_fingerprint="f",
    )


def lookup_of(*records: RunRecord):
    table = {r.key: r for r in records}
    return table.get


@pytest.fixture(scope="module")
def seq():
    small = record("k2", params=8_778, val=[0.97, 0.9863], spec=BUDGET_DESIGN)  # solves the budget exercise
    return ex.exercises(lookup=lookup_of(record(), small))


def by_id(seq, exercise_id):
    return next(item for item in seq if item.id == exercise_id)


def test_the_sequence_is_complete_and_ordered(seq):
    ids = [item.id for item in seq]
    assert len(ids) == len(set(ids)) >= 8
    assert set(BOOK_ANSWERS) < set(ids) and {"one_by_one", "budget"} < set(ids)
    assert ids[0] == "conv1_shape" and ids[-1] == "budget"
    for item in seq:
        assert item.prompt and item.hint and item.title
        assert (item.kind == "choice") == bool(item.choices)


@pytest.mark.parametrize("exercise_id", sorted(BOOK_ANSWERS), ids=sorted(BOOK_ANSWERS))
def test_the_books_numbers_pass(seq, exercise_id):
    ok, feedback = by_id(seq, exercise_id).check(BOOK_ANSWERS[exercise_id])
    assert ok, feedback


@pytest.mark.parametrize("exercise_id", sorted(WRONG_ANSWERS), ids=sorted(WRONG_ANSWERS))
def test_wrong_answers_fail_with_feedback(seq, exercise_id):
    ok, feedback = by_id(seq, exercise_id).check(WRONG_ANSWERS[exercise_id])
    assert not ok and feedback


# (exercise, a common wrong answer, words its feedback must contain, words it must not contain)
FEEDBACK = [
    # conv2d: no pooling in this layer, so no pooling in its feedback (issue 13)
    ("conv1_shape", "(None, 28, 28, 32)", "'same' padding", "pooling"),
    ("conv1_shape", "(None, 13, 13, 32)", "output of max_pooling2d (MaxPooling2D), the layer after conv2d", "check the height"),
    ("conv1_shape", "(None, 25, 25, 32)", "Off by one", "pooling"),
    ("conv1_shape", "(None, 26, 26, 3)", "kernel", "pooling"),
    ("conv1_shape", "(None, 26, 26, 1)", "one output map per filter", "pooling"),
    ("conv1_shape", "(None, 24, 24, 32)", "conv2d is a 3×3 conv with 'valid' padding and 32 filters, applied to the 28×28×1 digit", "pooling"),
    ("conv1_shape", "(None, 32, 26, 26)", "channels last", "pooling"),
    ("conv1_params", "288", "conv2d's weights only", "biases?"),
    ("conv1_params", "9", "one filter's weights", None),
    ("conv1_params", "10", "one filter", None),
    ("conv1_params", "96", "3 × 3 = 9", None),
    ("conv1_params", "128", "3 × 3 = 9", None),
    ("conv1_params", "21,632", "counted once", None),
    ("conv1_params", "18,496", "parameter count of conv2d_1, not of conv2d", None),
    ("conv1_params", "1000", "too high. conv2d is a 3×3 conv", None),
    ("last_shape", "(None, 5, 5, 64)", "output of max_pooling2d_1 (MaxPooling2D), the layer before conv2d_2", None),
    ("last_shape", "(None, 11, 11, 64)", "output of conv2d_1 (Conv2D), two layers before conv2d_2", None),
    ("last_shape", "(None, 4, 4, 64)", "rounds down", None),
    ("last_shape", "(None, 7, 7, 64)", "poolings alone", None),
    ("last_shape", "(None, 3, 3, 32)", "conv2d_2 has 64 filters", None),
    ("last_shape", "(None, 2, 2, 64)", "conv2d_2 is a 3×3 conv with 'valid' padding and 64 filters, applied to max_pooling2d_1's output", None),
    ("last_rf", "3", "conv2d_2's window on its own input", None),
    ("last_rf", "7", "three 3×3 convs alone", None),
    ("last_rf", "9", "the jump", None),
    ("last_rf", "8", "receptive field of conv2d_1", None),
    ("last_rf", "10", "receptive field of max_pooling2d_1, the layer before conv2d_2", None),
    ("last_rf", "28", "Not the whole digit", None),
    ("last_rf", "20", "too high", None),
    ("dense_params", "36,864", "dense's weights only", None),
    ("dense_params", "576", "number of dense's inputs", None),
    ("dense_params", "4,160", "Flatten passes all 3 × 3 × 64 = 576", None),
    ("dense_params", "650", "parameter count of dense_1, not of dense", None),
    ("dense_params", "40,000", "(inputs + 1 bias) × units", None),
    ("book_total", "93,088", "weights only", None),
    ("book_total", "92,672", "leaves out dense_1 (650 parameters)", None),
    ("book_total", "56,394", "leaves out conv2d_2 or dense (36,928 parameters each)", None),
    ("book_total", "55,744", "only the Conv2D layers", None),
    ("book_total", "37,578", "only the Dense layers", None),
    ("book_total", "93,000", "too low", None),
    ("no_pool_params", "36,928", "22 × 22 × 64 numbers", None),
    ("no_pool_params", "30,976", "number of dense's inputs", None),
    ("no_pool_params", "1,982,464", "dense's weights only", None),
    ("gap_params", "36,928", "one number per map: 64 inputs", None),
    ("gap_params", "64", "number of dense's inputs", None),
    ("gap_params", "4,096", "dense's weights only", None),
    ("gap_params", "650", "parameter count of dense_1", None),
    ("one_by_one", BOOK.to_json(), "3×3×64, not 1×1", None),
    ("one_by_one_why", "1", "sees the whole 28×28 digit", None),
    ("one_by_one_why", "3", "more depth is not free", None),
]


@pytest.mark.parametrize("exercise_id, answer, words, not_words", FEEDBACK,
                         ids=[f"{e}-{a[:20]}" for e, a, _, _ in FEEDBACK])
def test_feedback_per_wrong_answer_is_about_the_layer_asked(seq, exercise_id, answer, words, not_words):
    ok, feedback = by_id(seq, exercise_id).check(answer)
    assert not ok and words in feedback, feedback
    assert not_words is None or not_words not in feedback, feedback


@pytest.mark.parametrize("exercise_id", sorted(TEXTS))
def test_every_listed_mistake_is_wrong_and_gets_its_own_feedback(seq, exercise_id):
    item = by_id(seq, exercise_id)
    for answer, message in TEXTS[exercise_id]["mistakes"].items():
        assert item.check(answer) == (False, message), answer


def test_every_common_mistake_is_covered_by_a_feedback_test():
    tested = {(e, a) for e, a, _, _ in FEEDBACK}
    assert all((e, a) in tested for e, words in TEXTS.items() for a in words["mistakes"])


def test_no_placeholder_is_an_answer_of_any_exercise(seq):
    placeholders = {item.placeholder for item in seq if item.placeholder} | set(PLACEHOLDERS.values())
    assert placeholders == set(PLACEHOLDERS.values())
    for text in placeholders:
        for candidate in (text, text.removeprefix("e.g. "), *text.split(", like ")):
            for item in seq:
                assert not item.check(candidate)[0], (text, item.id)
    numbers = {ex.parse_int(n) for text in placeholders for n in re.findall(r"[\d,]+\d", text)}
    answers = {ex.parse_int(by_id(seq, e).reveal()) for e in BOOK_ANSWERS if e != "one_by_one_why"}
    assert numbers and not numbers & answers


def test_attempt_and_reveal_return_progress_and_feedback(seq):
    item = by_id(seq, "conv1_params")
    progress, feedback = ex.attempt(ex.new_progress(), item, "288")
    assert feedback == ex.Feedback("conv1_params", "wrong", item.check("288")[1])
    assert progress["answers"]["conv1_params"]["tries"] == 1
    progress, feedback = ex.attempt(progress, item, "  ")
    assert feedback.status == "wrong" and progress["answers"]["conv1_params"]["tries"] == 1
    progress, feedback = ex.attempt(progress, item, "320")
    assert feedback.status == "right" and ex.statuses(progress, seq)[1] == "solved"
    progress, feedback = ex.reveal(progress, by_id(seq, "book_total"), "")
    assert feedback == ex.Feedback("book_total", "revealed", "The answer: 93,322")
    assert ex.statuses(progress, seq)[:6] == ["open", "solved", "open", "open", "open", "revealed"]


def test_evidence_pairs_cached_runs_of_the_one_by_one_exercise(seq):
    item = by_id(seq, "one_by_one_why")
    runs = [replace(record("a", spec=BOOK), test_accuracy=0.99), replace(record("b", spec=PRESETS["one_by_one"]), test_accuracy=0.985)]
    assert item.evidence(runs) == [
        "Cached runs trained alike: book (3×3×64) 99.00% (1 seed) · one_by_one (1×1×64) 98.50% (1 seed). The 1×1 map "
        "scores 0.50 points below the book network, but with 1 trained seed on one side that cannot tell a real "
        "difference from the luck of one training: add seeds to know."]
    assert all(other.evidence is None for other in seq if other is not item)


@pytest.mark.parametrize("exercise_id", sorted(BOOK_ANSWERS) + ["one_by_one"])
def test_the_revealed_answer_passes_its_own_check(seq, exercise_id):
    item = by_id(seq, exercise_id)
    assert item.check(item.reveal())[0]


@pytest.mark.parametrize(
    "answer, shape",
    [
        ("(None, 3, 3, 64)", (3, 3, 64)),
        ("3x3x64", (3, 3, 64)),
        ("3 × 3 × 64", (3, 3, 64)),
        ("[3, 3, 64]", (3, 3, 64)),
        ("None, 576", (576,)),
        ("three by three", None),
        ("(3, 3, 64); import os", None),
        ("", None),
        ("1,2,3,4,5,6,7", None),
    ],
    ids=["keras", "x", "times", "list", "flat", "words", "injection", "empty", "too-many"],
)
def test_parse_shape(answer, shape):
    assert ex.parse_shape(answer) == shape


@pytest.mark.parametrize(
    "answer, value",
    [("93322", 93322), ("93,322", 93322), (" 93 322 ", 93322), ("93_322", 93322), ("-5", -5),
     ("9.3e4", None), ("lots", None), ("", None), ("1" * 40, None)],
    ids=["plain", "commas", "spaces", "underscores", "negative", "float", "words", "empty", "huge"],
)
def test_parse_int(answer, value):
    assert ex.parse_int(answer) == value


@pytest.mark.parametrize(
    "answer, expected_words",
    [
        ("(None, 26, 26)", "3 numbers"),
        ("(None, 32, 26, 26)", "wrong order"),
        ("(None, 24, 24, 32)", "channels are right"),
        ("(None, 26, 26, 1)", "Height and width are right"),
        ("twenty-six", "could not read"),
        ("x" * 5000, "too long"),
        ("   ", "Type an answer"),
    ],
    ids=["missing-channels", "channels-first", "size-wrong", "filters-wrong", "words", "too-long", "blank"],
)
def test_shape_feedback_says_what_is_wrong(seq, answer, expected_words):
    ok, feedback = by_id(seq, "conv1_shape").check(answer)
    assert not ok and expected_words in feedback


def test_count_feedback_says_too_high_or_too_low_and_spots_missing_biases(seq):
    check = by_id(seq, "dense_params").check
    assert "too low" in check("36,864")[1] and "bias" in check("36,864")[1]
    assert "too high" in check("100000")[1]
    assert "could not read" in check("about 37k")[1]


def test_choice_accepts_number_letter_or_text(seq):
    item = by_id(seq, "one_by_one_why")
    assert item.check("2")[0] and item.check("b")[0] and item.check(item.choices[1])[0]
    assert not item.check("a")[0] and not item.check("3")[0]
    ok, feedback = item.check("7")
    assert not ok and "Pick one" in feedback


@pytest.mark.parametrize(
    "answer, ok",
    [
        (PRESETS["one_by_one"].to_json(), True),
        (BOOK.with_block(2, pool=True).to_json(), True),
        (BOOK.to_json(), False),
        ('{"blocks": [{"filters": 100000}]}', False),
        ("{not json", False),
        ("[" * 1500 + "]" * 1500, False),
    ],
    ids=["preset", "third-pool", "book-3x3", "invalid-net", "broken-json", "deep-nesting"],
)
def test_final_map_checker(seq, answer, ok):
    result, feedback = by_id(seq, "one_by_one").check(answer)
    assert result is ok and feedback


def test_one_by_one_feedback_names_the_map(seq):
    ok, feedback = by_id(seq, "one_by_one").check(BOOK.to_json())
    assert "3×3×64" in feedback and "not 1×1" in feedback
    ok, feedback = by_id(seq, "one_by_one").check(PRESETS["one_by_one"].to_json())
    assert "1×1×64" in feedback and "97,482" in feedback


@pytest.mark.parametrize(
    "run, ok, words",
    [
        (record(), True, "14,410 parameters and 98.30%"),
        (record(params=93_322), False, "over the budget"),
        (record(val=[0.99, 0.975]), False, "under the target"),  # the last epoch counts
        (record(params=50_000, val=[0.5]), False, "over the budget of 20,000 and 50.00%"),
        (record(params=50_000, spec=BOOK), False, "Its biggest layer is conv2d_2 (36,928 of 50,000 parameters)"),
        (record(val=[]), False, "no validation accuracy"),
    ],
    ids=["fits", "too-big", "last-epoch-too-weak", "both", "biggest-layer", "no-history"],
)
def test_budget_checker_reads_the_cached_record(run, ok, words):
    check = ex.budget_checker(lookup_of(run), 20_000, 0.98)
    result, feedback = check(run.key)
    assert result is ok and words in feedback


# The design benchmarks/budget_candidates.py measured at 98.63% / 98.67% validation (fast preset,
# full MNIST, seeds 0 and 1): three small convs, the last unpooled, and no hidden Dense layer.
BUDGET_DESIGN = NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16), ConvBlock(32, pool=False)), dense_units=0)


def test_no_preset_and_no_shipped_run_solves_the_budget_exercise(seq):
    assert all(ex.total_params(spec) > ex.BUDGET_PARAMS for spec in PRESETS.values())
    shipped = [run for run in ModelCache(root=Path(tempfile.mkdtemp()), shipped_root=SHIPPED_ROOT).runs() if run.shipped]
    assert len(shipped) >= 5
    check = ex.exercises(lookup={run.key: run for run in shipped}.get)[-1].check
    for run in shipped:
        ok, feedback = check(run.key)
        assert not ok, (run.key, feedback)
        if run.trained:
            assert "over the budget of 10,000" in feedback, (run.key, feedback)
        else:  # a failed training is called a failure, whatever its size
            assert feedback.startswith("This training failed") and "another seed" in feedback, (run.key, feedback)


def test_the_budget_leaves_room_for_a_design_that_reaches_the_target(seq):
    assert ex.total_params(BUDGET_DESIGN) == 8_778 <= ex.BUDGET_PARAMS
    item = by_id(seq, "budget")
    assert "10,000 parameters" in item.prompt and "98.5%" in item.prompt
    assert "tiny (14,410)" in item.hint and "12,832" in item.hint  # tiny's dense: 400 × 32 + 32
    run = record("mine", params=8_778, val=[0.97, 0.9863], spec=BUDGET_DESIGN)
    assert ex.budget_checker(lookup_of(run), ex.BUDGET_PARAMS, ex.BUDGET_TARGET)("mine")[0]
    near = record("near", params=7_834, val=[0.97, 0.9843], spec=NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16)), dense_units=16))
    ok, feedback = ex.budget_checker(lookup_of(near), ex.BUDGET_PARAMS, ex.BUDGET_TARGET)("near")
    assert not ok and "98.43% validation accuracy is under the target of 98.5%" in feedback


def test_budget_checker_with_missing_damaged_or_hostile_runs():
    def broken(key):
        raise OSError("disk on fire")

    assert "not in the cache" in ex.budget_checker(lookup_of(), 20_000, 0.98)("abc")[1]
    assert "cannot be read" in ex.budget_checker(broken, 20_000, 0.98)("abc")[1]
    assert "Pick one" in ex.budget_checker(lookup_of(), 20_000, 0.98)("../../etc/passwd")[1]


def test_budget_checker_reads_the_typed_run():
    run = record("x", params=10_000, val=[0.95, 0.99])
    assert ex.budget_checker(lookup_of(run), 20_000, 0.98)("x")[0]
    no_history = replace(run, history={})  # e.g. an imported run: no validation accuracy, not solved
    ok, feedback = ex.budget_checker(lookup_of(no_history), 20_000, 0.98)("x")
    assert not ok and "no validation accuracy" in feedback


# --- progress ------------------------------------------------------------------------------


def test_record_attempt_returns_new_progress_and_keeps_a_solution(seq):
    start = ex.new_progress()
    one = ex.record_attempt(start, "conv1_params", "288", False)
    two = ex.record_attempt(one, "conv1_params", "320", True)
    three = ex.record_attempt(two, "conv1_params", "999", False)
    assert start["answers"] == {} and one["answers"]["conv1_params"]["tries"] == 1
    assert three["answers"]["conv1_params"] == {"answer": "999", "ok": True, "tries": 3, "revealed": False}
    assert ex.solved(three, seq) == ["conv1_params"]
    revealed = ex.record_attempt(ex.new_progress(), "last_rf", "", False, revealed=True)
    revealed = ex.record_attempt(revealed, "last_rf", "18", True)
    assert ex.solved(revealed, seq) == [], "an answer seen first does not count as solved"


def test_progress_round_trips_through_json(seq):
    progress = ex.new_progress()
    progress = ex.record_attempt(progress, "conv1_shape", "26x26x32", True)
    progress = ex.record_attempt(progress, "budget", "k2", True)
    progress = ex.with_step(progress, 4)
    text = ex.progress_to_json(progress)
    json.loads(text)  # a plain JSON file
    again, warnings = ex.progress_from_json(text.encode(), seq)
    assert again == progress and warnings == []


def test_an_edited_file_cannot_claim_a_wrong_solution(seq):
    forged = ex.record_attempt(ex.new_progress(), "book_total", "1", True)
    again, warnings = ex.progress_from_json(ex.progress_to_json(forged), seq)
    assert again["answers"]["book_total"]["ok"] is False
    assert any("do not pass" in w for w in warnings)


@pytest.mark.parametrize(
    "content, words",
    [
        (b"\xff\xfe\x00garbage", "not text"),
        (b"{not json", "not valid JSON"),
        (b'{"format": "something-else"}', "not ConvNet Explorer"),
        (b"[1, 2, 3]", "not ConvNet Explorer"),
        (b" " * 300_000 + b"{}", "too large"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (json.dumps({"format": ex.PROGRESS_FORMAT, "version": 1, "step": 99, "answers": {}}).encode(), "Ignored the step"),
        (json.dumps({"format": ex.PROGRESS_FORMAT, "version": 1, "step": 0, "answers": {"rm -rf": {}, "conv1_params": 5}}).encode(), "Ignored 2"),
        (json.dumps({"format": ex.PROGRESS_FORMAT, "version": 7, "step": 0, "answers": []}).encode(), "another version"),
    ],
    ids=["binary", "broken-json", "other-format", "a-list", "huge", "deep-nesting", "bad-step", "unknown-exercises", "other-version"],
)
def test_hostile_progress_files_fall_back_with_a_warning(seq, content, words):
    progress, warnings = ex.progress_from_json(content, seq)
    assert any(words in w for w in warnings), warnings
    assert 0 <= progress["step"] < len(seq)
    assert all(key in {item.id for item in seq} for key in progress["answers"])


def test_paired_accuracies_pair_runs_trained_alike_only():
    one = PRESETS["one_by_one"]
    fast, five = TrainSettings(epochs=2), TrainSettings(epochs=5)

    def run(key, spec, settings, fingerprint, accuracy):
        return replace(record(key, spec=spec), settings=settings, data_fingerprint=fingerprint, test_accuracy=accuracy)

    records = [
        run("a", BOOK, fast, "full", 0.99),
        run("b", one, fast, "full", 0.985),
        run("c", one, five, "full", 0.99),
        run("d", BOOK, fast, "embedded", 0.97),
        run("e", PRESETS["tiny"], fast, "full", 0.98),
    ]
    assert paired_accuracies(records, BOOK, one) == [(0.99, 0.985)]
    assert paired_accuracies(records[2:], BOOK, one) == []


def test_budget_feedback_names_the_spread_of_the_networks_seeds_and_calls_a_failure_a_failure():
    from dashboard.store.seeds import RunGroup
    from dashboard.training.train_settings import TRAIN_PRESETS
    from tests.unit.test_run import trained

    small = NetworkSpec.from_dict({"blocks": [{"filters": 4, "pool": True}], "dense_units": 0})
    runs = [trained(f"s{seed}", small, replace(TRAIN_PRESETS["fast"], seed=seed), params=5_000,
                    history={"val_accuracy": [acc]}, test_accuracy=acc, trained=acc > 0.5)
            for seed, acc in enumerate((0.985, 0.981, 0.11))]
    check = ex.budget_checker({r.key: r for r in runs}.get, 10_000, 0.98, siblings=lambda r: RunGroup(tuple(runs)))
    ok, feedback = check("s0")
    assert ok and feedback.endswith("test accuracy over its seeds: 98.30% (median of 2 seeds, 98.10%–98.50%; "
                                    "1 more did not train).")
    ok, feedback = check("s2")
    assert not ok and feedback.startswith("This training failed")


@pytest.mark.parametrize("answer", ["18", "18x18", "18×18", "18 x 18", "18 by 18", "18 pixels", "18x18 px"])
def test_the_receptive_field_is_read_as_a_side_written_once_or_twice(seq, answer):
    ok, feedback = by_id(seq, "last_rf").check(answer)
    assert ok and feedback == "Right: 18 pixels: one position of conv2d_2 sees an 18×18 window of the digit.", feedback


@pytest.mark.parametrize("answer, words", [
    ("3x3", "conv2d_2's window on its own input"), ("3 × 3", "conv2d_2's window on its own input"),
    ("18x20", "The window is square"), ("324", "area"), ("eighteen", "could not read a side"),
])
def test_the_receptive_field_feedback_reads_the_side_as_typed(seq, answer, words):
    ok, feedback = by_id(seq, "last_rf").check(answer)
    assert not ok and words in feedback, feedback


@pytest.mark.parametrize("exercise_id, answer", [
    ("conv1_shape", "(None,26,26,32)"), ("conv1_shape", "26x26x32"), ("conv1_shape", "26 × 26 × 32"),
    ("conv1_params", "(3*3*1 + 1) * 32"), ("conv1_params", "320 params"),
    ("dense_params", "36928"), ("dense_params", "36,928"), ("dense_params", "36 928"), ("dense_params", "576 × 64 + 64"),
    ("book_total", "93 322"), ("book_total", "93\u202f322"),
])
def test_every_answer_box_reads_the_forms_a_learner_types(seq, exercise_id, answer):
    ok, feedback = by_id(seq, exercise_id).check(answer)
    assert ok, feedback


def test_a_product_typed_in_a_count_box_meets_its_mistake(seq):
    ok, feedback = by_id(seq, "conv1_params").check("26x26x32")
    assert not ok and "number of conv2d's outputs" in feedback
    assert "could not read" in by_id(seq, "dense_params").check("1,2,3")[1]


def test_the_network_to_build_is_named_only_after_an_answer(seq):
    build, shape = by_id(seq, "one_by_one"), by_id(seq, "conv1_shape")
    progress = ex.new_progress()
    assert ex.network_caption(build, progress) is None
    assert "conv32" in ex.network_caption(shape, progress)
    progress, _ = ex.attempt(progress, build, '{"blocks": []}')
    assert build.spec.describe() in ex.network_caption(build, progress)
