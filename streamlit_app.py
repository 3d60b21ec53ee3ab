"""ConvNet Explorer: home page and entrypoint (`streamlit run streamlit_app.py`).

Loads fast: the book network's summary comes from JSON made by Keras, so this page never
imports TensorFlow; its figures are built once per server (`dashboard.ui.network_summary`).
"""

from __future__ import annotations

import streamlit as st

from dashboard.network.spec import BOOK
from dashboard.network.summaries import preset_summaries
from dashboard.ui import cached, page_setup, text
from dashboard.ui.chart import chart
from dashboard.ui.decode_panel import shape_panel
from dashboard.ui.network_summary import book_field_figure, summary_table
from dashboard.views import network_text
from dashboard.views.chart_texts import field_caption

page_setup.setup("ConvNet Explorer")
st.markdown(
    "#### The last conv layer of the book's MNIST network outputs `(None, 3, 3, 64)`.\n"
    "How can a network read a digit from a **3×3 image** — and get 99% of them right?"
)

book = preset_summaries()["book"]
LAST_CONV = "conv2d_2"
st.markdown("**The network of *Deep Learning with Python*, listing 5.1** (as `model.summary()` shows it)")
summary_table(book["layers"], LAST_CONV, formulas=False, explain=False)
st.caption(f"Total params: {book['total_params']:,}. {network_text.unseen_text(BOOK)}")
left, right = st.columns([3, 2])  # the table above, full width: in a column it was cut off at 1280×720
with left:
    st.markdown(
        "**The short answer.** The 3×3 is not a tiny picture of the digit. Each of its 9 positions looks "
        "at an **18×18 window** of the 28×28 input — most of the digit — through three layers of "
        "learned filters, and each position carries **64 channels**, one per pattern the network learned "
        "to detect (a stroke ending here, a loop there, a crossing…). So the classifier reads "
        "64 × 9 = **576 numbers**, each answering *“how much of pattern k is in this region?”*. "
        "That is plenty to tell ten digits apart. The pages below let you check every part of "
        "that sentence."
    )
with right:
    chart(book_field_figure(), "home_rf", field_caption(cached.layer_rows(BOOK.to_json())))
    st.caption("Each square is the window of the digit that the centre position of a layer's map sees; "
               "*jump* is how many pixels apart the windows of neighbouring positions are.")

st.subheader("What `(None, 3, 3, 64)` means")
shape_panel(BOOK, book["layers"], key="home", layer=LAST_CONV)

st.subheader("Explore")
for path, label, icon, purpose in page_setup.available_pages()[1:]:
    st.page_link(path, label=f"**{label}** — {purpose}", icon=icon)

st.divider()
digits = cached.mnist()
in_use = "full MNIST (60,000 train + 10,000 test images)" if digits.is_full else digits.label
hint = "" if digits.is_full else " Set `MNIST_NPZ` to a full MNIST `.npz` to use all 70,000 images."
st.caption(f"Data in use: **{in_use}**.{hint} "
           "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0.")
for note in digits.notes:
    st.caption(f":material/info: {text.md(note)}")  # may quote a file name: plain text
