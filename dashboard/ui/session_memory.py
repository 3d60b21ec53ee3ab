"""The server's memory: per-run caches released once nobody uses them, departed sessions closed, and a
sweep that hands freed memory back (glibc's side: `dashboard.host`).

Two things kept a server at its peak long after a room of learners had left:
- the per-run caches (loaded models, their activation models, the Inside page's final maps):
  Streamlit's `ttl` counts from when an entry was made and is only reaped on the next access,
  so a run opened once stayed loaded for an hour, whoever still used it;
- glibc keeps memory that Python, NumPy and TensorFlow free in per-thread arenas (Streamlit runs
  every script run in a thread of its own) instead of returning it.

`released_when_idle` wraps a cached function and notes, per argument tuple, when and by which
sessions it was last used. One daemon thread per server (`start_trimmer`) wakes every
`TRIM_SECONDS`, clears each entry whose sessions have all disconnected for `ORPHAN_SECONDS`, or
that nobody has used for `IDLE_SECONDS` (a tab left open overnight), then collects garbage and
calls `malloc_trim(0)`. A learner who comes back pays one reload (a model: well under a second).
Where there is no glibc (macOS, Windows, musl) entries are still released; nothing is trimmed.

Streamlit keeps a session whose browser has left (its state, widgets and media) for
`server.disconnectedSessionTTL` seconds so that a dropped connection can resume it, but only
drops it on the next disconnect after that: once a room has left, nothing comes to drop the
last ones. The same sweep closes every session it has seen (`note_session`) that has been
disconnected longer than that TTL (`Runtime.clear_user_info_for_session`, Streamlit's
thread-safe way to close a stored session).

After every script run Streamlit calls `gc.collect(2)` (`runner.postScriptGC`), and once Keras
is imported `keras.backend.clear_session()`, which collects again. A full collection walks every
object the server holds: ~115,000 once Streamlit, plotly and pandas are imported (~48 ms) and
~357,000 once TensorFlow is (~170 ms), so a page view paid more for the collector than for its
own script. `freeze_imports` moves the objects alive at that moment (imported modules, mostly)
into the collector's permanent generation, once before TensorFlow is imported and once after;
later collections walk only what came after. Frozen objects are still freed by reference
counting; only cycles among them are never collected, a bounded, one-time cost.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from dashboard import host

TRIM_SECONDS = 10.0  # a sweep and a trim take a few milliseconds
ORPHAN_SECONDS = 30.0  # released this long after the last session that used it has gone
IDLE_SECONDS = 15 * 60.0  # released after this long unused, even with its sessions still open


@dataclass
class _Use:
    """When an entry of a cached function was last asked for, and by which sessions."""

    clear: Callable[[], None]
    last: float
    sessions: set[str] = field(default_factory=set)


_uses: dict[tuple, _Use] = {}
_lock = threading.Lock()
_left: dict[str, float | None] = {}  # session id -> when it was first seen disconnected


def _session_id() -> str | None:
    """The calling script run's session, or None outside one (a job thread, the CLI, a test)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def _session_alive(session_id: str) -> bool:
    """Whether `session_id` is still connected to this server (False without a server)."""
    from streamlit import runtime

    return runtime.exists() and runtime.get_instance().is_active_session(session_id)


def released_when_idle(cached: Callable) -> Callable:
    """Wrap an `st.cache_*` function so its entries are released when no session uses them.

    Positional arguments and keyword arguments must be hashable (run keys, names, numbers), except
    keyword arguments whose names start with "_": Streamlit leaves those out of the cache key, and
    so does this (they are not kept either). `.clear` still clears everything.
    """

    @functools.wraps(cached)
    def call(*args: Any, **kwargs: Any) -> Any:
        hashed = {name: value for name, value in kwargs.items() if not name.startswith("_")}
        key = (cached.__qualname__, args, tuple(sorted(hashed.items())))
        session = _session_id()
        with _lock:
            use = _uses.get(key)
            if use is None:
                unhashed = dict.fromkeys(set(kwargs) - set(hashed))  # placeholders: not part of the key
                use = _uses[key] = _Use(clear=functools.partial(cached.clear, *args, **hashed, **unhashed), last=0.0)
            use.last = time.monotonic()
            if session is not None:
                use.sessions.add(session)
        return cached(*args, **kwargs)

    call.clear = cached.clear  # type: ignore[attr-defined]
    return call


def _releasable(use: _Use, now: float, alive: Callable[[str], bool]) -> bool:
    idle = now - use.last
    if idle >= IDLE_SECONDS:
        return True
    use.sessions = {s for s in use.sessions if alive(s)}
    return not use.sessions and idle >= ORPHAN_SECONDS


def release_idle(now: float | None = None, alive: Callable[[str], bool] = _session_alive) -> int:
    """Clear every entry nobody uses any more (see the module docstring); how many were cleared."""
    now = time.monotonic() if now is None else now
    with _lock:
        done = [(key, use) for key, use in _uses.items() if _releasable(use, now, alive)]
        for key, _ in done:
            del _uses[key]
    for _, use in done:
        use.clear()  # outside the lock: Streamlit takes its own
    if done:
        gc.collect()
    return len(done)


def note_session() -> None:
    """Remember the calling script run's session, so the sweep can close it once it has left."""
    session = _session_id()
    if session is not None:
        with _lock:
            _left.setdefault(session, None)


def _session_ttl() -> float:
    from streamlit import config

    return float(config.get_option("server.disconnectedSessionTTL"))


def _close_session(session_id: str) -> None:
    from streamlit import runtime

    if runtime.exists():
        runtime.get_instance().clear_user_info_for_session(session_id)


def close_left_sessions(now: float | None = None, alive: Callable[[str], bool] = _session_alive,
                        close: Callable[[str], None] = _close_session) -> int:
    """Close every noted session disconnected for longer than the session TTL; how many were closed."""
    now = time.monotonic() if now is None else now
    ttl = _session_ttl()
    with _lock:
        for session, since in list(_left.items()):
            _left[session] = None if alive(session) else (now if since is None else since)
        gone = [s for s, since in _left.items() if since is not None and now - since >= ttl]
        for session in gone:
            del _left[session]
    for session in gone:
        close(session)
    return len(gone)


def tracked() -> int:
    """How many cache entries are being watched (for tests and the benchmark)."""
    with _lock:
        return len(_uses)


def _malloc_trim():
    """glibc's `malloc_trim` (`dashboard.host`), or None; looked up here so tests can replace it."""
    return host.malloc_trim()


def _sweep_forever(trim) -> None:
    while True:
        time.sleep(TRIM_SECONDS)
        try:
            close_left_sessions()
            release_idle()
        except Exception:  # noqa: BLE001 - a failed sweep must not end the thread; the next one retries
            pass
        if trim is not None:
            trim(0)


@st.cache_resource(show_spinner=False, max_entries=1)
def start_trimmer() -> threading.Thread:
    """Start (once per server) the thread that releases unused runs and returns freed memory."""
    host.tune_malloc()
    thread = threading.Thread(target=_sweep_forever, args=(_malloc_trim(),), name="memory-sweep", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False, max_entries=2)
def _freeze_heap(tensorflow_loaded: bool) -> int:
    """Collect, then freeze every object alive now (once per server and `tensorflow_loaded`)."""
    return host.freeze_heap()


def freeze_imports() -> int:
    """Freeze the heap once before and once after TensorFlow is imported; how many objects are frozen."""
    return _freeze_heap("tensorflow" in sys.modules)
