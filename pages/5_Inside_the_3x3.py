"""Inside the 3×3: why the 576 numbers of the book network's last conv map are enough."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.charts import inside as charts
from dashboard import labels
from dashboard.imported import has_maps, layer_rows, map_geometry
from dashboard.outside import code_span, escape_markdown
from dashboard.ui.imports import what_is_shown
from dashboard.spec import geometry
from dashboard.ui import cached, inside, text
from dashboard.ui.runs import cached_runs, load_run_model, run_picker
from dashboard.ui.state import kept, set_url, url_int, url_token

st.title("🔬 Inside the 3×3")
st.caption(
    "The book's network squeezes each digit into a 3×3×64 block: 576 numbers. Pick a trained "
    "run and see where those numbers put each digit, which positions and channels matter, and "
    "where the network looks."
)

PROJECTIONS = {"pca": "PCA (fast)", "tsne": f"t-SNE ({inside.TSNE_IMAGES:,} images, slower the first time)"}
PREDICTED = -1  # Grad-CAM of the class the network predicts
MAX_SHOWN = 24  # selected images drawn below the projection

runs = cached_runs()
record = run_picker("Trained run", key="inside_run", runs=runs)
if record is None:
    st.stop()
spec = record.spec  # None for an imported run
if record.is_imported and not has_maps(record):
    st.info(what_is_shown(record), icon="ℹ️")
    st.stop()
if load_run_model(record) is None:
    st.stop()

data = cached.mnist()
if data.fingerprint != record.data_fingerprint:
    st.info(
        f"This run was trained on {text.md(record.data_label)}; the test images here come from {data.label}.",
        icon="ℹ️",
    )
side, channels = record.final_map
if spec is None:  # an imported chain: geometry from its layers' own configurations
    maps_geo = map_geometry(record)
    flattened = "Flatten" in [row["type"] for row in layer_rows(record)]
else:
    maps_geo = [g for g in geometry(spec) if g.size is not None and g.kind != "BatchNormalization"]
    flattened = spec.head == "flatten"
last_geo = maps_geo[-1]
numbers = side * side * channels
a, b, c, d = st.columns(4)
a.metric("Last map", f"{side}×{side}×{channels}")
b.metric("Numbers per digit", f"{numbers:,}" if flattened else f"{channels} (averaged)")
c.metric("Test accuracy", f"{record.test_accuracy:.2%}")
d.metric("Parameters", f"{record.params:,}")
st.caption(escape_markdown(f"{labels.network_line(record)} · {labels.run_title(record)}", limit=300))

# --- where the numbers go ------------------------------------------------------------------

st.header(f"Where the {numbers:,} numbers go")
method = url_token("proj", allowed=list(PROJECTIONS)) or "pca"
method = st.radio(
    "Projection", list(PROJECTIONS), format_func=PROJECTIONS.__getitem__, horizontal=True,
    key=kept("inside_proj", method),
)
set_url(proj=method)
proj = inside.projection(record.key, method, data.fingerprint)
chart_col, text_col = st.columns([3, 2])
with chart_col:
    event = st.plotly_chart(
        charts.projection_chart(
            proj["coords"], proj["labels"], proj["indices"], proj["predicted"],
            method="PCA" if method == "pca" else "t-SNE", explained=proj["explained"],
        ),
        key="inside_projection",
        on_select="rerun",
        selection_mode=("points", "box", "lasso"),
    )
with text_col:
    first_two = "" if proj["explained"] is None else (
        f" The two axes shown keep {float(np.sum(proj['explained'][:2])):.0%} of the spread of those numbers."
    )
    st.markdown(
        f"Each dot is one test image, placed by its **{numbers:,} numbers** from the last feature map "
        f"(`{last_geo.name}`), squashed to two dimensions."
        + (
            " PCA keeps the two directions along which the numbers vary most."
            if method == "pca"
            else " t-SNE keeps images that are close in the 576 numbers close on the page; distances between clusters mean little."
        )
        + first_two
        + "\n\nIf the colours form separate clumps, the dense layers after the conv base have an easy job: "
        "they only need to draw boundaries between clumps. Outlined dots are the network's mistakes; "
        "they usually sit between two clumps.\n\n"
        "**Select dots** (click, or drag a box or lasso) to see their images below."
    )
    points = event.selection.points if event is not None and hasattr(event, "selection") else []
    chosen = [int(p["customdata"][0]) for p in points if p.get("customdata") is not None][:MAX_SHOWN]
    if chosen:
        labels = {int(i): (int(l), int(p)) for i, l, p in zip(proj["indices"], proj["labels"], proj["predicted"])}
        captions = [f"#{i}: {labels[i][0]}→{labels[i][1]}" if i in labels else f"#{i}" for i in chosen]
        st.plotly_chart(
            charts.thumbnails_chart(data.x_test[chosen], captions, cols=6, title="Selected (label→predicted)"),
            key="inside_selected",
            config={"displayModeBar": False},
        )

# --- positions and channels ----------------------------------------------------------------

ablation = inside.ablation(record.key, data.fingerprint)
st.header(f"What each of the {side}×{side} positions carries")
top, left_, bottom, right_ = last_geo.window(0, 0)
left_col, right_col, text_col = st.columns([2, 2, 2])
with left_col:
    st.plotly_chart(
        charts.position_chart(
            ablation.zero_one, ablation.baseline, "Accuracy with one position zeroed",
            note=f"all positions kept: {ablation.baseline:.1%}",
        ),
        key="inside_zero_one",
    )
with right_col:
    st.plotly_chart(
        charts.position_chart(
            ablation.keep_one, ablation.baseline, "Accuracy with only one position kept",
            note="chance is 10%",
        ),
        key="inside_keep_one",
    )
with text_col:
    worst = np.unravel_index(np.argmin(ablation.zero_one), ablation.zero_one.shape)
    best = np.unravel_index(np.argmax(ablation.keep_one), ablation.keep_one.shape)
    worst_drop = ablation.baseline - ablation.zero_one[worst]
    best_alone = ablation.keep_one[best]
    st.markdown(
        f"Each position of the {side}×{side} map sees a {last_geo.receptive_field}×{last_geo.receptive_field} "
        f"window of the digit (the top-left one: rows {top}–{bottom}, columns {left_}–{right_}), and "
        f"neighbours are {last_geo.jump} pixel{'s' if last_geo.jump != 1 else ''} apart, so the windows overlap.\n\n"
        f"**Left:** set all {channels} numbers of one position to zero and measure test accuracy on "
        f"{ablation.n_images:,} images. Losing position {tuple(int(v) for v in worst)} hurts most: "
        f"{ablation.zero_one[worst]:.1%}, {worst_drop * 100:.1f} points below all positions. "
        + labels.position_judgement(worst_drop) + "\n\n"
        + f"**Right:** keep only one position. The best one alone, {tuple(int(v) for v in best)}, gives "
        f"{best_alone:.1%} against 10% for guessing"
        + labels.window_judgement(best_alone)
    )

st.header(f"What each of the {channels} channels carries")
chart_col, text_col = st.columns([3, 2])
with chart_col:
    st.plotly_chart(
        charts.channel_chart(ablation.channel_accuracy, ablation.channel_order, ablation.baseline),
        key="inside_channels",
        on_select="rerun",
        selection_mode="points",
    )
    from dashboard.ui.pick import channel_link  # noqa: E402

    if not record.is_imported:  # the Channels page needs the app's network description
        channel_link(record.key, st.session_state.get("inside_channels"), channels)
with text_col:
    drops = ablation.baseline - ablation.channel_accuracy
    harmless = int((drops <= labels.HARMLESS_CHANNEL_DROP).sum())
    first = int(ablation.channel_order[0])
    st.markdown(
        f"A channel is one filter of `{last_geo.name if last_geo.kind == 'Conv2D' else maps_geo[-2].name}`: "
        f"a detector of one pattern, read at every position. Here each channel in turn is set to zero everywhere.\n\n"
        f"Losing channel {first} costs most ({drops[first] * 100:.2f} points); {harmless} of the {channels} "
        "channels can go with almost no loss (≤ 0.1 point). The information is spread over many "
        "detectors, with some redundancy: no single channel is the one that recognises a digit."
    )

# --- depth against size --------------------------------------------------------------------

st.header("Depth against size")
from dashboard.evaluation import family_rows, same_training  # noqa: E402

same_only = st.toggle(
    "Only runs trained with the same settings and data", key=kept("inside_same", True),
    help="A fair comparison of networks needs the same training.",
)
family = same_training(runs, record) if same_only else runs
rows = family_rows(family)
chart_col, text_col = st.columns([3, 2])
with chart_col:
    if len(rows) >= 2:
        highlight = next((i for i, r in enumerate(rows) if r.key == record.key), None)
        st.plotly_chart(
            charts.depth_size_chart(
                [r.final_size for r in rows], [r.test_accuracy for r in rows], [r.params for r in rows],
                [r.label for r in rows], highlight=highlight,
            ),
            key="inside_depth",
        )
    else:
        st.info(
            "Only one run to show. Train more networks of this family (or warm the cache with "
            "`python -m dashboard warm --grid workshop`) to compare last-map sizes.",
            icon="ℹ️",
        )
with text_col:
    facts = ""
    if len(rows) >= 2:
        accs = [r.test_accuracy for r in rows]
        params = [r.params for r in rows]
        facts = (
            f"\n\n**Here:** {len(rows)} runs; test accuracy spans {min(accs):.2%}–{max(accs):.2%} "
            f"({(max(accs) - min(accs)) * 100:.2f} points) while the parameter count spans "
            f"{min(params):,}–{max(params):,} ({max(params) / max(min(params), 1):.0f}×)."
        )
    st.markdown(
        "Each dot is a cached run (this one in red). More conv blocks and poolings shrink the last map "
        "(28 → … → 3 → 1), and each of its numbers then sees a larger part of the digit. A smaller map also "
        "means fewer numbers for the classifier, hence far fewer parameters in the Dense layer after "
        "`Flatten` (right, log scale).\n\nCompare the two panels: does a bigger last map buy accuracy, or "
        "only parameters? For centred digits, knowing *which* strokes are present matters more than "
        "knowing exactly *where*." + facts
    )

# --- how many numbers ----------------------------------------------------------------------

st.header("How many numbers the classifier needs")
from dashboard.ui.numbers import show_numbers  # noqa: E402

show_numbers(runs)

# --- where the network looks ---------------------------------------------------------------

st.header("Where the network looks")
from dashboard.ui.digit_input import digit_input  # noqa: E402

digit = digit_input("inside")
if digit is not None:
    cam_default = url_int("cam", PREDICTED, 9, PREDICTED)
    cam_class = st.selectbox(
        "Explain the score of", [PREDICTED, *range(10)], key=kept("inside_cam", cam_default),
        format_func=lambda k: "the predicted digit" if k == PREDICTED else f"digit {k}",
    )
    set_url(cam=None if cam_class == PREDICTED else cam_class)
    if record.is_imported and layer_rows(record)[-1]["type"] != "Dense":
        st.info("Grad-CAM scores the logits of a final Dense layer; this model ends in "
                f"{layer_rows(record)[-1]['type']}, so it is not shown.", icon="ℹ️")
        st.stop()
    cam = inside.grad_cam(
        record.key, "" if spec is None else spec.to_json(), np.asarray(digit.image, dtype=np.float32),
        None if cam_class == PREDICTED else int(cam_class),
    )
    predicted = int(np.argmax(cam.probabilities))
    chart_col, text_col = st.columns([3, 2])
    with chart_col:
        st.plotly_chart(
            charts.gradcam_chart(
                digit.image, cam.heatmap, cam.coarse,
                f"Grad-CAM for digit {cam.class_index} · predicted {predicted} ({cam.probabilities[predicted]:.1%})",
            ),
            key="inside_gradcam",
        )
    with text_col:
        one_by_one = " With a 1×1 map there is a single position, so the heat is flat: nothing to localise." if side == 1 and cam.coarse.size == 1 else ""
        st.markdown(
            f"Grad-CAM asks: *if a number of the last conv map ({code_span(cam.layer_name)}) went up a little, how much "
            f"would the score of digit {cam.class_index} go up?* Averaging that over each channel gives "
            "the channel's importance; adding up the channels' maps weighted by importance gives one "
            "heat value per position (right). Each position is then spread over the centre of the "
            "window it sees (left).\n\nBright regions are where evidence *for* that digit sits. "
            "Pick another digit in the box to see where the evidence for, say, a 7 would be." + one_by_one
        )

# --- downloads -----------------------------------------------------------------------------

st.header("Downloads")
st.caption("The trained model opens with `keras.saving.load_model(path)`. Each chart's toolbar saves it as PNG.")
inside.download_buttons(record, key="inside_download")
