"""Inside the 3×3: why the 576 numbers of the book network's last conv map are enough."""

from __future__ import annotations

import streamlit as st

from dashboard.network.spec import geometry
from dashboard.outside import escape_markdown
from dashboard.store.imported import has_maps, layer_rows, map_geometry
from dashboard.ui import cached, inside_cache, inside_panels, page_setup, text
from dashboard.ui.import_panel import what_is_shown
from dashboard.ui.numbers_panel import show_numbers
from dashboard.ui.run_picker import cached_runs, load_run_model, load_run_network, run_picker
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
spec = record.spec  # None for an imported run
if record.is_imported and not has_maps(record):
    st.info(what_is_shown(record), icon=":material/info:")
    st.stop()
if (load_run_model if record.is_imported else load_run_network)(record) is None:  # a damaged entry: say so, stop
    st.stop()

data = cached.mnist()
if data.fingerprint != record.data_fingerprint:
    st.info(
        f"This run was trained on {text.md(labels.data_name(record))}; the test images here are those of "
        f"the {labels.dataset_name(data)}.",
        icon=":material/info:",
    )
side, channels = record.final_map
if spec is None:  # an imported chain: geometry from its layers' own configurations
    maps_geo, rows = map_geometry(record), layer_rows(record)
    flattened, last_type = "Flatten" in [row["type"] for row in rows], rows[-1]["type"]
else:
    maps_geo = [g for g in geometry(spec) if g.size is not None and g.kind != "BatchNormalization"]
    flattened, last_type = spec.head == "flatten", "Dense"
last_geo = maps_geo[-1]
conv_name = last_geo.name if last_geo.kind == "Conv2D" else maps_geo[-2].name
numbers = side * side * channels
a, b, c, d = st.columns(4)
a.metric("Map the head reads", f"{side}×{side}×{channels}")
b.metric("Numbers per digit", f"{numbers:,}" if flattened else f"{channels} (averaged)")
c.metric("Test accuracy" if spec is None else f"Test accuracy (seed {record.seed})", f"{record.test_accuracy:.2%}")
d.metric("Parameters", f"{record.params:,}")
st.caption(escape_markdown(f"{labels.network_line(record)} · {labels.run_title(record)}", limit=300))
inside_panels.verdict(record, runs)

st.header(f"Where the {numbers:,} numbers go")
inside_panels.projection_section(record, numbers, last_geo.name, data)

ablation = inside_cache.ablation(record.key, data.fingerprint)
st.header(f"What each of the {side}×{side} positions carries")
inside_panels.positions_section(record, data.fingerprint, ablation, last_geo, channels)

st.header(f"What each of the {channels} channels carries")
inside_panels.channels_section(record, data.fingerprint, ablation, conv_name, channels)

st.header("Depth against size")
inside_panels.depth_section(runs, record)

st.header("How many numbers the classifier needs")
show_numbers(runs)

st.header("Where the network looks")
inside_panels.gradcam_section(record, "" if spec is None else spec.to_json(), last_type)

st.header("Downloads")
st.caption("The trained model opens with `keras.saving.load_model(path)`. Each chart's toolbar saves it as PNG.")
inside_cache.download_buttons(record, key="inside_download")
