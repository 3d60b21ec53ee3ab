"""The Compare page as data: the runs table, the runs shown by default, and the runs grouped by their data.

A run's accuracy depends on its data as much as on its network (97.55% on the 12,000-image
embedded subset is not a worse network than 99% on full MNIST), so every series the page draws is
grouped by the data the runs were trained on (`labels.data_name`), and the table names it.

Pure Python (pandas): no Streamlit, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from dashboard.labels import data_name, final_map_text, network_label, short_label, training_label
from dashboard.run import RunRecord

MAX_DEFAULT_SELECTED = 6
# Column order: what a learner compares first (network, data, accuracy, time) fits a laptop's
# window (1280 px wide, sidebar open); details and identifiers follow.
TABLE_COLUMNS = ("network", "data", "test accuracy", "train time (s)", "training", "params", "last conv map",
                 "val accuracy", "epochs", "shipped", "key")


def runs_table(runs: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per run, in the listing's order, columns in `TABLE_COLUMNS` order (texts are plain)."""
    rows = [
        {
            "network": network_label(r),
            "data": data_name(r),
            "test accuracy": r.test_accuracy,
            "train time (s)": r.train_seconds,
            "training": training_label(r),
            "params": r.params,
            "last conv map": final_map_text(r),
            "val accuracy": r.val_accuracy,
            "epochs": r.epochs_done,
            "shipped": r.shipped,
            "key": r.key,
        }
        for r in runs
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


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
