"""Groups of seeds: the spread shown for a network and the judgement of a difference, on hand-made groups."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.network.spec import BOOK
from dashboard.store.seeds import RunGroup, Spread, difference_words, group_of, group_runs, judge
from dashboard.training.train_settings import TrainSettings
from tests.unit.test_run import imported, trained

FAST = TrainSettings(epochs=1)


def run(key: str, seed: int, acc: float, ok: bool = True, spec=BOOK, settings=FAST, data="fp"):
    return trained(key, spec, replace(settings, seed=seed), test_accuracy=acc, trained=ok, data_fingerprint=data)


def test_runs_differing_only_in_the_seed_form_one_group_ordered_by_seed():
    runs = [run("b2", 2, 0.99), run("b0", 0, 0.98), run("x", 0, 0.9, settings=TrainSettings(epochs=2)),
            run("d", 0, 0.9, data="other"), run("b1", 1, 0.97), imported(), imported("f" * 64)]
    groups = group_runs(runs)
    assert [[r.key for r in g.runs] for g in groups] == [["b0", "b1", "b2"], ["x"], ["d"], [imported().key], ["f" * 64]]
    assert groups[0].seeds == (0, 1, 2) and groups[3].is_imported and groups[3].seeds == ()
    assert [r.key for r in group_of(runs[1], runs).runs] == ["b0", "b1", "b2"]


def test_the_spread_is_the_median_and_range_of_the_seeds_that_trained():
    group = RunGroup((run("a", 0, 0.1135, ok=False), run("b", 1, 0.952), run("c", 2, 0.957), run("d", 3, 0.95)))
    spread = group.spread
    assert (spread.n, spread.failed, spread.total) == (3, 1, 4)
    assert (spread.median, spread.low, spread.high) == (0.952, 0.95, 0.957)
    assert spread.text() == "95.20% (median of 3 seeds, 95.00%–95.70%; 1 more did not train)"
    assert group.representative().key == "b"
    assert Spread((0.99,)).text() == "99.00% (1 seed)"
    assert Spread((), failed=2).text() == "did not train (2 of 2 seeds)" and math.isnan(Spread((), 2).median)
    assert RunGroup((run("a", 0, 0.11, ok=False),)).representative().key == "a"


def test_next_seeds_fill_up_to_the_number_asked_for():
    group = RunGroup((run("a", 0, 0.9), run("c", 2, 0.9)))
    assert group.next_seeds(3) == [1] and group.next_seeds(5) == [1, 3, 4] and group.next_seeds(2) == []
    assert group.another_seed() == 1


def test_a_real_difference_a_difference_within_noise_and_one_seed():
    a = Spread((0.990, 0.991, 0.992))
    assert judge(a, Spread((0.980, 0.981, 0.982))).verdict == "lower"
    assert judge(a, Spread((0.995, 0.996, 0.997))).verdict == "higher"
    # means 0.991 and 0.9913, standard error sqrt(1e-6/3 + 2.33e-6/3) ≈ 0.00105: inside 2 SE
    within = judge(a, Spread((0.9895, 0.9915, 0.9929)))
    assert within.verdict == "within noise" and not within.real
    assert within.standard_error == pytest.approx(math.sqrt(statistics.variance(a.accuracies) / 3
                                                            + statistics.variance((0.9895, 0.9915, 0.9929)) / 3))
    assert judge(Spread((0.99,)), Spread((0.5,))).verdict == "cannot tell"
    assert judge(Spread((0.99, 0.99)), Spread((0.98, 0.98))).verdict == "lower"  # no spread at all: any gap is real
    words = difference_words(Spread((0.99,)), Spread((0.98, 0.97)), "the book network", "The tiny one")
    assert "1 trained seed on one side that cannot tell" in words and "add seeds" in words
    noise = difference_words(a, Spread((0.9895, 0.9915, 0.9929)), "A", "B")
    assert noise.startswith("B and A differ by 0.03 points on average, less than the seed-to-seed spread")


@given(st.lists(st.floats(0.5, 1.0), min_size=2, max_size=6), st.lists(st.floats(0.5, 1.0), min_size=2, max_size=6))
def test_no_sentence_calls_a_difference_within_the_spread_a_gain_or_a_loss(xs, ys):
    a, b = Spread(tuple(xs)), Spread(tuple(ys))
    j = judge(a, b)
    se = math.sqrt(statistics.variance(xs) / len(xs) + statistics.variance(ys) / len(ys))
    gap = statistics.fmean(ys) - statistics.fmean(xs)
    assert j.real == (abs(gap) > 2 * se and gap != 0)
    words = difference_words(a, b, "A", "B")
    assert ("more than the seed-to-seed spread" in words) == j.real
