"""Streamlit side of the Train page: the settings form, the data choice, and what a run's state shows.

Decisions (which data differ, widget values ↔ settings, what to show) are `dashboard.views.train_form`;
this module draws them. Training itself is a job (`dashboard.ui.jobs_panel`): the Train button's
callback submits it before the page reruns, so leaving the page at once loses nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace

import streamlit as st

from dashboard.charts import training
from dashboard.jobs.job_manager import JobLimitError
from dashboard.mnist.data import MnistData
from dashboard.network.spec import NetworkSpec
from dashboard.network.summaries import markdown_table, training_problems
from dashboard.outside import escape_markdown
from dashboard.store.run import RunRecord
from dashboard.store.seeds import SEED_CHOICES, SPREAD_WORDS, group_of
from dashboard.training.train_settings import (
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
from dashboard.training.trainer import HISTORY_KEYS
from dashboard.ui import cached, jobs_panel, page_paths, state, text
from dashboard.ui.chart import chart
from dashboard.views import train_form
from dashboard.views.chart_texts import curves_caption
from dashboard.views.labels import data_name, dataset_name, run_title, trained_where, training_accuracy_note

HEAD_MAP_HELP = ("The last conv block's output, after its pooling if it has one: what Flatten or global averaging "
                 "reads. Architecture's 'last conv output' is the conv layer's own output, before that pooling.")
SHOWN_KEY = "train_shown"  # session: the network and data the page last showed (for the callback)
REFUSED_KEY = "train_refused"  # session: why the last Train press queued nothing
LINK_KEY = "train_link"  # session: the link's (train, settings) last applied to the form or written to the URL
DATA_LINK_KEY = "train_data_link"  # session: the link's data last applied or written


def _values() -> dict:
    """The form's widget values from session state."""
    return {key: st.session_state[key] for key in (*train_form.FIELDS, "train_all", "train_size")}


def _load(values: dict) -> None:
    """Put widget values into the form (a callback: runs before the widgets are drawn)."""
    for key, value in values.items():
        st.session_state[key] = value


def _on_preset() -> None:
    _load(train_form.preset_values(st.session_state["train_preset"]))


def _show_run(settings_json: str, data_key: str) -> None:
    """'Show it here' callback: the form takes a cached run's settings and data."""
    settings = TrainSettings.from_dict(json.loads(settings_json))
    _load(train_form.widget_values(settings))
    st.session_state["train_data"] = data_key
    st.session_state["train_preset"] = train_preset_name(settings) or st.session_state.get("train_preset", "book")


def _submit() -> None:
    """Train's callback: queue the job of the network and data the page showed and the form's settings."""
    shown = st.session_state.get(SHOWN_KEY)
    if shown is None:
        return
    spec, data = NetworkSpec.from_json(shown["spec"]), cached.mnist(shown["data"])
    try:
        settings = train_form.settings_from_values(_values(), len(data.x_train))
    except SettingsError:
        return  # the page says why
    if training_problems(spec):
        return  # the page says it is too big
    try:  # a cached run comes back done at once; a queued or running one is attached to
        jobs_panel.manager().submit(spec, settings, data, session=jobs_panel.session_id())
    except JobLimitError as err:
        st.session_state[REFUSED_KEY] = str(err)


def _submit_seeds(seeds: list[int]) -> None:
    """'Add seeds' / 'Try another seed' callback: queue the shown run's settings with each of `seeds`."""
    shown = st.session_state.get(SHOWN_KEY)
    if shown is None or not seeds:
        return
    spec, data = NetworkSpec.from_json(shown["spec"]), cached.mnist(shown["data"])
    try:
        settings = train_form.settings_from_values(_values(), len(data.x_train))
    except SettingsError:
        return
    try:
        for seed in seeds:
            jobs_panel.manager().submit(spec, replace(settings, seed=seed), data, session=jobs_panel.session_id())
    except JobLimitError as err:
        st.session_state[REFUSED_KEY] = str(err)


def _try_seed(seed: int) -> None:
    """'Try another seed' callback: the form moves to `seed` and its run is queued."""
    st.session_state["train_seed"] = seed
    _submit_seeds([seed])


