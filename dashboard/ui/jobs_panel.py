"""Streamlit side of training jobs: the server's job manager, the sidebar jobs panel, live views.

The manager (`dashboard.jobs.job_manager.default_manager`) belongs to the server process, not to a
session: a job keeps going when its page is left or its tab closed. A learner's jobs are
submitted and listed under the browser's learner id (`dashboard.ui.learner`, kept in the
browser's localStorage), so that a reload or a new tab of the same browser finds them again and
another browser opening a shared link does not; before the browser has answered (a session's
first run) a random id of the session stands in, and its jobs stay listed. The Train page looks
jobs up by run key, whichever learner started them. Panels update in `st.fragment(run_every=…)`,
never through a full-page rerun; a job that finishes makes its fragment rerun the page once so
that pages show the new run.

While a job is active the panel says how the cluster is (`JobManager.health`): a warning when no
worker is connected, a worker was lost or the scheduler does not answer, with what happens next;
a job's note (back in line after its worker was lost, started over) and a failure's reason are
shown whole, wrapped, as plain text.
"""

from __future__ import annotations

import uuid

import streamlit as st

from dashboard.charts import training
from dashboard.jobs.job_health import Health
from dashboard.jobs.job_manager import JobManager, default_manager
from dashboard.jobs.job_status import ACTIVE, CANCELLED, DONE, FAILED, JobStatus
from dashboard.outside import escape_markdown as md_text
from dashboard.ui import learner, page_paths
from dashboard.ui.chart import chart
from dashboard.ui.run_picker import model_cache
from dashboard.ui.text import md
from dashboard.views.chart_texts import curves_caption

PANEL_SECONDS = 1.0  # how often the panel and live views refresh while jobs are active
# Streamlit's bundled Material icons (emoji render as empty boxes without a colour-emoji font).
STATE_ICONS = {"queued": ":material/hourglass_empty:", "running": ":material/directions_run:",
               DONE: ":material/check_circle:", FAILED: ":material/error:", CANCELLED: ":material/cancel:"}
SHOWN_JOBS = 8  # the panel lists this session's newest jobs
HEALTH_ICON = ":material/cloud_off:"
NOTE_ICON = ":material/restart_alt:"


def manager() -> JobManager:
    """The server's job manager, storing into the server's model cache."""
    return default_manager(model_cache())


def _tab_id() -> str:
    """A random id of this session (stable across pages, new for a reload or a new tab)."""
    # Kept in session state rather than Streamlit's own session id: AppTest gives every test
    # session the same id, and this one also survives a reconnect of the same session.
    if "jobs_session" not in st.session_state:
        st.session_state["jobs_session"] = uuid.uuid4().hex
    return st.session_state["jobs_session"]


def session_id() -> str:
    """Whose jobs these are: the browser's learner id once known, else this session's id."""
    return learner.learner_id() or _tab_id()


def my_jobs() -> list[JobStatus]:
    """The learner's jobs, newest first: the browser's and any this session started before the browser answered."""
    jobs = manager()
    owners = dict.fromkeys((session_id(), _tab_id()))
    statuses = {status.id: status for owner in owners for status in jobs.jobs(owner)}
    return sorted(statuses.values(), key=lambda status: status.submitted, reverse=True)


def _has_jobs(learner_id: str | None) -> bool:
    """True if the learner `learner_id` has jobs in this server (the browser's answer reruns the page then)."""
    return learner_id is not None and bool(manager().jobs(learner_id))


def show_notice() -> None:
    """The fallback warning (the configured cluster is unreachable or was lost), if any."""
    notice = manager().notice
    if notice:
        st.warning(md_text(notice), icon=":material/warning:")


def _known_done_key() -> str:
    return "jobs_seen_done"


def _mark_seen(statuses: list[JobStatus]) -> set[str]:
    """Remember this session's finished jobs; returns those not seen finished before."""
    finished = {status.id for status in statuses if not status.active}
    seen = st.session_state.setdefault(_known_done_key(), set())
    st.session_state[_known_done_key()] = finished | seen
    return finished - seen


def _rerun_if_new_results(statuses: list[JobStatus]) -> None:
    """Rerun the whole page once when a job of this session finished since the last look."""
    if _mark_seen(statuses) and st.session_state.get("jobs_panel_drawn"):
        st.rerun()


def _sentence(text: str) -> str:
    """`text` as a sentence: its first letter upper case, the rest as it is ("Dask", "TLS"), a full stop."""
    return text[:1].upper() + text[1:] + "."


