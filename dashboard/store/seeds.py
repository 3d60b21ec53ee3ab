"""Runs that differ only in their seed form one group: the spread over seeds, and what a difference means.

One training is one draw: the same network trained with another seed lands a little higher or
lower, and now and then does not train at all (`dashboard.training.diagnosis`). A number shown for a
network is therefore a group's: the **median** over the seeds that trained, with their
**range** (lowest to highest) and how many seeds stand behind it; failed trainings are counted
apart and never enter the median or a comparison.

Two groups are compared with Welch's test in its simplest form: the difference of their means
is called real when it is larger than twice its standard error, sqrt(s1²/n1 + s2²/n2), with at
least `MIN_SEEDS_TO_JUDGE` trained seeds on each side; with fewer, the sentence says that one
seed cannot tell.

Imported runs have no seed: each is a group of its own. Pure: no TensorFlow, no Streamlit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from dashboard.store.run import RunRecord

MIN_SEEDS_TO_JUDGE = 2
STANDARD_ERRORS = 2.0  # a difference is real beyond this many standard errors
SEED_CHOICES = (1, 3, 5)  # how many seeds a learner can ask for
SPREAD_WORDS = "median over the seeds that trained, range lowest to highest"


def group_id(record: RunRecord) -> tuple[Any, ...]:
    """What the runs of one group share: network, settings but the seed, data and the training recipe
    (`reproducible.RECIPE`: runs trained before it are another group); an imported run: its key."""
    if record.settings is None:
        return ("imported", record.key)
    return (record.spec, replace(record.settings, seed=0), record.data_fingerprint, tuple(sorted(record.recipe.items())))


@dataclass(frozen=True)
class Spread:
    """Test accuracy over a group's seeds: trained ones summarised, failed ones counted."""

    accuracies: tuple[float, ...]  # of the seeds that trained
    failed: int = 0

    @property
    def n(self) -> int:
        """Seeds that trained."""
        return len(self.accuracies)

    @property
    def total(self) -> int:
        """Every training of the group, failed ones included."""
        return self.n + self.failed

    @property
    def median(self) -> float:
        """Median of the trained seeds (nan if none trained)."""
        return statistics.median(self.accuracies) if self.accuracies else math.nan

    @property
    def low(self) -> float:
        return min(self.accuracies) if self.accuracies else math.nan

    @property
    def high(self) -> float:
        return max(self.accuracies) if self.accuracies else math.nan

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies) if self.accuracies else math.nan

    @property
    def sd(self) -> float:
        """Sample standard deviation (0 with one seed)."""
        return statistics.stdev(self.accuracies) if self.n >= 2 else 0.0

    def text(self) -> str:
        """'99.21% (median of 3 seeds, 99.10–99.27%)', '98.97% (1 seed)', or 'did not train (2 of 2 seeds)'."""
        if not self.accuracies:
            return f"did not train ({self.failed} of {self.failed} seed{'s' if self.failed != 1 else ''})"
        if self.n == 1:
            core = f"{self.median:.2%} (1 seed"
        else:
            core = f"{self.median:.2%} (median of {self.n} seeds, {self.low:.2%}–{self.high:.2%}"
        failed = f"; {self.failed} more did not train" if self.failed else ""
        return core + failed + ")"


@dataclass(frozen=True)
class RunGroup:
    """Runs of one network, settings and data that differ only in the seed, ordered by seed."""

    runs: tuple[RunRecord, ...]

    @property
    def first(self) -> RunRecord:
        """The lowest seed's run: names the group."""
        return self.runs[0]

    @property
    def trained(self) -> tuple[RunRecord, ...]:
        return tuple(r for r in self.runs if r.trained)

    @property
    def failed(self) -> tuple[RunRecord, ...]:
        return tuple(r for r in self.runs if not r.trained)

    @property
    def spread(self) -> Spread:
        return Spread(tuple(r.test_accuracy for r in self.trained), len(self.failed))

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.runs if r.seed is not None)

    @property
    def is_imported(self) -> bool:
        return self.first.is_imported

    def representative(self) -> RunRecord:
        """The trained run closest to the median (the lowest seed among ties); a failed one if none trained."""
        pool = self.trained or self.runs
        middle = self.spread.median
        if math.isnan(middle):
            return pool[0]
        return min(pool, key=lambda r: (abs(r.test_accuracy - middle), r.seed or 0))

    def next_seeds(self, wanted: int) -> list[int]:
        """Seeds to add so the group has `wanted` of them (the smallest unused)."""
        have, out, seed = set(self.seeds), [], 0
        while len(have) + len(out) < wanted:
            if seed not in have:
                out.append(seed)
            seed += 1
        return out

    def another_seed(self) -> int:
        """The smallest seed this group has not trained."""
        return self.next_seeds(len(self.seeds) + 1)[0]


