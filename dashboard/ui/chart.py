"""A plotly chart with its meaning in words under it (`dashboard.views.chart_texts`), and no toolbar.

Plotly's toolbar covers a chart's title on a phone, where it shows without hovering; Streamlit's
own element toolbar (full screen) remains. The caption is plain text.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.ui.text import md

CONFIG = {"displayModeBar": False}


def chart(figure: Any, key: str, caption: str, where: Any = None, **kwargs: Any) -> Any:
    """`st.plotly_chart` of `figure` in `where` (the page by default), then `caption` as plain text."""
    where = st if where is None else where
    event = where.plotly_chart(figure, key=key, config=kwargs.pop("config", CONFIG), **kwargs)
    where.caption(md(caption))
    return event
