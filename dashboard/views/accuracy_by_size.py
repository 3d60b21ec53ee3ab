"""How many numbers the classifier needs: test accuracy against the size of the last map.

The runs come from the cache, found by their network: the book network with only its last
conv layer's filter count changed (1 to 64 filters: 9 to 576 numbers), and three references,
the global-average head (64 numbers, no positions), the 1×1 last map and the network without
pooling (22×22×64 = 30,976 numbers). Only runs trained alike are compared: one set of
(training settings but the seed, data). Each network is one point made of all its seeds
(`dashboard.store.seeds`): the median of those that trained, their range, and the failed ones counted
apart. `numbers_sentences` turns the measured points into the text shown beside the chart,
judging every difference against the seed-to-seed spread; nothing in it is decided before the
numbers are seen.

Pure Python: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from dashboard.network.spec import BOOK, PRESETS, NetworkSpec, final_map
from dashboard.store.run import RunRecord
from dashboard.store.seeds import SPREAD_WORDS, RunGroup, Spread, difference_words, group_runs, judge
from dashboard.training.train_settings import TrainSettings
from dashboard.views.labels import data_name

REFERENCES = ("global_avg", "one_by_one", "no_pooling")
REFERENCE_LABELS = {
    "global_avg": "global average (no positions)",
    "one_by_one": "1×1 last map",
    "no_pooling": "no pooling (22×22 map)",
}
NEAR_BEST = 0.002  # with one seed a side: "as good as the best" within 0.2 points


@dataclass(frozen=True)
class NumbersPoint:
    """One network on the chart: its seeds' spread (failed trainings counted apart)."""

    key: str  # the run closest to the median (names the point; its record opens elsewhere)
    role: str  # "family" or one of REFERENCES
    label: str
    numbers: int  # numbers the classifier reads: h·w·c after Flatten, c after global averaging
    side: int  # the last map's side
    channels: int  # its channels (the last conv layer's filters)
    spread: Spread
    seeds: tuple[tuple[int, float, bool], ...] = ()  # (seed, test accuracy, trained) of every run
    diagnoses: tuple[str, ...] = ()  # why the failed ones failed
    dead: bool = False  # every failed one had every channel of its last conv layer dead

    @property
    def test_accuracy(self) -> float:
        """The median over the seeds that trained (nan if none did)."""
        return self.spread.median

    @property
    def trained(self) -> bool:
        """True when at least one seed trained."""
        return self.spread.n > 0


def family_filters(spec: NetworkSpec) -> int | None:
    """The last conv layer's filter count if `spec` is the book network with only that changed."""
    if len(spec.blocks) != len(BOOK.blocks):
        return None
    filters = spec.blocks[-1].filters
    return filters if spec == BOOK.with_block(len(BOOK.blocks) - 1, filters=filters) else None


def classifier_numbers(spec: NetworkSpec) -> int:
    """How many numbers the head reads: side·side·channels (Flatten) or channels (global average)."""
    side, channels = final_map(spec)
    return side * side * channels if spec.head == "flatten" else channels


def role_of(spec: NetworkSpec | None) -> str | None:
    """'family', a reference's name, or None when `spec` is not on the chart (an imported run never is)."""
    if spec is None:
        return None
    if family_filters(spec) is not None:
        return "family"
    return next((n for n in REFERENCES if PRESETS[n] == spec), None)


def point_of(group: RunGroup) -> NumbersPoint | None:
    """The chart point of a group of seeds, or None if its network is not on the chart."""
    spec = group.first.spec
    role = role_of(spec)
    if role is None:
        return None
    side, channels = final_map(spec)
    label = f"{channels} filter{'s' if channels != 1 else ''}" if role == "family" else REFERENCE_LABELS[role]
    seeds = tuple((r.seed or 0, r.test_accuracy, r.trained) for r in group.runs)
    diagnoses = tuple(r.diagnosis for r in group.failed if r.diagnosis)
    dead = bool(group.failed) and all(r.dead_channels == channels for r in group.failed)
    return NumbersPoint(group.representative().key, role, label, classifier_numbers(spec), side, channels,
                        group.spread, seeds, diagnoses, dead)


