"""The Compare page as data: the runs table, the runs shown by default, and the runs grouped by their data.

A run's accuracy depends on its data as much as on its network (97.55% on the 12,000-image
embedded subset is not a worse network than 99% on full MNIST), so every series the page draws is
grouped by the data the runs were trained on (`labels.data_name`), and the table names it.
Runs that differ only in their seed are one network (`dashboard.store.seeds`): its point is their median
with their range, failed trainings are marked apart, and two networks' difference is judged
against the seed-to-seed spread.

Pure Python (pandas): no Streamlit, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from dashboard.store.run import RunRecord
from dashboard.store.seeds import RunGroup, Spread, difference_words, group_id, group_of
from dashboard.views.labels import data_name, final_map_text, network_label, short_label, training_label

MAX_DEFAULT_SELECTED = 6
# Column order: what a learner compares first (network, data, accuracy, time) fits a laptop's
# window (1280 px wide, sidebar open); details and identifiers follow.
TABLE_COLUMNS = ("network", "data", "seed", "test accuracy", "trained", "train time (s)", "training", "params",
                 "last conv map", "val accuracy", "epochs", "shipped", "key")
GROUP_COLUMNS = ("network", "data", "training", "seeds", "test accuracy", "lowest", "highest", "did not train",
                 "params", "last conv map", "key")


def runs_table(runs: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per run (each seed), in the listing's order, columns in `TABLE_COLUMNS` order (texts are plain).

    Accuracies are percentages (99.23, not 0.9923), as everywhere else in the app.
    """
    rows = [
        {
            "network": network_label(r),
            "data": data_name(r),
            "seed": r.seed,
            "test accuracy": round(r.test_accuracy * 100, 2),
            "trained": r.trained,
            "train time (s)": r.train_seconds,
            "training": training_label(r),
            "params": r.params,
            "last conv map": final_map_text(r),
            "val accuracy": round(r.val_accuracy * 100, 2),
            "epochs": r.epochs_done,
            "shipped": r.shipped,
            "key": r.key,
        }
        for r in runs
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def groups_table(groups: Iterable[RunGroup]) -> pd.DataFrame:
    """One row per network and training (its seeds together): median and range in percent, failures counted."""
    rows = []
    for g in groups:
        spread, first = g.spread, g.first
        rows.append({
            "network": network_label(first),
            "data": data_name(first),
            "training": training_label(replace(first, settings=replace(first.settings, seed=0)) if first.settings else first),
            "seeds": spread.total,  # an imported run is one model, no seed: 1
            "test accuracy": round(spread.median * 100, 2) if spread.n else None,
            "lowest": round(spread.low * 100, 2) if spread.n > 1 else None,
            "highest": round(spread.high * 100, 2) if spread.n > 1 else None,
            "did not train": spread.failed,
            "params": first.params,
            "last conv map": final_map_text(first),
            "key": g.representative().key,
        })
    return pd.DataFrame(rows, columns=list(GROUP_COLUMNS))


@dataclass(frozen=True)
class GroupPoint:
    """One network on a Compare scatter: x, its seeds' spread, failed seeds, its data and labels."""

    x: float
    spread: Spread
    failed: tuple[float, ...]  # test accuracies of the seeds that did not train
    label: str  # written beside the point (short)
    hover: str  # the full name
    data: str  # data name: the series it belongs to


def group_points(groups: Sequence[RunGroup], x_of: Callable[[RunRecord], float | None]) -> list[GroupPoint]:
    """A point per group whose runs have an x (`x_of` of its first run), labelled with a short unique name."""
    out = []
    for g in groups:
        x = x_of(g.first)
        if x is None:
            continue
        seeds = "imported" if g.is_imported else f"{g.spread.total} seed{'s' if g.spread.total != 1 else ''}"
        out.append(GroupPoint(x, g.spread, tuple(r.test_accuracy for r in g.failed), network_label(g.first),
                              f"{short_label(g.first)} · {seeds}: {g.spread.text()}", data_name(g.first)))
    return out


def selected_groups(selected: Iterable[RunRecord], runs: Iterable[RunRecord]) -> list[RunGroup]:
    """The groups of the selected runs, each with all its cached seeds, in the order first selected."""
    every = list(runs)
    seen: dict[Any, RunGroup] = {}
    for run in selected:
        key = group_id(run)
        if key not in seen:
            seen[key] = group_of(run, every)
    return list(seen.values())


def judgement_sentences(groups: Sequence[RunGroup]) -> list[str]:
    """Each selected network against the best one (same data only), judged against the seed-to-seed spread."""
    out = []
    for data in dict.fromkeys(data_name(g.first) for g in groups):
        alike = [g for g in groups if data_name(g.first) == data and g.spread.n]
        if len(alike) < 2:
            continue
        best = max(alike, key=lambda g: g.spread.median)
        for g in alike:
            if g is not best:
                out.append(difference_words(best.spread, g.spread, network_label(best.first), network_label(g.first))
                           + f" ({data})")
    return out


def default_selection(runs: Sequence[RunRecord], own_keys: Iterable[str] = (),
                      limit: int = MAX_DEFAULT_SELECTED) -> list[str]:
    """Keys shown side by side at first: the learner's own runs, then other runs trained here, then
    shipped ones; newest first within each (the listing's order), at most `limit`."""
    own = set(own_keys)
    written = [r for r in runs if not r.shipped]  # the listing puts them newest first
    ordered = ([r for r in written if r.key in own] + [r for r in written if r.key not in own]
               + [r for r in runs if r.shipped])
    return [r.key for r in ordered][:limit]


@dataclass(frozen=True)
class DataGroup:
    """The runs trained on one data set, for one series of a chart (one colour and symbol)."""

    name: str  # 'full MNIST', 'embedded subset (12,000 images)', …
    runs: tuple[RunRecord, ...]


def by_data(runs: Iterable[RunRecord]) -> list[DataGroup]:
    """`runs` grouped by the data they were trained on, full MNIST first, then by name; order kept within."""
    groups: dict[str, list[RunRecord]] = {}
    for run in runs:
        groups.setdefault(data_name(run), []).append(run)
    names = sorted(groups, key=lambda name: (name != "full MNIST", name))
    return [DataGroup(name, tuple(groups[name])) for name in names]


def curve_labels(runs: Iterable[RunRecord]) -> dict[str, str]:
    """{key: legend label} (network, training, data and the key's start: unique per run)."""
    return {r.key: short_label(r) for r in runs}


def evaluation_note(accuracy_here: float, n_test: int, same_data: bool, run: RunRecord, here_name: str) -> str:
    """What the up-close numbers are measured on, and how they relate to the recorded accuracy (plain text)."""
    if same_data:
        return (f"On its {n_test:,} test images ({data_name(run)}): accuracy {accuracy_here:.2%} "
                f"(recorded {run.test_accuracy:.2%}).")
    return (f"Evaluated on this server's data, {here_name} ({n_test:,} test images): accuracy {accuracy_here:.2%}. "
            f"The run was trained and tested on {data_name(run)} (recorded test accuracy {run.test_accuracy:.2%}).")


def cell_title(n: int, true_digit: int | None, predicted_digit: int | None) -> str:
    """The title of the digits shown for a cell of the confusion matrix (None: any digit)."""
    if true_digit is None and predicted_digit is None:
        return f"{n} misclassified test images: ✗ predicted (true)" if n else "No misclassified images"
    if true_digit is not None and true_digit == predicted_digit:
        return f"{n} test image{'s' if n != 1 else ''} of a {true_digit} read right" if n else f"No {true_digit} read right"
    what = " ".join(part for part in (f"true {true_digit}" if true_digit is not None else "",
                                      f"predicted {predicted_digit}" if predicted_digit is not None else "") if part)
    images = "image" if n == 1 else "images"
    return f"{n} misclassified test {images}, {what}: ✗ predicted (true)" if n else f"No misclassified image, {what}"
