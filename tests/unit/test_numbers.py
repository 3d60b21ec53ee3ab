"""How many numbers: family membership, grouping of runs trained alike, and sentences computed from the measurements."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dashboard.numbers import (
    NumbersPoint,
    choose_points,
    classifier_numbers,
    family_filters,
    numbers_sentences,
    point_of,
)
from dashboard.spec import BOOK, PRESETS

FAST = {"epochs": 2, "batch_size": 128}
OTHER = {"epochs": 1, "batch_size": 64}


@dataclass
class Rec:
    key: str
    spec: dict
    test_accuracy: float
    settings: dict = field(default_factory=lambda: dict(FAST))
    data_fingerprint: str = "full"
    data_name: str = "full MNIST"


def book_with(filters: int) -> dict:
    return BOOK.with_block(2, filters=filters).to_dict()


def family(accs: dict[int, float], **kw) -> list[Rec]:
    return [Rec(f"f{n}", book_with(n), a, **kw) for n, a in accs.items()]


def test_family_and_references_are_found_by_their_network():
    assert family_filters(BOOK) == 64 and family_filters(BOOK.with_block(2, filters=4)) == 4
    assert family_filters(BOOK.with_block(2, kernel_size=5)) is None
    assert family_filters(BOOK.with_block(1, filters=8)) is None
    assert family_filters(PRESETS["global_avg"]) is None
    assert classifier_numbers(BOOK) == 576 and classifier_numbers(BOOK.with_block(2, filters=1)) == 9
    assert classifier_numbers(PRESETS["global_avg"]) == 64 and classifier_numbers(PRESETS["no_pooling"]) == 30_976
    assert point_of(Rec("g", PRESETS["global_avg"].to_dict(), 0.98)).role == "global_avg"
    assert point_of(Rec("t", PRESETS["tiny"].to_dict(), 0.98)) is None
    assert point_of(Rec("bad", {"blocks": "x"}, 0.98)) is None


def test_the_group_with_most_family_runs_wins_and_duplicates_collapse():
    fast = family({1: 0.95, 64: 0.99}) + [Rec("ref", PRESETS["one_by_one"].to_dict(), 0.985)]
    quick = family({1: 0.5, 2: 0.6, 4: 0.7}, settings=dict(OTHER), data_fingerprint="sub", data_name="embedded subset")
    points, sample = choose_points(fast + quick + [Rec("dup", book_with(4), 0.1, settings=dict(OTHER), data_fingerprint="sub")])
    assert [(p.role, p.numbers, p.test_accuracy) for p in points] == [("family", 9, 0.5), ("family", 18, 0.6), ("family", 36, 0.7)]
    assert sample.settings == OTHER
    # With equal family counts, the preferred settings win, references come with their group.
    points, sample = choose_points(fast + family({1: 0.5, 2: 0.6}, settings=dict(OTHER)), preferred_settings=FAST)
    assert sample.settings == FAST and [p.role for p in points] == ["family", "family", "one_by_one"]
    assert choose_points([]) == ([], None)


def pts(family_accs: dict[int, float], refs: dict[str, float] | None = None) -> list[NumbersPoint]:
    recs = family(family_accs) + [Rec(k, PRESETS[k].to_dict(), a) for k, a in (refs or {}).items()]
    return [point_of(r) for r in recs]


def test_sentences_state_the_measured_numbers():
    points = pts(
        {1: 0.9712, 2: 0.9801, 4: 0.9866, 8: 0.9893, 16: 0.9902, 32: 0.9911, 64: 0.9907},
        {"global_avg": 0.9838, "one_by_one": 0.9846, "no_pooling": 0.9921},
    )
    text = numbers_sentences(points)
    assert text[0] == (
        "With 9 numbers (3×3×1) the network reads 97.12% of the test digits; with 576 (3×3×64), 99.07%."
    )
    assert "even 9 numbers are far above the 10% of guessing" in text[1]
    assert "From 72 numbers (8 filters) on, every run is within 0.2 points of the best (99.11% at 288)" in text[2]
    assert text[3] == "The smallest map at or above 99% has 144 numbers."
    late_dip = numbers_sentences(pts({1: 0.97, 2: 0.99, 4: 0.985, 8: 0.991}))
    assert any(s.startswith("From 36 numbers (4 filters) on") for s in late_dip) is False
    assert any(s.startswith("Accuracy still rises up to the largest map") for s in late_dip)
    assert "from 288 to 576 numbers accuracy falls by 0.04 points (one training seed per run" in text[4]
    assert "64 numbers and forgets where: 98.38%, 0.55 points below the 72 numbers that keep their positions (3×3×8)" in text[5]
    assert "1×1 last map (64 numbers" in text[6] and "98.46%" in text[6]
    assert text[7].startswith("Without pooling the last map is 22×22×64 = 30,976 numbers: 99.21%, 0.14 points above the 576")
    assert "with 54× as many" in text[7]


def test_sentences_follow_other_measurements():
    rising = numbers_sentences(pts({1: 0.62, 2: 0.81, 4: 0.93}))
    assert "far above the 10% of guessing" not in " ".join(rising)  # 62% is not
    assert "Accuracy still rises up to the largest map measured, 36 numbers." in rising
    assert "No run of this family reaches 99% here." in rising
    assert not any("falls by" in s for s in rising)
    big_drop = numbers_sentences(pts({1: 0.95, 2: 0.90}))
    assert any(s.endswith("falls by 5.00 points.") for s in big_drop)
    assert numbers_sentences(pts({64: 0.99}))[0] == "Only one run of the family so far: 576 numbers, 99.00%."
    assert numbers_sentences([]) == []
    only_refs = numbers_sentences(pts({}, {"global_avg": 0.98}))
    assert only_refs == ["The global-average head keeps 64 numbers and forgets where: 98.00%."]


@pytest.mark.parametrize("filters", [1, 2, 4, 8, 16, 32, 64])
def test_family_numbers_are_nine_per_filter(filters):
    assert point_of(Rec("x", book_with(filters), 0.9)).numbers == 9 * filters