def _settings_key(record: RunRecord) -> tuple[TrainSettings | None, str]:
    settings = None if record.settings is None else replace(record.settings, seed=0)
    return settings, record.data_fingerprint


def choose_points(
    records: Iterable[RunRecord], preferred_settings: TrainSettings | None = None, preferred_data: str = "full MNIST"
) -> tuple[list[NumbersPoint], RunRecord | None]:
    """The points of the best set of runs trained alike (seeds apart), and one record of that set (or None).

    Best: the most family networks, then runs trained with `preferred_settings` (any seed), then on
    `preferred_data` (a record's `data_name`), then the most runs. One point per network, made of
    all its seeds. Sorted by role, then numbers.
    """
    sets: dict[tuple[TrainSettings | None, str], list[RunRecord]] = {}
    for record in records:
        if role_of(record.spec) is not None:
            sets.setdefault(_settings_key(record), []).append(record)
    if not sets:
        return [], None
    wanted = None if preferred_settings is None else replace(preferred_settings, seed=0)

    def rank(item: tuple[tuple[TrainSettings | None, str], list[RunRecord]]) -> tuple:
        (settings, _), members = item
        family = len({r.spec for r in members if role_of(r.spec) == "family"})
        return (family, wanted is not None and settings == wanted, data_name(members[0]) == preferred_data, len(members))

    _, members = max(sets.items(), key=rank)
    points = [p for p in (point_of(g) for g in group_runs(members)) if p is not None]
    order = {"family": 0, **{name: i + 1 for i, name in enumerate(REFERENCES)}}
    return sorted(points, key=lambda p: (order[p.role], p.numbers)), members[0]


def _pct(value: float) -> str:
    return f"{value:.2%}"


def _name(p: NumbersPoint) -> str:
    """'the 9 numbers of a 3×3×1 map' style name for comparison sentences."""
    return f"{p.numbers:,} numbers ({p.side}×{p.side}×{p.channels})"


def _as_good(p: NumbersPoint, best: NumbersPoint) -> bool:
    """p is not below the best beyond the seed spread (or, with one seed a side, within NEAR_BEST)."""
    verdict = judge(best.spread, p.spread).verdict
    if verdict == "cannot tell":
        return p.test_accuracy >= best.test_accuracy - NEAR_BEST
    return verdict != "lower"


def failure_sentences(points: Sequence[NumbersPoint]) -> list[str]:
    """'k of n trainings of this network did not train', with the reason, for every point that has failures."""
    out = []
    for p in points:
        if not p.spread.failed:
            continue
        k, n = p.spread.failed, p.spread.total
        name = f"{p.channels}-filter network" if p.role == "family" else f"{p.label} network"
        reason = ("every channel of its last conv layer died early in training (zero on every test image), so the "
                  "classifier read only zeros and answered the commonest digit" if p.dead else
                  "its loss stayed at that of a uniform guess")
        if p.trained:
            out.append(f"{k} of {n} trainings of the {name} ({p.numbers:,} numbers) did not train: {reason}. "
                       f"Its point is the median of the {p.spread.n} that did.")
        else:
            out.append(f"None of the {n} training{'s' if n != 1 else ''} of the {name} ({p.numbers:,} numbers) "
                       f"trained: {reason}. The chart marks {'it' if n == 1 else 'them'} apart: a failed training "
                       "says nothing about what its numbers can carry. Try another seed.")
    return out


