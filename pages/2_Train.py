"""Train: fit the current network with chosen settings, watch it learn, or get it from the cache."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard.run import RunRecord
from dashboard.charts import training as charts
from dashboard.jobs import JobLimitError
from dashboard.outside import escape_markdown
from dashboard.spec import NetworkSpec, preset_name
from dashboard.summaries import training_problems
from dashboard.training import (
    HISTORY_KEYS,
    MAX_EPOCHS,
    MIN_EPOCHS,
    OPTIMIZERS,
    SCHEDULES,
    TRAIN_PRESET_NOTES,
    TRAIN_PRESETS,
    SettingsError,
    TrainSettings,
    train_preset_name,
)
from dashboard.ui import cached, nav, state, text
from dashboard.ui import family as ui_family
from dashboard.ui import jobs as ui_jobs
from dashboard.ui import runs as ui_runs

st.set_page_config(page_title="Train · ConvNet Explorer", page_icon=nav.FAVICON, layout="wide")
nav.sidebar_nav()
st.title("🏋️ Train")

BATCH_SIZES = [16, 32, 64, 128, 256, 512]
LEARNING_RATES = [1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 1e-2]
SMOOTHINGS = [0.0, 0.05, 0.1, 0.2]
SIZE_STEP = 500
DATA_CHOICES = {"auto": "the app's data", "embedded": "embedded subset (quick)"}
FIELDS = {  # widget key → TrainSettings field
    "train_epochs": "epochs",
    "train_batch": "batch_size",
    "train_optimizer": "optimizer",
    "train_lr": "learning_rate",
    "train_schedule": "schedule",
    "train_smoothing": "label_smoothing",
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
        label_smoothing=float(st.session_state["train_smoothing"]),
    )


def show_results(record: RunRecord, note: str) -> None:
    """Metrics, learning curves and the per-epoch table of a finished run."""
    st.success(note, icon="✅")
    a, b, c, d, e = st.columns(5)
    a.metric("Test accuracy", f"{record.test_accuracy:.2%}")
    b.metric("Validation accuracy", f"{record.val_accuracy:.2%}")
    c.metric("Parameters", f"{record.params:,}")
    side, channels = record.final_map or (0, 0)
    d.metric("Last conv map", f"{side}×{side}×{channels}")
    e.metric("Training time", f"{record.train_seconds:.1f} s")
    st.plotly_chart(charts.learning_curves(record.history), key="result_curves")
    table = pd.DataFrame({k: record.history[k] for k in HISTORY_KEYS if k in record.history})  # fixed column order
    table.index = pd.RangeIndex(1, len(table) + 1, name="epoch")
    st.dataframe(table.style.format("{:.4f}"), key="result_table")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(record.versions.items()))
    details = f"{record.data_label} · created {record.created or '?'}" + (f" · {versions}" if versions else "")
    st.caption(f"Run `{record.key}` · {text.md(details, 300)}. Inspect it on the **Compare** page.")


def submit_job() -> None:
    """Train's callback: submit the job before the page reruns, so that leaving at once loses nothing.

    Uses the network and data the page showed (`train_shown`) and the form's new settings; the
    job is queued and this returns at once (no training here).
    """
    shown = st.session_state.get("train_shown")
    if shown is None:
        return
    job_spec, job_data = NetworkSpec.from_json(shown["spec"]), cached.mnist(shown["data"])
    try:
        job_settings = settings_from_widgets(len(job_data.x_train))
    except SettingsError:
        return  # the page says why
    if training_problems(job_spec) or ui_runs.model_cache().get(
            ui_runs.model_cache().key(job_spec, job_settings, job_data.fingerprint)) is not None:
        return  # the page says it is too big, or shows the cached run
    try:
        ui_jobs.manager().submit(job_spec, job_settings, job_data, session=ui_jobs.session_id())
    except JobLimitError as err:
        st.session_state["train_refused"] = str(err)


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
        st.select_slider(
            "Label smoothing", SMOOTHINGS, key="train_smoothing", format_func=lambda v: f"{v:g}",
            help="Train towards 0.91 for the right digit and 0.01 for each other one (at 0.1), not 1 and 0.",
        )
        st.checkbox(f"All {n_train:,} training images", key="train_all")
        st.slider("Training images (when not all)", SIZE_STEP, size_max, step=SIZE_STEP, key="train_size")
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed")
        st.form_submit_button("Train", type="primary", icon="🏋️", key="train_button", on_click=submit_job)

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

st.session_state["train_shown"] = {"spec": spec.to_json(), "data": data_choice}  # for `submit_job`

# --- cached, or a job --------------------------------------------------------------------------

cache = ui_runs.model_cache()
started = time.perf_counter()
key = cache.key(spec, settings, data.fingerprint)
record = cache.get(key)
ui_runs.show_cache_problems()
jobs = ui_jobs.manager()

too_big = training_problems(spec) if record is None else []
if "train_refused" in st.session_state:  # the Train callback could not queue the job
    st.warning(st.session_state.pop("train_refused"), icon="🚦")
job = jobs.job_for_key(key)
ui_jobs.show_notice()

if record is not None:
    mine = {status.id for status in jobs.jobs(ui_jobs.session_id())}
    if job is not None and job.state == "done" and job.stored and job.id in mine:
        note = (f"Trained by a job on {escape_markdown(record.trained_on or 'this server')} in {record.train_seconds:.1f} s "
                f"(queued {record.queued_seconds:.1f} s) and stored in the cache.")
    else:
        note = f"Trained before: loaded from the cache in {(time.perf_counter() - started) * 1000:.0f} ms."
    show_results(record, note)
elif too_big:
    st.error("This network is too big to train here: " + "; ".join(too_big) + ".", icon="🐘")
elif job is not None and job.active:
    ui_jobs.live_job(key)
elif job is not None and job.state == "done" and job.record is not None:
    st.warning(f"This run was trained but not stored: {escape_markdown(job.message)}.", icon="⚠️")
    show_results(job.record, "Trained; the results below are kept for this session only.")
    model_file = jobs.model_file(job.id)
    if model_file is not None:
        st.download_button("Download the trained model (.keras)", model_file, file_name=f"{key}.keras",
                           mime="application/zip", icon="⬇️", key="download_unstored")
else:
    if job is not None and job.state in ("failed", "cancelled"):
        box = st.error if job.state == "failed" else st.info
        box(f"The last job of this run {job.state}: {escape_markdown(job.message)}", icon="🚫")
    st.info(
        "This run is not in the cache yet. Press **Train** in the sidebar: the training runs as a job "
        "on the server, so you can keep using the app (the jobs panel in the sidebar follows it) "
        "and come back for the results.",
        icon="ℹ️",
    )

ui_family.family_section(spec, settings, data)