def show_health(health: Health) -> None:
    """The cluster's health: a warning when something is wrong, else a caption (nothing when unknown)."""
    if health.alarm:
        st.warning(md(health.sentence), icon=HEALTH_ICON)
    elif health.sentence:
        st.caption(md(health.sentence))


def _job_line(status: JobStatus) -> None:
    """One job in the panel: icon, name, state, progress, what happened to it, cancel button, results link."""
    st.markdown(f"{STATE_ICONS.get(status.state, '')} {md_text(status.label)}")
    if status.state == "running":
        st.progress(status.fraction, text=md(status.describe()))
    else:
        st.caption(md(status.describe()))  # a failure's reason whole (wrapped), never cut
    if status.note:
        st.caption(f"{NOTE_ICON} {md(status.note)}")
    if status.active:
        st.button("Cancel", key=f"cancel_job_{status.id}", icon=":material/stop_circle:",
                  on_click=manager().cancel, args=(status.id,))
    elif status.state == DONE and status.stored:
        st.page_link(page_paths.COMPARE, label="Results on Compare", icon=":material/compare_arrows:",
                     query_params={"run": status.key})
    elif status.state == DONE:
        st.page_link(page_paths.TRAIN, label="Results and download on Train", icon=":material/model_training:")


def _draw_panel(statuses: list[JobStatus]) -> None:
    others = sum(1 for s in manager().jobs() if s.active) - sum(1 for s in statuses if s.active)
    health = manager().health() if any(s.active for s in statuses) else None
    with st.expander(f"Training jobs ({sum(s.active for s in statuses)} active)", expanded=True):
        if health is not None and health.alarm:
            show_health(health)
        for status in statuses:
            _job_line(status)
        if health is not None and not health.alarm:
            show_health(health)
        if others > 0:
            st.caption(f"{others} other job{'s' if others != 1 else ''} queued or running on this server.")
        st.caption(md(_sentence(manager().describe())))
        if manager().memory.limited and not manager().remote:  # a small box: say how much a training may use
            st.caption(md(_sentence(manager().describe_budget())))


@st.fragment(run_every=PANEL_SECONDS)
def _live_panel() -> None:
    statuses = my_jobs()[:SHOWN_JOBS]
    _rerun_if_new_results(statuses)  # the last one finished: the page reruns and draws the panel still
    st.session_state["jobs_panel_drawn"] = True
    _draw_panel(statuses)


def jobs_panel() -> None:
    """The sidebar's jobs panel: this session's jobs, refreshed every second while one is active.

    A session's jobs are submitted in its own widget callbacks (Train, a family), and the full
    rerun that follows draws the panel; a session with no active job polls nothing. In a
    session's first run the browser's learner id is not known yet: when the browser answers,
    the page reruns once if that learner has jobs (a reload, a new tab), to list them.
    """
    if learner.learner_id() is None:
        learner.wait_for_browser(when=_has_jobs)
    statuses = my_jobs()[:SHOWN_JOBS]
    if not statuses:
        return
    show_notice()
    if any(status.active for status in statuses):
        _live_panel()
    else:
        _mark_seen(statuses)
        st.session_state["jobs_panel_drawn"] = True
        _draw_panel(statuses)


@st.fragment(run_every=PANEL_SECONDS)
def live_job(key: str) -> None:
    """The live view of run `key`'s job (any session's): place in line, progress, curves."""
    status = manager().job_for_key(key)
    if status is None:
        return
    if not status.active:
        st.rerun()  # the page shows the finished (or failed) job
    health = manager().health()
    if health.alarm:
        show_health(health)
    where = f" on {status.trained_on}" if status.trained_on else ""
    st.info(f"Job {md(status.describe())}{md_text(where)}. It goes on if you leave this page; "
            "the jobs panel in the sidebar follows it everywhere.", icon=STATE_ICONS[status.state])
    if status.note:
        st.warning(md(status.note), icon=NOTE_ICON)
    st.progress(status.fraction, text=f"{status.fraction:.0%}")
    if status.batches:
        st.markdown(f"Running loss **{status.loss:.4f}** · running accuracy **{status.accuracy:.2%}**")
    chart(training.learning_curves(status.history, status.epochs or 1), f"live_curve_{key}", curves_caption(status.history))
    st.button("Cancel this job", key=f"cancel_live_{key}", icon=":material/stop_circle:", on_click=manager().cancel, args=(status.id,))


def job_states(keys: list[str]) -> dict[str, JobStatus | None]:
    """The newest job of each run key (None for runs without a job in this server)."""
    jobs = manager()
    return {key: jobs.job_for_key(key) for key in keys}


__all__ = ["ACTIVE", "jobs_panel", "live_job", "manager", "my_jobs", "session_id", "show_notice", "job_states"]