def data_radio() -> tuple[str, MnistData, dict[str, str]]:
    """The sidebar's data choice among the data that really differ: (key, data, {key: name})."""
    choices = train_form.data_choices(cached.mnist("auto"), cached.mnist("embedded"))
    linked = st.query_params.get("data")
    if "train_data" not in st.session_state or linked is not None and linked != st.session_state.get(DATA_LINK_KEY):
        st.session_state[DATA_LINK_KEY] = linked  # a link opened: its data, if this server has them
        chosen = state.url_token("data", allowed=list(choices))
        if chosen is not None:
            st.session_state["train_data"] = chosen
    if st.session_state.get("train_data") not in choices:
        st.session_state["train_data"] = next(iter(choices))
    only = len(choices) == 1
    choice = st.radio(
        "Data", list(choices), format_func=choices.get, key="train_data", persist_state="session",
        help=("Full MNIST is not on this server, so the app's data is the embedded subset (real MNIST, "
              "1,200 training images per digit). Set MNIST_NPZ to a full MNIST .npz to train on all 60,000."
              if only else "The embedded subset (real MNIST, 1,200 training images per digit) trains in "
              "seconds; full MNIST takes longer and reaches higher accuracy."),
    )
    return choice, cached.mnist(choice), choices


def settings_form(n_train: int) -> TrainSettings | None:
    """The preset box and the settings in the sidebar; the settings shown (None after an error).

    The page starts from the `fast` preset (one epoch: a first training takes seconds), or the
    link's settings (`?train=book&settings=3ep~lr0.004`, see `settings_to_url`); a link opened
    later in the session (its settings differ from those the page last wrote) sets them too.
    """
    linked = (st.query_params.get("train"), st.query_params.get("settings"))
    if "train_epochs" not in st.session_state or linked != (None, None) and linked != st.session_state.get(LINK_KEY):
        st.session_state[LINK_KEY] = linked
        preset = state.url_token("train", allowed=list(TRAIN_PRESETS)) or "fast"
        values, warning = train_form.settings_from_link(preset, linked[1])
        if warning:
            text.warning(warning)
        st.session_state["train_preset"] = preset
        _load(values)
    st.session_state["train_size"] = train_form.clamp_size(st.session_state.get("train_size"), n_train)
    st.selectbox("Start from preset", list(TRAIN_PRESETS), key="train_preset", persist_state="session", on_change=_on_preset,
                 help="\n\n".join(f"**{name}**: {note}" for name, note in TRAIN_PRESET_NOTES.items()))
    st.slider("Epochs", MIN_EPOCHS, MAX_EPOCHS, key="train_epochs", persist_state="session")
    st.select_slider("Batch size", train_form.BATCH_SIZES, key="train_batch", persist_state="session")
    st.radio("Optimizer", OPTIMIZERS, key="train_optimizer", persist_state="session", horizontal=True)
    st.select_slider("Learning rate", train_form.LEARNING_RATES, key="train_lr", persist_state="session", format_func=lambda v: f"{v:g}")
    st.selectbox("Learning-rate schedule", SCHEDULES, key="train_schedule", persist_state="session")
    st.select_slider("Label smoothing", train_form.SMOOTHINGS, key="train_smoothing", persist_state="session", format_func=lambda v: f"{v:g}",
                     help="Train towards 0.91 for the right digit and 0.01 for each other one (at 0.1), not 1 and 0.")
    st.checkbox(f"All {n_train:,} training images", key="train_all", persist_state="session")
    st.slider("Training images (when not all)", train_form.SIZE_STEP, train_form.size_max(n_train), step=train_form.SIZE_STEP,
              key="train_size", persist_state="session")
    st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed", persist_state="session")
    try:
        return train_form.settings_from_values(_values(), n_train)
    except SettingsError as err:  # only reachable through tampered session state
        text.error(f"These settings cannot be used: {err}", icon=":material/error:")
        return None


def settings_to_url(spec: NetworkSpec, data_key: str) -> None:
    """Put the page's view in the URL: the network, the form's preset and settings, the data."""
    preset = st.session_state["train_preset"]
    linked = (preset, train_form.settings_to_link(_values(), preset))
    state.spec_to_url(spec)
    state.set_url(train=linked[0], settings=linked[1], data=data_key)
    st.session_state[LINK_KEY] = linked
    st.session_state[DATA_LINK_KEY] = data_key


