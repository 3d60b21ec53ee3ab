"""The CSV files the Inside page offers: a network's summary table and a run's training history (pandas).

Pure: imports neither Keras nor Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def summary_csv(rows: Sequence[dict]) -> str:
    """CSV of summary rows (`LayerRow.to_dict()`): layer, type, output shape, params, RF, jump, and a total."""
    table = pd.DataFrame(
        {
            "layer": [row["name"] for row in rows],
            "type": [row["type"] for row in rows],
            "output_shape": ["(" + ", ".join("None" if s is None else str(s) for s in row["output_shape"]) + ")"
                             for row in rows],
            "params": [int(row["params"]) for row in rows],
            "receptive_field": pd.array([row["receptive_field"] for row in rows], dtype="Int64"),
            "jump": pd.array([row.get("jump") for row in rows], dtype="Int64"),  # none after Flatten
        }
    )
    total = pd.DataFrame([{"layer": "total", "params": int(table["params"].sum())}])
    return pd.concat([table, total], ignore_index=True).to_csv(index=False, na_rep="", lineterminator="\n")


def history_csv(history: dict[str, Sequence[float]]) -> str:
    """CSV with one row per epoch and one column per metric (loss, accuracy, val_loss, …), full precision."""
    table = pd.DataFrame({metric: pd.Series(values, dtype="float64") for metric, values in history.items()})
    table.insert(0, "epoch", range(1, len(table) + 1))
    return table.to_csv(index=False, na_rep="", lineterminator="\n")
