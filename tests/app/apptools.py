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


def markdown_table(source: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in `source`, parsed (markdown-it, tables on), as
    {header: cell text}; a cell marked `:red-background[**x**]` reads "x" with a "marked" key set, and
    no-break spaces read as spaces."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    rows, row, marked = [], [], False
    for token in tokens:
        if token.type == "tr_open":
            row, marked = [], False
        elif token.type == "inline" and row is not None:
            text = token.content
            if text.startswith(":red-background[") and text.endswith("]"):
                text, marked = text[len(":red-background["):-1], True
            row.append(text.strip("*").replace("\N{NO-BREAK SPACE}", " "))  # as a reader sees it
        elif token.type == "tr_close":
            rows.append((row, marked))
    (header, _), body = rows[0], rows[1:]
    return [dict(zip(header, cells)) | ({"marked": "yes"} if marked else {}) for cells, marked in body]


def png_picture(source: str) -> np.ndarray:
    """A `go.Image` source (a PNG data URI, grey + alpha) as (h, w) floats in [0, 1], NaN where transparent."""
    import io

    from PIL import Image

    prefix = "data:image/png;base64,"
    assert source.startswith(prefix), source[:40]
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(source[len(prefix):]))).convert("LA"), dtype=float)
    return np.where(picture[..., 1] == 0, np.nan, picture[..., 0] / 255.0)


def plotly_array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed array {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def wait_for_jobs(timeout: float = 180) -> None:
    """Block until every training job of this process's job manager has finished."""
    from dashboard.jobs.job_manager import default_manager

    manager = default_manager()
    for status in manager.jobs():
        if status.active:
            finished = manager.wait(status.id, timeout)
            assert finished is not None and not finished.active, f"job {status.label} still {finished.state}"
