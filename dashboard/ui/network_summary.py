"""Streamlit side of a network's summary: the `model.summary()` table (home and Architecture), and
the Architecture page's view of one network, its comparison choice and the imported models.

The texts come from `dashboard.views.network_text` (computed from the geometry), the figures from
`dashboard.charts.architecture`; this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from dashboard.charts import architecture
from dashboard.network.spec import BOOK, PRESETS, NetworkSpec, geometry, preset_name
from dashboard.network.summaries import summary_frame, summary_markdown, training_problems
from dashboard.ui import cached, page_paths, state, text
from dashboard.ui.chart import chart
from dashboard.ui.decode_panel import shape_panel
from dashboard.views import chart_texts, links, network_text

MARK = "background-color: #FFE3E3"  # the row of the highlighted layer (side by side)
PARAMS_HELP = ("Where the params come from: for a conv layer, kernel height × width × input channels "
               "(weights per filter) × filters + one bias per filter; for a dense layer, inputs × units + one "
               "bias per unit.")
NONE = "(none)"
CUSTOM_JSON = "custom (JSON)"
# Side by side (half the page): short headers and widths that keep every column in view.
NARROW_COLUMNS = {
    "Layer": st.column_config.TextColumn(width=112),
    "Output shape": st.column_config.TextColumn("Output", width=122),
    "Param #": st.column_config.NumberColumn("Params", format="localized", width=72),
    "Receptive field": st.column_config.NumberColumn("Field", width=44),
    "Jump": st.column_config.TextColumn(width=44),
}


@st.cache_resource(show_spinner=False, max_entries=128, ttl=cached.IDLE_TTL)
def figures(spec_json: str, params_top: int | None = None) -> tuple[go.Figure, go.Figure, go.Figure]:
    """(map sizes, parameters, receptive fields) of a network, built once per server and shared:
    plotly figures are slow to build, and `st.plotly_chart` only reads them."""
    spec = NetworkSpec.from_json(spec_json)
    rows = cached.layer_rows(spec_json)
    last_conv = [g for g in geometry(spec) if g.kind == "Conv2D"][-1].name
    maps = [g for g in geometry(spec) if g.size is not None]
    return (
        architecture.spatial_chart(rows, highlight=last_conv),
        architecture.params_chart(rows, highlight=last_conv, top=params_top),
        architecture.receptive_field_chart(maps, cached.mnist().x_test[0], highlight=last_conv),
    )


@st.cache_resource(show_spinner=False, max_entries=1, ttl=cached.IDLE_TTL)
def book_field_figure() -> go.Figure:
    """The home page's receptive-field figure of the book network, built once per server."""
    maps = [g for g in geometry(BOOK) if g.size is not None]
    return architecture.receptive_field_chart(maps, cached.mnist().x_test[0], highlight="conv2d_2",
                                        title="What the centre position of each layer sees", height=380)


def summary_table(rows: Sequence[dict], highlight: str, *, jump: bool = True, formulas: bool = True,
                  narrow: bool = False, explain: bool = True, key: str | None = None) -> None:
    """The summary rows as `model.summary()` shows them, the `highlight` layer's row marked.

    A Markdown table: a new browser shows it without the data grid's and Arrow's ~25 scripts
    (the server's CPU for a new visitor's Architecture page fell by a fifth). `narrow` (two
    networks side by side, half the page each): the data grid, whose fixed column widths keep
    shapes on one line where a Markdown table wraps them or spills into the other column; layer
    names without types and no formulas. `explain`: what the receptive-field, jump and parameter
    columns mean, under the table. `key` names the data grid (two equal networks side by side).
    """
    if narrow:
        frame = summary_frame(rows, jump=jump, formulas=False, types=False)
        marked = [i for i, row in enumerate(rows) if row["name"] == highlight]
        styled = frame.style.apply(lambda row: [MARK if row.name in marked else "" for _ in row], axis=1)
        st.dataframe(styled, hide_index=True, column_config=NARROW_COLUMNS, key=key)
    else:
        st.markdown(summary_markdown(rows, highlight, jump=jump, formulas=formulas))
    if explain:
        st.caption(" ".join([network_text.RECEPTIVE_FIELD_HELP] + ([network_text.JUMP_HELP] if jump else [])
                            + ([PARAMS_HELP] if formulas and not narrow else [])))


LAST_CONV_HELP = ("The last conv layer's own output, before any pooling after it. The map the classifier head reads "
                  "(Train, Inside) is the last conv block's output, after that pooling.")


def _metrics(spec: NetworkSpec, rows: Sequence[dict], narrow: bool) -> None:
    """Parameters, last conv map, its receptive field: three metrics, or one line in half the page
    (where metrics' large numbers were cut off: "2,038…")."""
    last_conv = [g for g in geometry(spec) if g.kind == "Conv2D"][-1]
    values = (f"{sum(r['params'] for r in rows):,}", f"{last_conv.size}×{last_conv.size}×{last_conv.channels}",
              f"{last_conv.receptive_field}×{last_conv.receptive_field}")
    if narrow:
        st.markdown(f"**{values[0]}** parameters · last conv output **{values[1]}** · its receptive field **{values[2]}**",
                    help=network_text.RECEPTIVE_FIELD_HELP)
        return
    a, b, c = st.columns(3)
    a.metric("Parameters", values[0])
    b.metric("Last conv output", values[1], help=LAST_CONV_HELP)
    c.metric("Its receptive field", values[2], help=network_text.RECEPTIVE_FIELD_HELP)