def _family_sentences(family: Sequence[NumbersPoint]) -> list[str]:
    low, high = family[0], family[-1]
    out = [
        f"With {low.numbers:,} numbers ({low.side}×{low.side}×{low.channels}) the network reads "
        f"{low.spread.text()} of the test digits; with {high.numbers:,} ({high.side}×{high.side}×"
        f"{high.channels}), {high.spread.text()}."
    ]
    if low.test_accuracy >= 0.9:
        out.append(
            f"So even {low.numbers:,} numbers are far above the 10% of guessing: a handful of numbers can "
            "hold a digit's identity when the convolutions before them have done the work."
        )
    best = max(family, key=lambda p: p.test_accuracy)
    close = [_as_good(p, best) for p in family]
    start = next((i for i in range(len(family)) if all(close[i:])), None)  # as good from here on
    enough = None if start is None else family[start]
    if enough is high and len(family) > 2:
        out.append(f"Accuracy still rises beyond the seed-to-seed spread up to the largest map measured, "
                   f"{high.numbers:,} numbers.")
    elif enough is not high and enough is not None:
        out.append(
            f"From {enough.numbers:,} numbers ({enough.label}) on, no network is below the best "
            f"({_pct(best.test_accuracy)} at {best.numbers:,}) by more than the seed-to-seed spread: "
            "beyond that, more numbers buy almost nothing."
        )
    first_99 = next((p for p in family if p.test_accuracy >= 0.99), None)
    if first_99 is not None:
        out.append(f"The smallest map whose median reaches 99% has {first_99.numbers:,} numbers.")
    else:
        out.append("No network of this family reaches 99% (median) here.")
    drops = [(a, b) for a, b in zip(family, family[1:]) if b.test_accuracy < a.test_accuracy]
    if drops:
        a, b = max(drops, key=lambda pair: pair[0].test_accuracy - pair[1].test_accuracy)
        verdict = judge(a.spread, b.spread).verdict
        lead = ("More is not always better: " if verdict == "lower" else
                f"The median dips from {a.numbers:,} to {b.numbers:,} numbers, but: " if verdict == "within noise" else
                f"The median dips from {a.numbers:,} to {b.numbers:,} numbers: ")
        out.append(lead + difference_words(a.spread, b.spread, f"the {_name(a)}", f"the {_name(b)}"))
    return out


def _nearest(family: Sequence[NumbersPoint], numbers: int) -> NumbersPoint:
    return min(family, key=lambda p: (abs(p.numbers - numbers), p.numbers))


def numbers_sentences(points: Sequence[NumbersPoint]) -> list[str]:
    """What the measured points show, as sentences (empty if there is nothing to say); failed trainings excluded."""
    family = sorted((p for p in points if p.role == "family" and p.trained), key=lambda p: p.numbers)
    refs = {p.role: p for p in points if p.role != "family" and p.trained}
    out = _family_sentences(family) if len(family) >= 2 else []
    if len(family) == 1:
        only = family[0]
        out.append(f"Only one network of the family so far: {only.numbers:,} numbers, {only.spread.text()}.")
    avg = refs.get("global_avg")
    if avg is not None:
        text = f"The global-average head keeps {avg.numbers:,} numbers and forgets where: {avg.spread.text()}."
        if family:
            near = _nearest(family, avg.numbers)
            text += " " + difference_words(near.spread, avg.spread, f"the {_name(near)} that keep their positions",
                                           "The global-average head")
        out.append(text)
    one = refs.get("one_by_one")
    if one is not None:
        out.append(
            f"A 1×1 last map ({one.numbers:,} numbers, each seeing the whole digit through four conv layers): "
            f"{one.spread.text()}."
        )
    wide = refs.get("no_pooling")
    if wide is not None:
        base = next((p for p in family if p.numbers == 576), family[-1] if family else None)
        text = (f"Without pooling the last map is {wide.side}×{wide.side}×{wide.channels} = {wide.numbers:,} numbers: "
                f"{wide.spread.text()}.")
        if base is not None:
            text += (f" With {wide.numbers / base.numbers:.0f}× as many numbers as a {base.side}×{base.side} map: "
                     + difference_words(base.spread, wide.spread, f"the {_name(base)}", "the map without pooling"))
        out.append(text)
    return out + failure_sentences(points)


def seeds_caption(points: Sequence[NumbersPoint], settings: str, data: str) -> str:
    """'7 networks, 21 trainings (3 seeds each; 2 did not train), all with the fast settings on full MNIST; …'."""
    seeds = sorted({p.spread.total for p in points})
    each = f"{seeds[0]} seed{'s' if seeds[0] != 1 else ''} each" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]} seeds each"
    failed = sum(p.spread.failed for p in points)
    trainings = sum(p.spread.total for p in points)
    return (f"{len(points)} networks, {trainings} trainings ({each}; {failed} did not train), all with the {settings} "
            f"on {data}. Points: {SPREAD_WORDS}.")
