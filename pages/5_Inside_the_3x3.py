"""Inside the 3×3: why the 576 numbers of the book network's last conv map are enough."""

from __future__ import annotations

import streamlit as st

from dashboard.outside import escape_markdown
from dashboard.ui import cached, inside_cache, inside_panels, page_setup, text
from dashboard.ui.map_panels import no_maps_note
from dashboard.ui.numbers_panel import show_numbers
from dashboard.ui.run_picker import cached_runs, load_run_model, run_picker
from dashboard.views import labels

page_setup.setup("Inside the 3×3")
st.caption(
    "The book's network squeezes each digit into a 3×3×64 block: 576 numbers. Pick a trained "
    "run and see where those numbers put each digit, which positions and channels matter, and "
    "where the network looks."
)

runs = cached_runs()
record = run_picker("Trained run", key="inside_run", runs=runs)
if record is None:
    st.stop()
run = load_run_model(record)  # None after a message if the entry is damaged
if run is None:
    st.stop()
if run.without_maps:
    st.info(no_maps_note(run), icon=":material/info:")
    st.stop()

data = cached.mnist()
if data.fingerprint != record.data_fingerprint:
    st.info(
        f"This run was trained on {text.md(labels.data_name(record))}; the test images here are those of "
        f"the {labels.dataset_name(data)}.",
        icon=":material/info:",
    )
last_geo, conv_name = run.final_map, run.last_conv.name  # the map the head reads; the last conv layer
side, channels = last_geo.size, last_geo.channels
numbers = side * side * channels
a, b, c, d = st.columns(4)
a.metric("Map the head reads", f"{side}×{side}×{channels}")
b.metric("Numbers per digit", f"{numbers:,}" if run.flattened else f"{channels} (averaged)")
c.metric("Test accuracy" + ("" if record.seed is None else f" (seed {record.seed})"), f"{record.test_accuracy:.2%}")
d.metric("Parameters", f"{record.params:,}")
st.caption(escape_markdown(f"{labels.network_line(record)} · {labels.run_title(record)}", limit=300))
inside_panels.verdict(record, runs)

st.header(f"Where the {numbers:,} numbers go")
inside_panels.projection_section(record, numbers, last_geo.name, data)

ablation = inside_cache.ablation(record.key, data.fingerprint)
st.header(f"What each of the {side}×{side} positions carries")
inside_panels.positions_section(record, data.fingerprint, ablation, last_geo, channels)

st.header(f"What each of the {channels} channels carries")
inside_panels.channels_section(record, data.fingerprint, ablation, conv_name, channels,
                               linked=conv_name in [g.name for g in run.channel_layers])

st.header("Depth against size")
inside_panels.depth_section(runs, record)

st.header("How many numbers the classifier needs")
show_numbers(runs)

st.header("Where the network looks")
inside_panels.gradcam_section(record, run)

st.header("Downloads")
st.caption("The trained model opens with `keras.saving.load_model(path)`. Each chart's toolbar saves it as PNG.")
inside_cache.download_buttons(record, key="inside_download")