def show_network(spec: NetworkSpec, key: str, narrow: bool = False, params_top: int | None = None) -> None:
    """Metrics, texts, summary table, shape panel and charts of one network.

    `narrow`: shown beside another network; `params_top`: the parameter chart's y-axis top, shared
    by both networks so that their bars compare.
    """
    rows = cached.layer_rows(spec.to_json())
    last_conv = [g for g in geometry(spec) if g.kind == "Conv2D"][-1].name
    st.markdown(f"**{preset_name(spec) or 'custom'}** · `{spec.describe()}`")
    if training_problems(spec):
        st.caption("Too big to train here: " + "; ".join(training_problems(spec)) + ".")
    _metrics(spec, rows, narrow)
    st.info(network_text.map_text(spec))
    summary_table(rows, last_conv, narrow=narrow, explain=key == "main", key=f"{key}_table")  # side by side: explained once
    unseen = network_text.unseen_text(spec)
    if unseen:
        st.caption(unseen)
    shape_panel(spec, rows, key=key, stacked=narrow)
    spatial, params, field = figures(spec.to_json(), params_top)
    chart(spatial, f"{key}_spatial", chart_texts.spatial_caption(rows))
    chart(params, f"{key}_params", chart_texts.params_caption(rows))
    chart(field, f"{key}_rf", chart_texts.field_caption(rows))


def show_networks(spec: NetworkSpec, other: NetworkSpec | None) -> None:
    """One network, or two side by side with shared parameter axes."""
    if other is None:
        show_network(spec, "main")
        return
    top = max(max(r["params"] for r in cached.layer_rows(s.to_json())) for s in (spec, other))
    for column, shown, key in zip(st.columns(2), (spec, other), ("main", "other")):
        with column:
            show_network(shown, key, narrow=True, params_top=top)


def compare_choice(spec: NetworkSpec) -> NetworkSpec | None:
    """The "Compare with" box (a preset, or a network written as JSON); its choice kept in the URL."""
    compare_default = state.url_token("compare", allowed=[*PRESETS, "custom"]) or NONE
    if "arch_compare" not in st.session_state:
        st.session_state["arch_compare"] = CUSTOM_JSON if compare_default == "custom" else compare_default
    compare = st.selectbox("Compare with", [NONE, *PRESETS, CUSTOM_JSON], key="arch_compare", persist_state="session",
                           help="Show a second network beside this one: a preset, or any network written as JSON.")
    if compare in PRESETS:
        state.set_url(compare=compare, compare_spec=None)
        return PRESETS[compare]
    if compare != CUSTOM_JSON:
        state.set_url(compare=None, compare_spec=None)
        return None
    if "arch_compare_json" not in st.session_state:
        linked = st.query_params.get("compare_spec")
        st.session_state["arch_compare_json"] = linked if linked else spec.to_json()
    written = st.text_area("Second network (JSON)", key="arch_compare_json", height=120, persist_state="session")
    other, warning = links.spec_from_params({"spec": written}, default=spec)
    if warning:
        text.error(warning.replace("The link's network", "The second network"))
        return None
    state.set_url(compare="custom", compare_spec=other.to_json())
    return other


def _cache_stamp() -> tuple[int, ...]:
    """Modification times of the run cache's directories: a run stored, removed or set aside changes them."""
    from dashboard.ui.run_picker import model_cache

    cache = model_cache()
    return tuple(d.stat().st_mtime_ns if d is not None and d.is_dir() else 0 for d in (cache.root, cache.shipped_root))


@st.cache_data(show_spinner=False, max_entries=4, ttl=cached.IDLE_TTL)
def _imported_runs(stamp: tuple[int, ...]) -> list:
    """The imported runs of the cache as it was at `stamp` (listing every run reads every record
    and archive: ~40 ms a view, for a section most visits do not show)."""
    from dashboard.ui.run_picker import model_cache

    return [r for r in model_cache().runs() if r.is_imported]


def imported_models() -> None:
    """Summaries of the models imported on the Import page, if any."""
    from dashboard.ui import import_panel, run_picker

    imported_runs = _imported_runs(_cache_stamp())
    if not imported_runs:
        return
    st.header("Imported models")
    st.caption("Models uploaded on the Import page: shapes, parameters, receptive fields and jumps come "
               "from their layers' own Keras configurations, through the same geometry routine.")
    st.page_link(page_paths.IMPORT, label="Import another model", icon=":material/upload_file:")
    chosen = run_picker.run_picker("Imported model", key="arch_imported", url_name="imported", runs=imported_runs)
    if chosen is not None:
        st.dataframe(import_panel.summary_table(chosen), hide_index=True,
                     column_config={"Param #": st.column_config.NumberColumn(format="localized")})
        st.caption(f"Total params: {chosen.params:,} · " + import_panel.what_is_shown(chosen).replace("**", ""))
