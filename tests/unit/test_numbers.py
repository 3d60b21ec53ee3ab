"""How many numbers: family membership, seeds grouped into one point, sentences computed from the measurements."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashboard.network.spec import BOOK, PRESETS, NetworkSpec
from dashboard.store.run import RunRecord
from dashboard.store.seeds import RunGroup, group_runs
from dashboard.training.train_settings import TrainSettings
from dashboard.views.accuracy_by_size import (
    NumbersPoint,
    choose_points,
    classifier_numbers,
    family_filters,
    numbers_sentences,
    point_of,
    seeds_caption,
)
from tests.unit.test_run import imported, trained

FAST = TrainSettings(epochs=2, batch_size=128)
OTHER = TrainSettings(epochs=1, batch_size=64)
FULL = "file (60,000 train + 10,000 test images)"


def Rec(key: str, spec: NetworkSpec, test_accuracy: float, settings: TrainSettings = FAST, seed: int = 0,
        data_fingerprint: str = "full", data_label: str = FULL, ok: bool = True) -> RunRecord:
    return trained(key, spec, replace(settings, seed=seed), test_accuracy=test_accuracy,
                   data_fingerprint=data_fingerprint, data_source="file", data_label=data_label, trained=ok,
                   diagnosis=None if ok else "This training failed: 1 of 1 channel of the last conv layer never fires.")


def book_with(filters: int) -> NetworkSpec:
    return BOOK.with_block(2, filters=filters)


def family(accs: dict[int, float | tuple[float, ...]], **kw) -> list[RunRecord]:
    """Records of the family; a tuple of accuracies is one run per seed."""
    out = []
    for n, value in accs.items():
        for seed, acc in enumerate(value if isinstance(value, tuple) else (value,)):
            out.append(Rec(f"f{n}s{seed}", book_with(n), acc, seed=seed, **kw))
    return out


def one(record: RunRecord) -> RunGroup:
    return RunGroup((record,))


def test_family_and_references_are_found_by_their_network():
    assert family_filters(BOOK) == 64 and family_filters(BOOK.with_block(2, filters=4)) == 4
    assert family_filters(BOOK.with_block(2, kernel_size=5)) is None
    assert family_filters(BOOK.with_block(1, filters=8)) is None
    assert family_filters(PRESETS["global_avg"]) is None
    assert classifier_numbers(BOOK) == 576 and classifier_numbers(BOOK.with_block(2, filters=1)) == 9
    assert classifier_numbers(PRESETS["global_avg"]) == 64 and classifier_numbers(PRESETS["no_pooling"]) == 30_976
    assert point_of(one(Rec("g", PRESETS["global_avg"], 0.98))).role == "global_avg"
    assert point_of(one(Rec("t", PRESETS["tiny"], 0.98))) is None
    assert point_of(one(imported())) is None


def test_the_set_with_most_family_networks_wins_and_seeds_make_one_point():
    fast = family({1: 0.95, 64: (0.99, 0.991, 0.989)}) + [Rec("ref", PRESETS["one_by_one"], 0.985)]
    quick = family({1: 0.5, 2: 0.6, 4: 0.7}, settings=OTHER, data_fingerprint="sub", data_label="embedded subset")
    points, sample = choose_points(fast + quick)
    assert [(p.role, p.numbers, p.test_accuracy) for p in points] == [("family", 9, 0.5), ("family", 18, 0.6), ("family", 36, 0.7)]
    assert sample.settings == OTHER
    # With equal family counts the preferred settings win (whatever the seed); seeds make one point.
    points, sample = choose_points(fast + family({1: 0.5, 2: 0.6}, settings=OTHER), preferred_settings=replace(FAST, seed=7))
    assert sample.settings.epochs == FAST.epochs and [p.role for p in points] == ["family", "family", "one_by_one"]
    book = points[1]
    assert (book.spread.n, book.test_accuracy, book.spread.low, book.spread.high) == (3, 0.99, 0.989, 0.991)
    assert book.key == "f64s0" and [s for s, _, _ in book.seeds] == [0, 1, 2]
    assert choose_points([]) == ([], None)


def pts(family_accs: dict, refs: dict | None = None) -> list[NumbersPoint]:
    recs = family(family_accs)
    for name, value in (refs or {}).items():
        for seed, acc in enumerate(value if isinstance(value, tuple) else (value,)):
            recs.append(Rec(f"{name}{seed}", PRESETS[name], acc, seed=seed))
    return [point_of(g) for g in group_runs(recs)]


def test_single_seed_sentences_state_the_numbers_and_say_one_seed_cannot_tell():
    points = pts(
        {1: 0.9712, 2: 0.9801, 4: 0.9866, 8: 0.9893, 16: 0.9902, 32: 0.9911, 64: 0.9907},
        {"global_avg": 0.9838, "one_by_one": 0.9846, "no_pooling": 0.9921},
    )
    text = numbers_sentences(points)
    assert text[0] == (
        "With 9 numbers (3×3×1) the network reads 97.12% (1 seed) of the test digits; with 576 (3×3×64), 99.07% (1 seed)."
    )
    assert "even 9 numbers are far above the 10% of guessing" in text[1]
    assert text[2].startswith("From 72 numbers (8 filters) on, no network is below the best (99.11% at 288)")
    assert text[3] == "The smallest map whose median reaches 99% has 144 numbers."
    assert "288 numbers (3×3×32), but with 1 trained seed on one side that cannot tell" in text[4]
    assert "0.04 points below" in text[4]
    assert text[5].startswith("The global-average head keeps 64 numbers and forgets where: 98.38% (1 seed).")
    assert "cannot tell" in text[5]
    assert "1×1 last map (64 numbers" in text[6] and "98.46% (1 seed)" in text[6]
    assert text[7].startswith("Without pooling the last map is 22×22×64 = 30,976 numbers: 99.21% (1 seed). With 54× as many")


def test_a_difference_beyond_the_spread_is_called_real_and_one_within_it_is_not():
    real = numbers_sentences(pts({32: (0.990, 0.991, 0.992), 64: (0.980, 0.981, 0.982)}))
    drop = next(s for s in real if s.startswith("More is not always better"))
    assert drop.startswith("More is not always better: the 576 numbers (3×3×64) scores 1.00 points below the 288 numbers "
                           "(3×3×32) on average (3 and 3 seeds), more than the seed-to-seed spread (2 standard errors: 0.16 points).")
    noise = numbers_sentences(pts({32: (0.990, 0.992, 0.9905), 64: (0.9895, 0.9915, 0.9902)}))
    drop = next(s for s in noise if s.startswith("The median dips from 288 to 576 numbers, but: "))
    assert "less than the seed-to-seed spread" in drop and "no real difference" in drop
    assert not any(word in drop for word in ("gain", "above the", "below the"))


def test_failed_trainings_are_counted_apart_and_never_plotted_as_what_numbers_carry():
    recs = family({2: (0.955, 0.96, 0.957), 64: (0.992, 0.991, 0.993)})
    recs += [Rec("f1s0", book_with(1), 0.1135, seed=0, ok=False), Rec("f1s1", book_with(1), 0.1135, seed=1, ok=False),
             Rec("f1s2", book_with(1), 0.952, seed=2)]
    points, _ = choose_points(recs)
    nine = points[0]
    assert (nine.numbers, nine.spread.n, nine.spread.failed, nine.test_accuracy) == (9, 1, 2, 0.952)
    text = numbers_sentences(points)
    assert text[0].startswith("With 9 numbers (3×3×1) the network reads 95.20% (1 seed; 2 more did not train)")
    assert "2 of 3 trainings of the 1-filter network (9 numbers) did not train: its loss stayed at that of a uniform " \
           "guess. Its point is the median of the 1 that did." in text
    dead = [Rec("d0", book_with(1), 0.1135, ok=False)] + family({2: 0.95, 64: 0.99})
    points, _ = choose_points(dead)
    text = numbers_sentences(points)
    assert not any("11.35%" in s for s in text)  # chance is never stated as what 9 numbers carry
    assert text[0].startswith("With 18 numbers")
    assert any(s.startswith("None of the 1 training of the 1-filter network (9 numbers) trained") for s in text)
    assert "3 networks, 3 trainings (1 seed each; 1 did not train)" in seeds_caption(points, "fast settings", "full MNIST")


def test_sentences_follow_other_measurements():
    rising = numbers_sentences(pts({1: 0.62, 2: 0.81, 4: 0.93}))
    assert "far above the 10% of guessing" not in " ".join(rising)  # 62% is not
    assert any(s.startswith("Accuracy still rises beyond the seed-to-seed spread up to the largest map measured, 36") for s in rising)
    assert "No network of this family reaches 99% (median) here." in rising
    assert not any(s.startswith(("More is not always better", "The median dips")) for s in rising)
    assert numbers_sentences(pts({64: 0.99}))[0] == "Only one network of the family so far: 576 numbers, 99.00% (1 seed)."
    assert numbers_sentences([]) == []
    only_refs = numbers_sentences(pts({}, {"global_avg": 0.98}))
    assert only_refs == ["The global-average head keeps 64 numbers and forgets where: 98.00% (1 seed)."]


@pytest.mark.parametrize("filters", [1, 2, 4, 8, 16, 32, 64])
def test_family_numbers_are_nine_per_filter(filters):
    assert point_of(one(Rec("x", book_with(filters), 0.9))).numbers == 9 * filters


def test_a_failure_explained_by_dead_channels_says_so():
    recs = [replace(Rec(f"d{seed}", book_with(1), 0.1135, seed=seed, ok=False), dead_channels=1) for seed in range(2)]
    recs += [Rec("d2", book_with(1), 0.96, seed=2)] + family({64: 0.99})
    (sentence,) = [s for s in numbers_sentences(choose_points(recs)[0]) if s.startswith("2 of 3")]
    assert sentence == ("2 of 3 trainings of the 1-filter network (9 numbers) did not train: every channel of its last "
                        "conv layer died early in training (zero on every test image), so the classifier read only "
                        "zeros and answered the commonest digit. Its point is the median of the 1 that did.")
