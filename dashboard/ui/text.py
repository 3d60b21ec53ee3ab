"""Plain text on the page: messages that may quote outside text never render as markup.

Messages built by `dashboard` (link warnings, `SpecError`, `CacheError`, `DigitError`, progress
warnings, exercise feedback) and fields of cache records are plain text. Streamlit reads the
body of `st.warning`, `st.caption`, … as markdown, so these helpers escape it first: a
`[link](…)`, `![image](…)`, `<a>` or `https://…` shows as the characters it is, and the
browser fetches nothing. Page-authored markdown around an outside value uses `md(value)` or
`outside.code_span(value)` for the value only.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.outside import escape_markdown

MESSAGE_CHARS = 1200  # a message longer than this is cut with '…'


def md(text: Any, limit: int = MESSAGE_CHARS) -> str:
    """Markdown that renders as exactly `text` (flattened to one line, at most `limit` characters)."""
    return escape_markdown(text, limit=limit)


def warning(text: Any, icon: str = ":material/warning:") -> None:
    """`st.warning` of plain text."""
    st.warning(md(text), icon=icon)


def error(text: Any, icon: str = ":material/block:") -> None:
    """`st.error` of plain text."""
    st.error(md(text), icon=icon)


def info(text: Any, icon: str = ":material/info:") -> None:
    """`st.info` of plain text."""
    st.info(md(text), icon=icon)


def success(text: Any, icon: str = ":material/check_circle:") -> None:
    """`st.success` of plain text."""
    st.success(md(text), icon=icon)


def caption(text: Any) -> None:
    """`st.caption` of plain text."""
    st.caption(md(text))