def train_button(spec: NetworkSpec, settings: TrainSettings, data: MnistData) -> None:
    """The Train button in the main area, with how long these settings will take."""
    seconds = train_form.estimated_seconds(spec, settings, len(data.x_train), len(data.x_test))
    button, words = st.columns([1, 6], vertical_alignment="center")
    button.button("Train", type="primary", icon=":material/model_training:", key="train_button", on_click=_submit)
    words.markdown(f"Training with these settings takes **{train_form.duration_words(seconds)}** on a quiet server "
                 "(an estimate from the network's multiply-adds per image, the images and the epochs). "
                 "The settings are in the sidebar.")


def remember_shown(spec: NetworkSpec, data_key: str) -> None:
    """What the Train callback submits: the network and data this run of the page showed."""
    st.session_state[SHOWN_KEY] = {"spec": spec.to_json(), "data": data_key}


def seeds_panel(record: RunRecord, runs: list[RunRecord]) -> None:
    """The run's seeds: their spread, each seed's run, and buttons that add seeds or try another one."""
    group = group_of(record, runs)
    spread = group.spread
    if not record.trained:
        text.error(record.diagnosis or "This training failed.", icon=":material/error:")
        st.button(f"Try another seed ({group.another_seed()})", key="train_another_seed", icon=":material/casino:",
                  on_click=_try_seed, args=(group.another_seed(),), type="primary")
    if spread.total > 1:
        st.markdown(f"**Test accuracy of this network with these settings: {spread.text()}.** "
                    f"({SPREAD_WORDS}; a failed training is counted apart.)")
        rows = [[str(run.seed), f"{run.test_accuracy:.2%}", "yes" if run.trained else "**no**: did not train",
                 run.key] for run in group.runs]
        st.markdown(markdown_table(["seed", "test accuracy", "trained", "run"], rows, right=["seed", "test accuracy"]))
    else:
        st.markdown("One training is one draw: another seed lands a little higher or lower, and now and then does "
                    "not train at all. Train more seeds to see the spread.")
    options = [n for n in SEED_CHOICES if n > len(group.seeds)]
    cols = st.columns(len(options) or 1)
    for col, wanted in zip(cols, options):
        missing = group.next_seeds(wanted)
        col.button(f"Have {wanted} seeds (train {len(missing)} more)", key=f"train_seeds_{wanted}",
                   icon=":material/add:", on_click=_submit_seeds, args=(missing,))


def show_results(record: RunRecord, note: str, runs: list[RunRecord] | None = None) -> None:
    """Metrics, the seeds' spread, learning curves and the per-epoch table of a finished run."""
    (st.success if record.trained else st.warning)(note, icon=":material/check_circle:")
    if runs is not None:
        seeds_panel(record, runs)
    a, b, c, d, e = st.columns(5)
    a.metric(f"Test accuracy (seed {record.seed})", f"{record.test_accuracy:.2%}")
    b.metric("Validation accuracy", f"{record.val_accuracy:.2%}")
    c.metric("Parameters", f"{record.params:,}")
    side, channels = record.final_map or (0, 0)
    d.metric("Map the head reads", f"{side}×{side}×{channels}", help=HEAD_MAP_HELP)
    e.metric("Training time", f"{record.train_seconds:.1f} s")
    chart(training.learning_curves(record.history), "result_curves", curves_caption(record.history))
    note = training_accuracy_note(record.history, dropout=record.spec is not None and record.spec.dropout > 0)
    if note:
        st.caption(note)
    keys = [k for k in HISTORY_KEYS if k in record.history]  # fixed column order
    epochs = min((len(record.history[k]) for k in keys), default=0)
    st.markdown(markdown_table(["epoch", *keys], [[str(epoch + 1)] + [f"{record.history[k][epoch]:.4f}" for k in keys]
                                                  for epoch in range(epochs)], right=["epoch", *keys]))
    versions = ", ".join(f"{k} {v}" for k, v in sorted(record.versions.items()))
    st.caption(text.md(f"Run {record.key} · trained on {data_name(record)} · created {record.created or '?'}"
                       + (f" · {versions}" if versions else ""), 400))
    st.page_link(page_paths.COMPARE, label="Its mistakes and confusion matrix on Compare", icon=":material/compare_arrows:",
                 query_params={"run": record.key})


