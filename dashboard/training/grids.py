"""Grids: lists of runs to train ahead of time (`python -m dashboard warm --grid …`).

A grid is JSON: a list of objects, each with `preset` (a network preset name) or `spec` (a
network object), and optionally `train_preset` (default "fast") and `settings` (fields of
`TrainSettings` that override the training preset's). Built-in grids have names.

Pure Python: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from dashboard.network.spec import BOOK, LAST_FILTERS, PRESETS, NetworkSpec, SpecError
from dashboard.outside import OutsideInputError, loads_json
from dashboard.training.train_settings import TRAIN_PRESETS, SettingsError, TrainSettings

GRID_TRAIN_PRESET = "fast"
MAX_GRID_CHARS = 1_000_000


class GridError(ValueError):
    """A grid file or name that cannot be used; the message says why."""


def numbers_family() -> dict[str, NetworkSpec]:
    """The book network with its last conv at 1…64 filters, then three reference points.

    Names: 'last1' … 'last64' ('last64' is the book network itself), 'global_avg' (64 numbers,
    no positions), 'one_by_one' (a 1×1 last map) and 'no_pooling' (22×22×64 = 30,976 numbers).
    Shipped trained with the `fast` preset on full MNIST, seed 0 (`model_cache/README.md`);
    `dashboard.views.accuracy_by_size` charts them, the `numbers` grid trains them.
    """
    family = {
        f"last{n}": replace(BOOK, blocks=(*BOOK.blocks[:-1], replace(BOOK.blocks[-1], filters=n)))
        for n in LAST_FILTERS
    }
    return family | {name: PRESETS[name] for name in ("global_avg", "one_by_one", "no_pooling")}


def builtin_grids() -> dict[str, list[dict[str, Any]]]:
    """Named grids, all with the fast training preset: `workshop` trains every network preset;
    `numbers` the book network with its last conv at 1…64 filters and the reference points
    of `numbers_family()` (how many numbers the classifier needs)."""
    return {
        "workshop": [{"preset": name, "train_preset": GRID_TRAIN_PRESET} for name in PRESETS],
        "numbers": [{"spec": spec.to_dict(), "train_preset": GRID_TRAIN_PRESET} for spec in numbers_family().values()],
    }


def parse_grid(items: Any) -> list[tuple[str, NetworkSpec, TrainSettings]]:
    """Grid JSON → [(label, spec, settings)]; raise `GridError` naming every bad item.

    A grid is a list of objects, each with `preset` (a network preset name) or `spec` (a
    network object), and optionally `train_preset` (default "fast") and `settings` (fields of
    TrainSettings that override the training preset's).
    """
    if isinstance(items, dict) and "runs" in items:
        items = items["runs"]
    if not isinstance(items, list) or not items:
        raise GridError("a grid must be a non-empty list of runs")
    out, problems = [], []
    for i, item in enumerate(items, start=1):
        where = f"run {i}"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object")
            continue
        unknown = sorted(set(item) - {"preset", "spec", "train_preset", "settings"})
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
            continue
        try:
            if ("preset" in item) == ("spec" in item):
                raise GridError("give exactly one of 'preset' and 'spec'")
            if "preset" in item:
                if item["preset"] not in PRESETS:
                    raise GridError(f"unknown network preset {item['preset']!r}")
                spec, name = PRESETS[item["preset"]], item["preset"]
            else:
                spec = NetworkSpec.from_dict(item["spec"])
                name = spec.describe()
            train_preset = item.get("train_preset", GRID_TRAIN_PRESET)
            if train_preset not in TRAIN_PRESETS:
                raise GridError(f"unknown training preset {train_preset!r}")
            overrides = item.get("settings", {})
            if not isinstance(overrides, dict):
                raise GridError("'settings' must be an object")
            settings = TrainSettings.from_dict({**TRAIN_PRESETS[train_preset].to_dict(), **overrides})
        except (GridError, SpecError, SettingsError) as err:
            problems.append(f"{where}: {err}")
            continue
        label = f"{name} · {train_preset}" + (f" + {json.dumps(overrides, sort_keys=True)}" if overrides else "")
        out.append((label, spec, settings))
    if problems:
        raise GridError("; ".join(problems))
    return out


def load_grid(name_or_path: str) -> list[tuple[str, NetworkSpec, TrainSettings]]:
    """A built-in grid by name, or a grid JSON file; raise `GridError` with a clear message."""
    grids = builtin_grids()
    if name_or_path in grids:
        return parse_grid(grids[name_or_path])
    path = Path(name_or_path)
    if not path.is_file():
        raise GridError(f"{name_or_path!r} is neither a built-in grid ({', '.join(grids)}) nor a file")
    try:
        items = loads_json(path.read_bytes()[: MAX_GRID_CHARS * 4 + 1], max_chars=MAX_GRID_CHARS, what="the grid file")
    except (OSError, OutsideInputError) as err:
        raise GridError(f"cannot read grid file {path}: {err}") from None
    return parse_grid(items)
