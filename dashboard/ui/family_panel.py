"""The Train page's "train a family" section: one job per value, a chart that fills as they finish."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard.charts import training
from dashboard.jobs.job_manager import JobLimitError
from dashboard.mnist.data import MnistData
from dashboard.network.spec import NetworkSpec
from dashboard.outside import escape_markdown
from dashboard.store.seeds import SPREAD_WORDS, RunGroup, best_value_sentences, group_of
from dashboard.training.families import (
    BUILTIN_NAME,
    BUILTIN_VALUES,
    VARIES,
    FamilyError,
    Member,
    builtin_family,
    family,
    parse_values,
)
from dashboard.training.train_settings import TrainSettings
from dashboard.ui import cached, jobs_panel
from dashboard.ui.chart import chart
from dashboard.ui.run_picker import cached_runs, model_cache
from dashboard.ui.text import md
from dashboard.views.chart_texts import family_caption

STATE_KEY = "family_members"  # session state: {"vary": str, "members": [(value, run key)]}
DEFAULT_VALUES = {"last_filters": "1, 2, 4, 8, 16, 32, 64", "blocks": "1, 2, 3", "dense_units": "8, 16, 32, 64, 128",
                  "train_size": "1000, 2000, 5000, 10000"}


def _submit(members: list[Member], vary: str, data: MnistData) -> None:
    """One job per member (cached members count as done); remember the family for the chart."""
    jobs, session, cache = jobs_panel.manager(), jobs_panel.session_id(), model_cache()
    refused = []
    for member in members:
        try:
            jobs.submit(member.spec, member.settings, data, session=session,
                        label=f"{VARIES[vary]} = {member.value}", list_cached=True)  # cached ones listed as done
        except JobLimitError as err:
            refused.append((member.value, str(err)))
    keys = [(m.value, cache.key(m.spec, m.settings, data.fingerprint)) for m in members]
    st.session_state[STATE_KEY] = {"vary": vary, "members": keys}
    if refused:
        st.session_state["family_refused"] = (f"{len(refused)} of {len(members)} runs were not queued: "
                                              f"{refused[0][1]}")


def _training(chosen: dict) -> bool:
    """True while a job of some member of the family is queued or running."""
    jobs = jobs_panel.manager()
    return any((status := jobs.job_for_key(key)) is not None and status.active for _, key in chosen["members"])


def _member_groups(chosen: dict) -> tuple[list[tuple[int, RunGroup | None]], list[str]]:
    """Each member's group of seeds (None while its first run trains), and why members did not train."""
    cache, jobs = model_cache(), jobs_panel.manager()
    runs = cached_runs()
    out, failed = [], []
    for value, key in chosen["members"]:
        record = cache.get(key)
        status = jobs.job_for_key(key)
        if record is None and status is not None and status.state == "done" and status.record is not None:
            record = status.record  # trained but not stored: still shown
        if record is None and status is not None and not status.active:
            failed.append(f"{value}: {status.state}")
        out.append((value, None if record is None else group_of(record, runs)))
    return out, failed


def _add_seed(chosen: dict, data_key: str) -> None:
    """'Add a seed to every member' callback: each member's smallest untrained seed, as a job."""
    groups, _ = _member_groups(chosen)
    data = cached.mnist(data_key)
    jobs, session = jobs_panel.manager(), jobs_panel.session_id()
    try:
        for value, group in groups:
            if group is not None and group.first.settings is not None:
                run = group.first
                jobs.submit(run.spec, replace(run.settings, seed=group.another_seed()), data, session=session,
                            label=f"{VARIES[chosen['vary']]} = {value}")
    except JobLimitError as err:
        st.session_state["family_refused"] = f"Not every seed was queued: {err}"


def _show_family(chosen: dict) -> None:
    """Test accuracy against the varied value: each value's seeds, their spread, and what the spread allows to say."""
    groups, failed = _member_groups(chosen)
    vary = chosen["vary"]
    done = [(v, g) for v, g in groups if g is not None]
    seeds = sorted({g.spread.total for _, g in done})
    st.caption(f"{len(done)} of {len(groups)} members finished"
               + (f", {seeds[0]}–{seeds[-1]} seeds each" if len(seeds) > 1 else
                  f", {seeds[0]} seed{'s' if seeds and seeds[0] != 1 else ''} each" if seeds else "")
               + (f"; not trained: {', '.join(failed)}" if failed else "")
               + f". Points: {SPREAD_WORDS}.")
    points = [(v, None if g is None else g.spread) for v, g in groups]
    chart(training.family_chart(points, VARIES[vary], log_x=vary in ("last_filters", "dense_units", "train_size")),
          "family_chart", family_caption(points, VARIES[vary]))
    for sentence in best_value_sentences([(v, g.spread) for v, g in done], VARIES[vary]):
        st.markdown(f"- {md(sentence)}")


@st.fragment(run_every=jobs_panel.PANEL_SECONDS)
def _live_family() -> None:
    chosen = st.session_state[STATE_KEY]
    _show_family(chosen)
    if not _training(chosen):
        st.rerun()  # every member has finished: the page draws the chart once more, and stops polling


def family_chart(data_key: str) -> None:
    """The family's chart: refreshed every second while members train, drawn once when all have finished."""
    chosen = st.session_state.get(STATE_KEY)
    if not chosen:
        return
    if _training(chosen):
        _live_family()
    else:
        _show_family(chosen)
        st.button("Add a seed to every member", icon=":material/add:", key="family_add_seed",
                  on_click=_add_seed, args=(chosen, data_key),
                  help="One more training of each member with a seed it has not had: the spread shows what is luck.")


def family_section(spec: NetworkSpec, settings: TrainSettings, data: MnistData, data_key: str) -> None:
    """Controls to train a family of the current network and settings, and its chart."""
    st.divider()
    st.subheader("Train a family")
    st.markdown(
        "Vary one thing over a list of values: one job per value, plotted as each finishes. "
        f"The built-in family asks *{BUILTIN_NAME.lower()}*: the book network with its last conv "
        f"layer at {', '.join(map(str, BUILTIN_VALUES))} filters (3×3×1 = 9 to 3×3×64 = 576 numbers), "
        "fast preset."
    )
    left, right = st.columns([1, 2])
    vary = left.selectbox("Vary", list(VARIES), format_func=VARIES.get, key="family_vary", persist_state="session")
    text = right.text_input("Values (comma-separated, at most 8)",
                            value=DEFAULT_VALUES[vary], key=f"family_values_{vary}", persist_state="session")
    mine, builtin = st.columns(2)
    # After a submission the page reruns: the sidebar's jobs panel, drawn before these buttons,
    # then lists the members (and follows them live) from the start.
    if mine.button("Train this family", icon=":material/science:", key="family_train"):
        try:
            members = family(spec, settings, vary, parse_values(text))
        except FamilyError as err:
            st.error(f"This family cannot be trained: {escape_markdown(err)}", icon=":material/block:")
        else:
            _submit(members, vary, data)
            st.rerun()
    if builtin.button("Train the built-in family", icon=":material/format_list_numbered:", key="family_builtin"):
        _submit(builtin_family(), "last_filters", data)
        st.rerun()
    refused = st.session_state.pop("family_refused", None)
    if refused:
        st.warning(escape_markdown(refused), icon=":material/block:")
    family_chart(data_key)
