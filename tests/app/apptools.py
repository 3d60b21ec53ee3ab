"""AppTest helpers: open pages the way a browser does, through the entrypoint, so links resolve."""

from __future__ import annotations

from pathlib import Path

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
