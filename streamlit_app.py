"""ConvNet Explorer: home page and entrypoint (`streamlit run streamlit_app.py`).

Loads fast: the book network's summary comes from JSON made by Keras, so this page never
imports TensorFlow.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.charts.architecture import receptive_field_chart
from dashboard.spec import BOOK, geometry
from dashboard.summaries import preset_summaries
from dashboard.ui import cached, nav
from dashboard.ui.decode import shape_panel

st.set_page_config(page_title="ConvNet Explorer", page_icon=nav.FAVICON, layout="wide")
nav.sidebar_nav()

st.title("🔎 ConvNet Explorer")
st.markdown(
    "#### The last conv layer of the book's MNIST network outputs `(None, 3, 3, 64)`.\n"
    "How can a network read a digit from a **3×3 image** — and get 99% of them right?"
)

book = preset_summaries()["book"]
last_conv = "conv2d_2"
left, right = st.columns([3, 2])
with left:
    st.markdown("**The network of *Deep Learning with Python*, listing 5.1** (as `model.summary()` shows it)")
    table = pd.DataFrame(
        {
            "Layer (type)": [f"{r['name']} ({r['type']})" for r in book["layers"]],
            "Output shape": [str(tuple(r["output_shape"])) for r in book["layers"]],
            "Param #": [r["params"] for r in book["layers"]],
            "Receptive field": [r["receptive_field"] for r in book["layers"]],
        }
    )
    marked = [r["name"] == last_conv for r in book["layers"]]
    st.dataframe(
        table.style.apply(lambda row: ["background-color: #FFE3E3" if marked[row.name] else "" for _ in row], axis=1)
        .format({"Param #": "{:,}"}),
        hide_index=True,
        key="home_summary",
    )
    st.caption(f"Total params: {book['total_params']:,}")
    st.markdown(
        "**The short answer.** The 3×3 is not a tiny picture of the digit. Each of its 9 cells looks "
        "at an **18×18 window** of the 28×28 input — most of the digit — through three layers of "
        "learned filters, and each cell carries **64 channels**, one per pattern the network learned "
        "to detect (a stroke ending here, a loop there, a crossing…). So the classifier reads "
        "64 × 9 = **576 numbers**, each answering *“how much of pattern k is in this region?”*. "
        "That is plenty to tell ten digits apart. The pages below let you check every part of "
        "that sentence."
    )
with right:
    digits = cached.mnist()
    maps = [g for g in geometry(BOOK) if g.size is not None]
    fig = receptive_field_chart(maps, digits.x_test[0], highlight=last_conv)
    fig.update_layout(height=380, title="What the centre cell of each layer sees")
    st.plotly_chart(fig, key="home_rf")

st.subheader("What `(None, 3, 3, 64)` means")
shape_panel(BOOK, book["layers"], key="home", image=digits.x_test[0] / 255.0, layer=last_conv)

st.subheader("Explore")
for path, label, icon, text in nav.available_pages()[1:]:
    st.page_link(path, label=f"**{label}** — {text}", icon=icon)

st.divider()
st.caption(
    f"Data in use: **{digits.label}**. Set `MNIST_NPZ` to a full MNIST `.npz` to use all 70,000 images. "
    "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0."
)
for note in digits.notes:
    st.caption(f"ⓘ {note}")