def _by_seed(record: RunRecord) -> tuple[bool, int, str]:
    """Sort key of a group's runs: by seed (imported runs, which have none, last), then key."""
    return record.seed is None, record.seed or 0, record.key


def group_runs(records: Iterable[RunRecord]) -> list[RunGroup]:
    """Records grouped by `group_id`, in the order each group is first seen; runs ordered by seed."""
    groups: dict[tuple[Any, ...], list[RunRecord]] = {}
    for record in records:
        groups.setdefault(group_id(record), []).append(record)
    return [RunGroup(tuple(sorted(runs, key=_by_seed))) for runs in groups.values()]


def group_of(record: RunRecord, records: Iterable[RunRecord]) -> RunGroup:
    """The group `record` belongs to among `records` (itself included if missing)."""
    wanted = group_id(record)
    members = [r for r in records if group_id(r) == wanted and r.key != record.key]
    return RunGroup(tuple(sorted([record, *members], key=_by_seed)))


# --- judging a difference ------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """A difference of two groups' means, and whether it stands out of the seed-to-seed spread."""

    difference: float  # mean(b) - mean(a), in accuracy (0..1)
    standard_error: float  # nan when a side has fewer than MIN_SEEDS_TO_JUDGE seeds
    verdict: str  # "higher", "lower", "within noise" or "cannot tell"

    @property
    def real(self) -> bool:
        """True when the difference is larger than the spread."""
        return self.verdict in ("higher", "lower")


def judge(a: Spread, b: Spread) -> Judgement:
    """Is b's mean accuracy different from a's beyond `STANDARD_ERRORS` Welch standard errors?"""
    difference = b.mean - a.mean
    if a.n < MIN_SEEDS_TO_JUDGE or b.n < MIN_SEEDS_TO_JUDGE:
        return Judgement(difference, math.nan, "cannot tell")
    se = math.sqrt(a.sd ** 2 / a.n + b.sd ** 2 / b.n)
    if abs(difference) > STANDARD_ERRORS * se and difference != 0:
        return Judgement(difference, se, "higher" if difference > 0 else "lower")
    return Judgement(difference, se, "within noise")


def difference_words(a: Spread, b: Spread, a_name: str, b_name: str) -> str:
    """One sentence comparing b with a that never calls a difference inside the spread a gain or a loss."""
    j = judge(a, b)
    points = abs(j.difference) * 100
    if j.verdict == "cannot tell":
        fewest = min(a.n, b.n)
        return (f"{b_name} scores {points:.2f} points {'above' if j.difference >= 0 else 'below'} {a_name}, but with "
                f"{fewest} trained seed{'s' if fewest != 1 else ''} on one side that cannot tell a real difference "
                f"from the luck of one training: add seeds to know.")
    if j.verdict == "within noise":
        return (f"{b_name} and {a_name} differ by {points:.2f} points on average, less than the seed-to-seed spread "
                f"(2 standard errors: {STANDARD_ERRORS * j.standard_error * 100:.2f} points): no real difference.")
    return (f"{b_name} scores {points:.2f} points {'above' if j.difference > 0 else 'below'} {a_name} on average "
            f"({a.n} and {b.n} seeds), more than the seed-to-seed spread "
            f"(2 standard errors: {STANDARD_ERRORS * j.standard_error * 100:.2f} points).")



def best_value_sentences(points: list[tuple[int, Spread]], what: str) -> list[str]:
    """The value with the highest median, and each other one judged against it (values with no trained seed apart)."""
    trained = [(v, s) for v, s in points if s.n]
    if len(trained) < 2:
        return []
    best_value, best = max(trained, key=lambda item: item[1].median)
    out = [f"Highest median: {what} = {best_value}, {best.text()}."]
    for value, spread in trained:
        if value != best_value:
            out.append(difference_words(best, spread, f"{what} = {best_value}", f"{what} = {value}"))
    return out
