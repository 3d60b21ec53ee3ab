"""Feature maps: draw a digit and watch a trained network read it, layer by layer."""

from __future__ import annotations

import streamlit as st

from dashboard.cache import CacheError
from dashboard.labels import network_line, run_title
from dashboard.run import RunRecord
from dashboard.spec import PRESETS
from dashboard.ui import maps as ui_maps
from dashboard.imported import has_maps
from dashboard.outside import escape_markdown
from dashboard.ui import imports, runs, text
from dashboard.ui.digit_input import digit_input
from dashboard.ui.state import kept, set_url

st.title("🖌️ Feature maps")
st.caption(
    "Draw a digit, pick a test image or upload a picture, and follow it through a trained network: "
    "every conv and pooling layer's maps, the prediction, and the window of the digit that each "
    "position of the last conv layer sees."
)


def second_default(records: list[RunRecord], first: RunRecord) -> str | None:
    """A run to compare with: the no-pooling network if cached, else any other run."""
    others = [r for r in records if r.key != first.key]
    pool = [r for r in others if r.spec == PRESETS["no_pooling"]] or others
    return pool[0].key if pool else None


def prepare(record: RunRecord) -> ui_maps.RunMaps | None:
    """The run's cached activation model, or None after an error message."""
    try:
        if record.is_imported:
            if not has_maps(record):
                st.info(imports.what_is_shown(record), icon="ℹ️")
                return None
            return ui_maps.imported_maps(record.key, record.imported.scaling)
        return ui_maps.run_maps(record.key, record.spec.to_json())
    except (CacheError, OSError, ValueError) as err:
        text.error(f"This run cannot be used: {err}. Train it again on the Train page.")
    return None


records = runs.cached_runs()
with st.sidebar:
    st.header("Trained run")
    first = runs.run_picker("Run", key="fm_run", runs=records) if records else None
    second = None
    if first is not None and len(records) > 1:
        if st.toggle("Compare with a second run", key=kept("fm_compare", "run2" in st.query_params)):
            second = runs.run_picker(
                "Second run", key="fm_run2", default_key=second_default(records, first), url_name="run2", runs=records
            )
        else:
            set_url(run2=None)



@st.fragment
def digit_and_maps(chosen: list[RunRecord]) -> None:
    """The digit and every chosen run's maps of it: a stroke or a slider reruns only this part."""
    digit = digit_input("fm")
    if digit is None or not chosen:
        return
    columns = st.columns(len(chosen)) if len(chosen) > 1 else [st.container()]
    for i, (record, column) in enumerate(zip(chosen, columns)):
        with column:
            st.subheader(network_line(record))
            st.caption(escape_markdown(run_title(record), limit=200))
            run = prepare(record)  # a cached resource: built on the first view only
            if run is None:
                continue
            reading = run.read(digit.image)
            ui_maps.show_reading(
                run, reading, key=f"fm{i}", true_label=digit.label, url=i == 0, wide=len(chosen) == 1
            )


if not records:
    st.info("No trained runs yet: train one on the **Train** page, then come back.", icon="ℹ️")
digit_and_maps([r for r in (first, second) if r is not None])
