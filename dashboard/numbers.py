"""How many numbers the classifier needs: test accuracy against the size of the last map.

The runs come from the cache, found by their network: the book network with only its last
conv layer's filter count changed (1 to 64 filters: 9 to 576 numbers), and three references,
the global-average head (64 numbers, no positions), the 1×1 last map and the network without
pooling (22×22×64 = 30,976 numbers). Only runs trained alike are compared: one group of
(training settings, data). `numbers_sentences` turns the measured points into the text shown
beside the chart; nothing in it is decided before the numbers are seen.

Pure Python: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dashboard.spec import BOOK, PRESETS, NetworkSpec, SpecError, final_map

REFERENCES = ("global_avg", "one_by_one", "no_pooling")
REFERENCE_LABELS = {
    "global_avg": "global average (no positions)",
    "one_by_one": "1×1 last map",
    "no_pooling": "no pooling (22×22 map)",
}
NEAR_BEST = 0.002  # "as good as the best": within 0.2 points
CHANCE_LIKE = 0.003  # differences this small between single-seed runs can be chance


@dataclass(frozen=True)
class NumbersPoint:
    """One run on the chart."""

    key: str
    role: str  # "family" or one of REFERENCES
    label: str
    numbers: int  # numbers the classifier reads: h·w·c after Flatten, c after global averaging
    side: int  # the last map's side
    channels: int  # its channels (the last conv layer's filters)
    test_accuracy: float


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


def point_of(record: Any) -> NumbersPoint | None:
    """The chart point of a run record (.key, .spec dict, .test_accuracy), or None if not of the family."""
    try:
        spec = NetworkSpec.from_dict(record.spec)
        accuracy = float(record.test_accuracy)
    except (SpecError, TypeError, ValueError, AttributeError):
        return None
    filters = family_filters(spec)
    role = "family" if filters is not None else next((n for n in REFERENCES if PRESETS[n] == spec), None)
    if role is None:
        return None
    side, channels = final_map(spec)
    label = f"{channels} filter{'s' if channels != 1 else ''}" if role == "family" else REFERENCE_LABELS[role]
    return NumbersPoint(str(record.key), role, label, classifier_numbers(spec), side, channels, accuracy)


def _group_key(record: Any) -> tuple[str, str]:
    return json.dumps(record.settings, sort_keys=True), str(record.data_fingerprint)


def choose_points(
    records: Iterable[Any], preferred_settings: Mapping[str, Any] | None = None, preferred_data: str = "full MNIST"
) -> tuple[list[NumbersPoint], Any | None]:
    """The points of the best group of runs trained alike, and one record of that group (or None).

    Best: the most family runs, then runs trained with `preferred_settings`, then on
    `preferred_data` (a record's `data_name`), then the most points. One point per network (the
    first record seen). Sorted by role, then numbers.
    """
    groups: dict[tuple[str, str], list[tuple[NumbersPoint, Any]]] = {}
    for record in records:
        point = point_of(record)
        if point is not None:
            groups.setdefault(_group_key(record), []).append((point, record))
    if not groups:
        return [], None
    wanted = json.dumps(dict(preferred_settings), sort_keys=True) if preferred_settings is not None else None

    def rank(item: tuple[tuple[str, str], list]) -> tuple:
        (settings, _), members = item
        family = len({p.channels for p, _ in members if p.role == "family"})
        sample = members[0][1]
        return (family, settings == wanted, getattr(sample, "data_name", None) == preferred_data, len(members))

    _, members = max(groups.items(), key=rank)
    seen: set[tuple[str, int]] = set()
    points = []
    for point, _ in members:
        if (point.role, point.numbers) not in seen:
            seen.add((point.role, point.numbers))
            points.append(point)
    order = {"family": 0, **{name: i + 1 for i, name in enumerate(REFERENCES)}}
    return sorted(points, key=lambda p: (order[p.role], p.numbers)), members[0][1]


def _pct(value: float) -> str:
    return f"{value:.2%}"


def _points(diff: float) -> str:
    return f"{abs(diff) * 100:.2f} point{'s' if abs(diff) * 100 != 1 else ''} {'above' if diff > 0 else 'below'}"


def _family_sentences(family: Sequence[NumbersPoint]) -> list[str]:
    low, high = family[0], family[-1]
    out = [
        f"With {low.numbers:,} numbers ({low.side}×{low.side}×{low.channels}) the network reads "
        f"{_pct(low.test_accuracy)} of the test digits; with {high.numbers:,} ({high.side}×{high.side}×"
        f"{high.channels}), {_pct(high.test_accuracy)}."
    ]
    if low.test_accuracy >= 0.9:
        out.append(
            f"So even {low.numbers:,} numbers are far above the 10% of guessing: a handful of numbers can "
            "hold a digit's identity when the convolutions before them have done the work."
        )
    best = max(family, key=lambda p: p.test_accuracy)
    close = [p.test_accuracy >= best.test_accuracy - NEAR_BEST for p in family]
    start = next((i for i in range(len(family)) if all(close[i:])), None)  # close from here on
    enough = None if start is None else family[start]
    # (None: the largest maps fall back from the best; the drop sentence below says so.)
    if enough is high and len(family) > 2:
        out.append(f"Accuracy still rises up to the largest map measured, {high.numbers:,} numbers.")
    elif enough is not high and enough is not None:
        out.append(
            f"From {enough.numbers:,} numbers ({enough.label}) on, every run is within "
            f"{NEAR_BEST * 100:.1f} points of the best ({_pct(best.test_accuracy)} at {best.numbers:,}): "
            "beyond that, more numbers buy almost nothing."
        )
    first_99 = next((p for p in family if p.test_accuracy >= 0.99), None)
    if first_99 is not None:
        out.append(f"The smallest map at or above 99% has {first_99.numbers:,} numbers.")
    else:
        out.append("No run of this family reaches 99% here.")
    drops = [(a, b) for a, b in zip(family, family[1:]) if b.test_accuracy < a.test_accuracy]
    if drops:
        a, b = max(drops, key=lambda pair: pair[0].test_accuracy - pair[1].test_accuracy)
        size = a.test_accuracy - b.test_accuracy
        out.append(
            f"More is not always better: from {a.numbers:,} to {b.numbers:,} numbers accuracy falls by "
            f"{size * 100:.2f} points"
            + (" (one training seed per run: a difference this small can be chance)." if size <= CHANCE_LIKE else ".")
        )
    return out


def _nearest(family: Sequence[NumbersPoint], numbers: int) -> NumbersPoint:
    return min(family, key=lambda p: (abs(p.numbers - numbers), p.numbers))


def numbers_sentences(points: Sequence[NumbersPoint]) -> list[str]:
    """What the measured points show, as sentences (empty if there is nothing to say)."""
    family = sorted((p for p in points if p.role == "family"), key=lambda p: p.numbers)
    refs = {p.role: p for p in points if p.role != "family"}
    out = _family_sentences(family) if len(family) >= 2 else []
    if len(family) == 1:
        only = family[0]
        out.append(f"Only one run of the family so far: {only.numbers:,} numbers, {_pct(only.test_accuracy)}.")
    avg = refs.get("global_avg")
    if avg is not None:
        text = f"The global-average head keeps {avg.numbers:,} numbers and forgets where: {_pct(avg.test_accuracy)}"
        if family:
            near = _nearest(family, avg.numbers)
            text += (
                f", {_points(avg.test_accuracy - near.test_accuracy)} the {near.numbers:,} numbers that keep "
                f"their positions ({near.side}×{near.side}×{near.channels})"
            )
        out.append(text + ".")
    one = refs.get("one_by_one")
    if one is not None:
        out.append(
            f"A 1×1 last map ({one.numbers:,} numbers, each seeing the whole digit through four conv layers): "
            f"{_pct(one.test_accuracy)}."
        )
    wide = refs.get("no_pooling")
    if wide is not None:
        base = next((p for p in family if p.numbers == 576), family[-1] if family else None)
        text = f"Without pooling the last map is {wide.side}×{wide.side}×{wide.channels} = {wide.numbers:,} numbers: {_pct(wide.test_accuracy)}"
        if base is not None:
            text += (
                f", {_points(wide.test_accuracy - base.test_accuracy)} the {base.numbers:,} numbers of a "
                f"{base.side}×{base.side} map, with {wide.numbers / base.numbers:.0f}× as many"
            )
        out.append(text + ".")
    return out
