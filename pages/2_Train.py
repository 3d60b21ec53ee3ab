"""Train: fit the current network with chosen settings, watch it learn, or get it from the cache."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard.cache import RunRecord
from dashboard.charts import training as charts
from dashboard.runs import get_or_train
from dashboard.spec import preset_name
from dashboard.training import (
    MAX_EPOCHS,
    MIN_EPOCHS,
    OPTIMIZERS,
    SCHEDULES,
    TRAIN_PRESET_NOTES,
    TRAIN_PRESETS,
    BatchProgress,
    EpochProgress,
    SettingsError,
    TrainSettings,
    train_preset_name,
)
from dashboard.ui import cached, nav, state, text
from dashboard.ui import runs as ui_runs

st.set_page_config(page_title="Train · ConvNet Explorer", page_icon="🏋️", layout="wide")
nav.sidebar_nav()
st.title("🏋️ Train")

BATCH_SIZES = [16, 32, 64, 128, 256, 512]
LEARNING_RATES = [1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 1e-2]
SIZE_STEP = 500
DATA_CHOICES = {"auto": "the app's data", "embedded": "embedded subset (quick)"}
FIELDS = {  # widget key → TrainSettings field
    "train_epochs": "epochs",
    "train_batch": "batch_size",
    "train_optimizer": "optimizer",
    "train_lr": "learning_rate",
    "train_schedule": "schedule",
    "train_seed": "seed",
}


def load_preset(name: str) -> None:
    """Copy a training preset into the setting widgets (a callback: runs before the next script run)."""
    preset = TRAIN_PRESETS[name]
    for widget, field in FIELDS.items():
        st.session_state[widget] = getattr(preset, field)
    st.session_state["train_all"] = True


def on_preset() -> None:
    """Preset selectbox callback."""
    load_preset(st.session_state["train_preset"])


def settings_from_widgets(n_train: int) -> TrainSettings:
    """The settings the widgets show (widgets only offer valid values)."""
    size = None if st.session_state["train_all"] else int(st.session_state["train_size"])
    if size is not None and size >= n_train:
        size = None
    return TrainSettings(
        epochs=int(st.session_state["train_epochs"]),
        batch_size=int(st.session_state["train_batch"]),
        optimizer=st.session_state["train_optimizer"],
        learning_rate=float(st.session_state["train_lr"]),
        train_size=size,
        seed=int(st.session_state["train_seed"]),
        schedule=st.session_state["train_schedule"],
    )


def show_results(record: RunRecord, note: str) -> None:
    """Metrics, learning curves and the per-epoch table of a finished run."""
    st.success(note, icon="✅")
    a, b, c, d, e = st.columns(5)
    a.metric("Test accuracy", f"{record.test_accuracy:.2%}")
    b.metric("Validation accuracy", f"{record.val_accuracy:.2%}")
    c.metric("Parameters", f"{record.params:,}")
    side, channels = record.final_map
    d.metric("Last conv map", f"{side}×{side}×{channels}")
    e.metric("Training time", f"{record.train_seconds:.1f} s")
    st.plotly_chart(charts.learning_curves(record.history), key="result_curves")
    table = pd.DataFrame(record.history)
    table.index = pd.RangeIndex(1, len(table) + 1, name="epoch")
    st.dataframe(table.style.format("{:.4f}"), key="result_table")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(record.versions.items()))
    details = f"{record.data_label} · created {record.created or '?'}" + (f" · {versions}" if versions else "")
    st.caption(f"Run `{record.key}` · {text.md(details, 300)}. Inspect it on the **Compare** page.")


# --- the network and the data ----------------------------------------------------------------

spec = state.current_spec()
st.markdown(
    f"Network: **{preset_name(spec) or 'custom'}** · `{spec.describe()}` "
    "(change it on the **Architecture** page)."
)

with st.sidebar:
    st.header("Training settings")
    data_choice = st.radio(
        "Data", list(DATA_CHOICES), format_func=DATA_CHOICES.get, key=state.kept("train_data", "auto"),
        help="The embedded subset (12,000 training images) trains in seconds; the app's data may be all of MNIST.",
    )
data = cached.mnist(data_choice)
for note in data.notes:
    st.caption(f"Data note: {note}")
n_train = len(data.x_train)

# Settings chosen before a visit to another page come back; on the first visit: the book
# preset, or the one named in the link (?train=fast).
for widget_key in ("train_preset", *FIELDS, "train_all", "train_size"):
    state.kept(widget_key)
if "train_epochs" not in st.session_state:
    linked = state.url_token("train", allowed=list(TRAIN_PRESETS))
    st.session_state["train_preset"] = linked or "book"
    load_preset(st.session_state["train_preset"])
# The size slider's range depends on the data; keep its value inside it.
size_max = max(SIZE_STEP, n_train - n_train % SIZE_STEP)
st.session_state["train_size"] = min(max(int(st.session_state.get("train_size", size_max)), SIZE_STEP), size_max)

with st.sidebar:
    st.selectbox(
        "Start from preset", list(TRAIN_PRESETS), key="train_preset", on_change=on_preset,
        help="\n\n".join(f"**{name}**: {text}" for name, text in TRAIN_PRESET_NOTES.items()),
    )
    # A form: changing a setting during a training does not restart (and so stop) it.
    with st.form("train_form", border=False):
        st.slider("Epochs", MIN_EPOCHS, MAX_EPOCHS, key="train_epochs")
        st.select_slider("Batch size", BATCH_SIZES, key="train_batch")
        st.radio("Optimizer", OPTIMIZERS, key="train_optimizer", horizontal=True)
        st.select_slider("Learning rate", LEARNING_RATES, key="train_lr", format_func=lambda v: f"{v:g}")
        st.selectbox("Learning-rate schedule", SCHEDULES, key="train_schedule")
        st.checkbox(f"All {n_train:,} training images", key="train_all")
        st.slider("Training images (when not all)", SIZE_STEP, size_max, step=SIZE_STEP, key="train_size")
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed")
        submitted = st.form_submit_button("Train", type="primary", icon="🏋️", key="train_button")

try:
    settings = settings_from_widgets(n_train)
except SettingsError as err:  # only reachable through tampered session state
    text.error(f"These settings cannot be used: {err}")
    st.stop()

name = train_preset_name(settings)
state.set_url(train=name)
st.markdown(
    f"Settings: **{name + ' preset' if name else 'custom'}** · {settings.describe()} · "
    f"data: {data.label}. The last 10% of the training images are held out for validation."
)

# --- cached, or train ------------------------------------------------------------------------

cache = ui_runs.model_cache()
started = time.perf_counter()
key = cache.key(spec, settings, data.fingerprint)
record = cache.get(key)
ui_runs.show_cache_problems()

if record is not None:
    elapsed = time.perf_counter() - started
    show_results(record, f"Trained before: loaded from the cache in {elapsed * 1000:.0f} ms.")
    st.stop()

if not submitted:
    st.info(
        "This run is not in the cache yet. Press **Train** in the sidebar. Progress shows here; "
        "the Stop button (top right) ends it cleanly and nothing is stored.",
        icon="ℹ️",
    )
    st.stop()

queue_box = st.empty()
progress_bar = st.progress(0.0, text="Starting…")
running_box = st.empty()
curve_box = st.empty()
curve_box.plotly_chart(charts.learning_curves({}, settings.epochs), key="live_curve_0")


def on_queued(message: str) -> None:
    """Tell the user why nothing happens yet."""
    queue_box.info(message, icon="⏳")


def on_batch(progress: BatchProgress) -> None:
    """Move the bar within the epoch; show the epoch's running loss and accuracy."""
    queue_box.empty()
    progress_bar.progress(
        min(progress.fraction, 1.0),
        text=f"Epoch {progress.epoch}/{progress.epochs} · batch {progress.batch}/{progress.batches}",
    )
    running_box.markdown(
        f"Running loss **{progress.loss:.4f}** · running accuracy **{progress.accuracy:.2%}** "
        f"· {progress.seconds:.0f} s"
    )


def on_epoch(progress: EpochProgress) -> None:
    """Grow the curves by one epoch."""
    curve_box.plotly_chart(
        charts.learning_curves(progress.history, progress.epochs), key=f"live_curve_{progress.epoch}"
    )


with st.spinner("Training…", show_time=True):
    record, hit = get_or_train(spec, settings, data, cache, on_batch=on_batch, on_epoch=on_epoch, on_queued=on_queued)
queue_box.empty()
progress_bar.empty()
running_box.empty()
curve_box.empty()
if hit:
    show_results(record, "Another session trained this very run meanwhile: here is its result.")
else:
    show_results(record, f"Trained in {record.train_seconds:.1f} s and stored in the cache.")
