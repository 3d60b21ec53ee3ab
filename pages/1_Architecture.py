"""Architecture: change the network, see every layer's shape, parameters and receptive field."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import links
from dashboard.charts import architecture as charts
from dashboard.spec import PRESETS, NetworkSpec, final_map, geometry, preset_name
from dashboard.summaries import training_problems
from dashboard.ui import cached, imports, nav, runs, state, text, widgets
from dashboard.ui.decode import shape_panel

st.set_page_config(page_title="Architecture · ConvNet Explorer", page_icon=nav.FAVICON, layout="wide")
nav.sidebar_nav()
st.title("🧱 Architecture")
st.caption(
    "Change the network in the sidebar: output shapes, parameter counts and receptive fields are "
    "worked out from the layers' arithmetic (the same numbers Keras reports), without building the "
    "network. Nothing is trained here."
)

NONE = "(none)"


def show_network(spec: NetworkSpec, key: str) -> None:
    """Metrics, summary table and the three charts of one network."""
    rows = cached.layer_rows(spec.to_json())
    geo = geometry(spec)
    maps = [g for g in geo if g.size is not None]
    last_conv = [g for g in maps if g.kind == "Conv2D"][-1]
    side, channels = final_map(spec)

    st.markdown(f"**{preset_name(spec) or 'custom'}** · `{spec.describe()}`")
    if training_problems(spec):
        st.caption("🐘 Too big to train here: " + "; ".join(training_problems(spec)) + ".")
    a, b, c = st.columns(3)
    a.metric("Parameters", f"{sum(r['params'] for r in rows):,}")
    b.metric("Last conv map", f"{last_conv.size}×{last_conv.size}×{last_conv.channels}")
    c.metric("Its receptive field", f"{last_conv.receptive_field}×{last_conv.receptive_field}")

    head_inputs = side * side * channels if spec.head == "flatten" else channels
    window = last_conv.window(0, 0)
    st.info(
        f"Each of the {last_conv.size}×{last_conv.size} positions of `{last_conv.name}` sees a "
        f"{last_conv.receptive_field}×{last_conv.receptive_field} window of the 28×28 digit "
        f"(clipped to the image: rows {window[0]}–{window[2]} for the top-left one), and "
        f"neighbouring positions are {last_conv.jump} pixels apart. "
        + (
            f"{channels} channels × {side * side} positions = **{head_inputs:,} numbers** feed the classifier."
            if spec.head == "flatten"
            else f"Global averaging keeps **{head_inputs} numbers**, one per channel, and forgets where."
        )
    )

    table = pd.DataFrame(
        {
            "Layer (type)": [f"{r['name']} ({r['type']})" for r in rows],
            "Output shape": [str(tuple(r["output_shape"])) for r in rows],
            "Param #": [r["params"] for r in rows],
            "Receptive field": [r["receptive_field"] for r in rows],
            "Jump": ["—" if r["jump"] is None else str(r["jump"]) for r in rows],
            "Where the params come from": [r["params_formula"] for r in rows],
        }
    )
    highlight_row = [r["name"] for r in rows].index(last_conv.name)
    st.dataframe(
        table.style.apply(
            lambda row: ["background-color: #FFE3E3" if row.name == highlight_row else "" for _ in row], axis=1
        ).format({"Param #": "{:,}"}),
        hide_index=True,
        width="stretch",
        key=f"{key}_table",
    )
    shape_panel(spec, rows, key=key, image=cached.mnist().x_test[0] / 255.0)
    st.plotly_chart(charts.spatial_chart(rows, highlight=last_conv.name), key=f"{key}_spatial")
    st.plotly_chart(charts.params_chart(rows, highlight=last_conv.name), key=f"{key}_params")
    digit = cached.mnist().x_test[0]
    st.plotly_chart(charts.receptive_field_chart(maps, digit, highlight=last_conv.name), key=f"{key}_rf")


initial = state.current_spec()
with st.sidebar:
    st.header("Network")
    edited, problems = widgets.spec_editor("arch", initial)

if problems:
    st.error("This network cannot be built:\n\n" + "\n".join(f"- {p}" for p in problems))
    spec = initial  # always valid: the session keeps only networks that built
    st.caption(f"Below: the last network that could be built (`{spec.describe()}`).")
else:
    spec = edited
    state.set_spec(spec)

CUSTOM_JSON = "custom (JSON)"
compare_default = state.url_token("compare", allowed=[*PRESETS, "custom"]) or NONE
state.kept("arch_compare")  # the choice made before a visit to another page, else the link's
if "arch_compare" not in st.session_state:
    st.session_state["arch_compare"] = CUSTOM_JSON if compare_default == "custom" else compare_default
compare = st.selectbox(
    "Compare with",
    [NONE, *PRESETS, CUSTOM_JSON],
    key="arch_compare",
    help="Show a second network beside this one: a preset, or any network written as JSON.",
)

other: NetworkSpec | None = None
if compare in PRESETS:
    other = PRESETS[compare]
    state.set_url(compare=compare, compare_spec=None)
elif compare == CUSTOM_JSON:
    state.kept("arch_compare_json")
    if "arch_compare_json" not in st.session_state:
        linked = st.query_params.get("compare_spec")
        st.session_state["arch_compare_json"] = linked if linked else spec.to_json()
    written = st.text_area("Second network (JSON)", key="arch_compare_json", height=120)
    other, warning = links.spec_from_params({"spec": written}, default=spec)
    if warning:
        text.error(warning.replace("The link's network", "The second network"))
        other = None
    else:
        state.set_url(compare="custom", compare_spec=other.to_json())
else:
    state.set_url(compare=None, compare_spec=None)

if other is None:
    show_network(spec, "main")
else:
    left, right = st.columns(2)
    with left:
        show_network(spec, "main")
    with right:
        show_network(other, "other")

imported_runs = [r for r in runs.cached_runs() if r.is_imported]
if imported_runs:
    st.header("Imported models")
    st.caption("Models uploaded on the **Import** page: shapes, parameters, receptive fields and jumps "
               "come from their layers' own Keras configurations, through the same geometry routine.")
    chosen = runs.run_picker("Imported model", key="arch_imported", url_name="imported", runs=imported_runs)
    if chosen is not None:
        st.dataframe(imports.summary_table(chosen), hide_index=True,
                     column_config={"Param #": st.column_config.NumberColumn(format="%d")})
        st.caption(f"Total params: {chosen.params:,} · " + imports.what_is_shown(chosen).replace("**", ""))
