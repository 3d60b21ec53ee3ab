"""AppTest helpers: open pages the way a browser does, through the entrypoint, so links resolve."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_page(page: str | None, query: dict[str, str] | None = None, timeout: float = 60) -> AppTest:
    """Run `page` ("pages/1_Architecture.py", or None for home) with `query` in the URL."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
    if page is not None:
        at.switch_page(page)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    return at


def figures(at: AppTest) -> list[dict]:
    """Every plotly figure on the page, as JSON, in page order."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def plotly_array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed array {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def wait_for_jobs(timeout: float = 180) -> None:
    """Block until every training job of this process's job manager has finished."""
    from dashboard.jobs import default_manager

    manager = default_manager()
    for status in manager.jobs():
        if status.active:
            finished = manager.wait(status.id, timeout)
            assert finished is not None and not finished.active, f"job {status.label} still {finished.state}"
