"""Keras summaries of the presets, stored as JSON so pages can show them without TensorFlow.

`assets/preset_summaries.json` is made by `python tools/make_preset_summaries.py` from Keras
itself; a test rebuilds it and checks the file is current.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from dashboard.spec import PRESETS

SUMMARIES_PATH = Path(__file__).resolve().parent / "assets" / "preset_summaries.json"


def build_preset_summaries() -> dict[str, dict]:
    """{preset: {"spec", "layers", "total_params"}} from Keras (imports TensorFlow)."""
    from dashboard.model import summarize

    out = {}
    for name, spec in PRESETS.items():
        rows = [row.to_dict() for row in summarize(spec)]
        out[name] = {"spec": spec.to_dict(), "layers": rows, "total_params": sum(r["params"] for r in rows)}
    return out


@cache
def preset_summaries() -> dict[str, dict]:
    """The stored summaries (no TensorFlow import)."""
    return json.loads(SUMMARIES_PATH.read_text(encoding="utf-8"))
