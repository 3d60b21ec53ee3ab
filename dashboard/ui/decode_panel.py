"""The "shape decoded" panel: what each part of a layer's output shape means, and the kernel
against the output drawn to scale. TensorFlow-free (the home page uses it)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from dashboard.charts.shape import kernel_output_chart
from dashboard.network import decode
from dashboard.network.spec import NetworkSpec, geometry
from dashboard.ui import cached


@st.cache_resource(show_spinner=False, max_entries=128, ttl=cached.IDLE_TTL)
def _decode_figure(spec_json: str, layer: str, digit: int) -> go.Figure:
    """The kernel and output of `layer` over test digit `digit`, built once per server and shared
    (plotly figures are slow to build; `st.plotly_chart` only reads them)."""
    spec = NetworkSpec.from_json(spec_json)
    row = next(r for r in cached.layer_rows(spec_json) if r["name"] == layer)
    shape = row["output_shape"]
    geo = next(g for g in geometry(spec) if g.name == layer)
    image = cached.mnist().x_test[digit] / 255.0
    output = decode.output_cells(spec, layer)
    centre = output.grid // 2
    chosen = centre * output.grid + centre  # the centre position
    if row["type"] == "Conv2D":
        kernel, input_map = decode.kernel_taps(spec, layer, centre, centre)
        k = kernel.grid
        titles = (f"kernel {k}×{k} of Conv2D({shape[3]}, ({k}, {k}))<br>at ({centre}, {centre})",
                  f"output {shape[1]}×{shape[2]} of {layer}")
    else:
        kernel = input_map = None
        titles = ("", f"output {shape[1]}×{shape[2]} of {layer}")
    return kernel_output_chart(image, kernel, input_map, output, geo.window(centre, centre), titles, chosen)


def shape_panel(spec: NetworkSpec, rows: Sequence[dict], key: str, digit: int = 0, layer: str | None = None,
                stacked: bool = False) -> None:
    """Decode a layer's output shape (`layer`, else a selectbox defaulting to the last conv layer),
    drawn over test digit number `digit`; the text beside the figure, or above it if `stacked`."""
    names = [r["name"] for r in rows]
    if layer is None:
        widget = f"{key}_decode_layer"
        if st.session_state.get(widget) not in names:
            st.session_state[widget] = [r["name"] for r in rows if r["type"] == "Conv2D"][-1]
        layer = st.selectbox("Decode the output shape of", names, key=widget, persist_state="session")
    row = rows[names.index(layer)]
    shape = list(row["output_shape"])
    geo = next((g for g in geometry(spec) if g.name == layer), None)
    parts = decode.decode_shape(shape, layer, row["type"], geo)
    text_col, chart_col = (st.container(), st.container()) if stacked else st.columns([2, 3])
    with text_col:
        lines = [f"**`{decode.shape_text(shape)}`** is the output of `{layer}` ({row['type']}):"]
        lines += [
            f"- `{p.text}`: **{p.name}**, {p.meaning}" if p.text else f"- **{p.name.capitalize()}**: {p.meaning}"
            for p in parts
        ]
        st.markdown("\n".join(lines))
        if row.get("params_formula"):
            st.markdown(f"**Parameters:** {row['params_formula']}")
        if row["type"] == "Conv2D":
            st.markdown(decode.kernel_text(spec, layer, shape))
    if len(shape) != 4:
        chart_col.caption("This layer's output has no positions left: nothing to place on the digit.")
        return
    chart_col.plotly_chart(_decode_figure(spec.to_json(), layer, digit), key=f"{key}_decode_chart",
                           config={"displayModeBar": False})
