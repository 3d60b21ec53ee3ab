"""Pick by clicking: plotly selection events copied into the widgets that hold the same choice.

Heatmap cells cannot be selected in plotly, so figures that offer a pick draw square scatter
markers whose `customdata` is the choice (a channel, or [row, col]). `clickable_chart` shows
such a figure with `on_select`; its callback, which Streamlit runs before the script, writes
the clicked values into the widgets' session state, so the sliders move with the click and
a slider moved later wins until the next click.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from dashboard.ui import page_paths


def point_values(point: Any) -> list[int] | None:
    """One selected point's customdata as whole numbers, or None.

    A row of 2-D customdata comes back from the browser as a typed array, which JSON writes as
    {"0": row, "1": col}; a list or a single number comes back as itself.
    """
    data = point.get("customdata") if isinstance(point, dict) else None
    if data is None:
        return None
    try:
        if isinstance(data, dict):
            data = [data[index] for index in sorted(data, key=int)]
        return [int(v) for v in (data if isinstance(data, list) else [data])]
    except (TypeError, ValueError):
        return None


def picked_values(event: Any) -> list[int] | None:
    """The first selected point's customdata as whole numbers, or None if no point carries one."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points or []:
        if isinstance(point, dict) and point.get("customdata") is not None:
            return point_values(point)
    return None


def _copy_pick(chart_key: str, widget_keys: Sequence[str], valid: Callable[[list[int]], bool]) -> None:
    values = picked_values(st.session_state.get(chart_key))
    if values is None or len(values) < len(widget_keys) or not valid(values):
        return
    for key, value in zip(widget_keys, values):
        st.session_state[key] = value


def clickable_chart(
    figure: Any, key: str, widget_keys: Sequence[str], valid: Callable[[list[int]], bool] = lambda _: True, **kwargs: Any
) -> Any:
    """`st.plotly_chart` whose clicked point sets the widgets `widget_keys` (in customdata order)."""
    return st.plotly_chart(
        figure,
        key=key,
        on_select=lambda: _copy_pick(key, widget_keys, valid),
        selection_mode="points",
        **kwargs,
    )


def bar_channel(event: Any, channels: int) -> int | None:
    """The channel of the first clicked bar labelled 'ch N', or None."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points or []:
        label = str(point.get("x", "")) if isinstance(point, dict) else ""
        if label.startswith("ch ") and label[3:].isdigit() and int(label[3:]) < channels:
            return int(label[3:])
    return None


def channel_link(run_key: str, event: Any, channels: int, chosen: int | None = None) -> None:
    """After a bar of a channel chart is clicked, or a channel `chosen` in a box: a link to what that
    channel looks for (else a hint). A click wins over the box."""
    channel = bar_channel(event, channels)
    if channel is None:
        channel = chosen if chosen is not None and 0 <= chosen < channels else None
    if channel is None:
        st.caption("Click a bar, or choose a channel in the box, to see what that channel looks for.")
        return
    # The Channels page prefers its session state to the URL: set both.
    st.session_state["atlas_run"], st.session_state["atlas_channel"] = run_key, channel
    st.session_state.pop("atlas_layer", None)  # its last conv layer: the one these channels belong to
    st.page_link(
        page_paths.CHANNELS, label=f"What channel {channel} looks for", icon=":material/flashlight_on:",
        query_params={"run": run_key, "channel": str(channel)},
    )