def related_runs(related: list[RunRecord], choices: dict[str, str], data_keys: dict[str, str]) -> None:
    """The cached runs of this network under other settings or data: a link each, and 'show it here'.

    `data_keys` maps a data fingerprint to the data key that trains on it here (if any).
    """
    st.markdown(f"**Cached runs of this network** ({len(related)}), each with the data it was trained on:")
    for run in related:
        line, show, link = st.columns([6, 2, 2], vertical_alignment="center")
        line.markdown(text.md(f"{run_title(run)} · {run.epochs_done} epoch{'s' if run.epochs_done != 1 else ''}"))
        here = data_keys.get(run.data_fingerprint)
        if here is not None and here in choices and train_form.fits_form(run.settings):
            show.button("Show it here", key=f"train_show_{run.key}", icon=":material/visibility:",
                        on_click=_show_run, args=(run.settings.to_json(), here))
        else:
            show.caption(f"trained on {text.md(data_name(run))}, which this server does not have")
        link.page_link(page_paths.COMPARE, label="On Compare", icon=":material/compare_arrows:", query_params={"run": run.key})


def refused_notice() -> None:
    """Why the last Train press queued nothing (a job limit), once."""
    if REFUSED_KEY in st.session_state:
        st.warning(text.md(st.session_state.pop(REFUSED_KEY)), icon=":material/block:")


def describe(settings: TrainSettings, data: MnistData) -> None:
    """The line naming the settings and the data in use."""
    name = train_preset_name(settings)
    st.markdown(f"Settings: **{name + ' preset' if name else 'custom'}** · {settings.describe()} · data: "
                f"**{escape_markdown(dataset_name(data))}**. The last 10% of the training images are held out "
                "for validation.")


def _trained_here(view: train_form.TrainView) -> bool:
    """True if this session's job trained and stored the run just now (not an older cached run)."""
    job = view.job
    mine = {status.id for status in jobs_panel.my_jobs()}
    return job is not None and job.state == "done" and job.stored and job.id in mine


def show_view(view: train_form.TrainView, data: MnistData, runs: list[RunRecord] | None = None) -> None:
    """The run's state: its results (with its seeds), the live job, why it cannot be trained, or how to train it."""
    record, job = view.record, view.job
    if view.state == "cached":
        if _trained_here(view):
            note = (f"{escape_markdown(trained_where(record.trained_on))} in {record.train_seconds:.1f} s "
                    f"(queued {record.queued_seconds:.1f} s) and stored in the cache.")
        else:
            note = (f"Trained before: loaded from the cache (trained on {escape_markdown(data_name(record))}, "
                    f"{escape_markdown((record.created or '?')[:10])}).")
        show_results(record, note, runs)
    elif view.state == "too big":
        st.error("This network is too big to train here: " + "; ".join(view.too_big) + ".", icon=":material/block:")
    elif view.state == "training":
        jobs_panel.live_job(view.key)
    elif view.state == "unstored":
        st.warning(f"This run was trained but not stored: {text.md(job.message)}.", icon=":material/warning:")
        show_results(job.record, "Trained; the results below are kept for this session only.")
        model_file = jobs_panel.manager().model_file(job.id)
        if model_file is not None:
            st.download_button("Download the trained model (.keras)", model_file, file_name=f"{view.key}.keras",
                               mime="application/zip", icon=":material/download:", key="download_unstored")
    else:
        if view.state in ("failed", "cancelled"):
            box = st.error if view.state == "failed" else st.info
            box(f"The last job of this run {view.state}: {text.md(job.message)}", icon=":material/cancel:")
        where = escape_markdown(dataset_name(data))
        if view.related:
            alike = view.alike
            spread = None if alike is None else group_of(alike, runs or [alike]).spread  # its seeds, not one draw
            also = (f" With these very settings it was trained on {escape_markdown(data_name(alike))} "
                    f"(test accuracy {escape_markdown(spread.text())})." if alike is not None else "")
            st.info(f"This network has not been trained with these settings on {where} yet; it has been "
                    f"trained otherwise (listed below).{also} Press **Train** above to train it on "
                    f"{where}: the training runs as a job on the server, so you can keep using the app.",
                    icon=":material/info:")
        else:
            st.info(f"This run is not in the cache yet (no run of this network on any data). Press **Train** above "
                    f"to train it on {where}: the training runs as a job on the server, so you can "
                    "keep using the app (the jobs panel in the sidebar follows it) and come back for the results.",
                    icon=":material/info:")
