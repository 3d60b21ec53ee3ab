"""The server's memory trimmer: one daemon thread that hands freed memory back to the system."""

from __future__ import annotations

import functools
import platform
import threading
import time

import numpy as np
import pytest
import streamlit as st

from dashboard.ui import session_memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_malloc_trim_is_found_and_callable_on_glibc():
    trim = session_memory._malloc_trim()
    assert trim is not None and trim(0) in (0, 1)


def test_one_trimmer_thread_per_server(monkeypatch):
    session_memory.start_trimmer.clear()
    calls = []
    monkeypatch.setattr(session_memory, "_malloc_trim", lambda: calls.append(1) or (lambda pad: 0))
    first, second = session_memory.start_trimmer(), session_memory.start_trimmer()
    assert first is second and isinstance(first, threading.Thread) and first.daemon and first.is_alive()
    assert len(calls) == 1
    session_memory.start_trimmer.clear()


def test_no_glibc_still_sweeps_but_never_trims(monkeypatch):
    session_memory.start_trimmer.clear()
    monkeypatch.setattr(session_memory, "_malloc_trim", lambda: None)
    thread = session_memory.start_trimmer()
    assert isinstance(thread, threading.Thread) and thread.is_alive()
    session_memory.start_trimmer.clear()


@pytest.fixture
def watched(monkeypatch):
    """A cached function wrapped by `released_when_idle`, counting its real calls; sessions faked."""
    monkeypatch.setattr(session_memory, "_uses", {})
    session = {"id": "s1"}
    monkeypatch.setattr(session_memory, "_session_id", lambda: session["id"])
    calls = []

    @session_memory.released_when_idle
    @st.cache_resource(show_spinner=False, max_entries=4)
    def load(key: str) -> list:
        calls.append(key)
        return [key]

    load.clear()
    yield load, calls, session
    load.clear()


def test_an_entry_is_kept_while_its_session_is_connected(watched):
    load, calls, _ = watched
    first = load("a")
    later = time.monotonic() + session_memory.ORPHAN_SECONDS + 1
    assert session_memory.release_idle(now=later, alive=lambda s: s == "s1") == 0
    assert load("a") is first and calls == ["a"]


def test_an_entry_is_released_once_its_sessions_have_gone(watched):
    load, calls, session = watched
    first = load("a")
    session["id"] = "s2"
    load("a")  # a second session uses it too
    soon = time.monotonic() + session_memory.ORPHAN_SECONDS - 5
    assert session_memory.release_idle(now=soon + 10, alive=lambda s: s == "s2") == 0  # s2 is still here
    assert session_memory.release_idle(now=soon, alive=lambda s: False) == 0  # not idle long enough yet
    assert session_memory.release_idle(now=soon + 10, alive=lambda s: False) == 1
    assert session_memory.tracked() == 0
    again = load("a")
    assert again == first and again is not first and calls == ["a", "a"]


def test_an_entry_nobody_has_used_for_long_is_released_even_with_its_tab_open(watched):
    load, calls, _ = watched
    load("a")
    load("b")
    assert session_memory.release_idle(now=time.monotonic() + session_memory.IDLE_SECONDS + 1, alive=lambda s: True) == 2
    load("a")
    assert calls == ["a", "b", "a"]


def test_only_the_idle_entry_goes(watched):
    load, calls, session = watched
    load("old")
    session["id"] = None  # a call from outside any session (a job thread)
    load("new")
    start = time.monotonic()
    with session_memory._lock:  # "old" was last used a minute ago
        session_memory._uses[(load.__wrapped__.__qualname__, ("old",), ())].last = start - 60
    assert session_memory.release_idle(now=start + 1, alive=lambda s: False) == 1
    load("old"), load("new")
    assert calls == ["old", "new", "old"]


def test_underscore_arguments_are_left_out_of_the_key_and_released_with_it(monkeypatch):
    monkeypatch.setattr(session_memory, "_uses", {})
    monkeypatch.setattr(session_memory, "_session_id", lambda: "s1")
    calls = []

    @session_memory.released_when_idle
    @st.cache_resource(show_spinner=False, max_entries=4)
    def view(key: str, _image=None) -> list:
        calls.append(key)
        return [key, int(_image.sum())]

    view.clear()
    image = np.ones((28, 28))  # unhashable: it must not be part of the key
    first = view("a", _image=image)
    assert view("a", _image=np.zeros((28, 28))) is first and session_memory.tracked() == 1
    assert session_memory.release_idle(now=time.monotonic() + session_memory.ORPHAN_SECONDS + 1, alive=lambda s: False) == 1
    assert view("a", _image=image) is not first and calls == ["a", "a"]
    view.clear()


def test_every_server_wide_cache_is_bounded():
    """Each `st.cache_data` / `st.cache_resource` in dashboard/ui has max_entries, and a ttl unless
    it holds one server-wide object (max_entries=1) or the data set (a handful of sources)."""
    import ast
    from pathlib import Path

    ui = Path(session_memory.__file__).parent
    seen = 0
    for path in sorted(ui.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr not in ("cache_data", "cache_resource"):
                continue
            seen += 1
            keywords = {k.arg: k.value for k in node.keywords}
            where = f"{path.name}:{node.lineno}"
            assert "max_entries" in keywords, f"{where} has no max_entries"
            entries = keywords["max_entries"]
            few = isinstance(entries, ast.Constant) and entries.value <= 3
            assert "ttl" in keywords or few, f"{where} has no ttl"
    assert seen >= 10


def test_a_session_is_closed_once_it_has_been_gone_longer_than_the_session_ttl(monkeypatch):
    monkeypatch.setattr(session_memory, "_left", {})
    monkeypatch.setattr(session_memory, "_session_ttl", lambda: 60.0)
    here = {"s1", "s2"}
    closed: list[str] = []
    for session in ("s1", "s2"):
        monkeypatch.setattr(session_memory, "_session_id", lambda session=session: session)
        session_memory.note_session()
    sweep = functools.partial(session_memory.close_left_sessions, alive=lambda s: s in here, close=closed.append)
    start = time.monotonic()
    assert sweep(now=start) == 0
    here.discard("s1")  # s1's browser leaves
    assert sweep(now=start + 10) == 0  # first seen gone now
    here.add("s1")  # ...and reconnects: the clock starts again when it leaves next
    assert sweep(now=start + 20) == 0
    here.discard("s1")
    assert sweep(now=start + 30) == 0 and sweep(now=start + 89) == 0 and closed == []
    assert sweep(now=start + 90) == 1 and closed == ["s1"]
    assert sweep(now=start + 1000) == 0 and closed == ["s1"]  # s2 is still connected; s1 is forgotten


def test_outside_a_session_nothing_is_noted(monkeypatch):
    monkeypatch.setattr(session_memory, "_left", {})
    monkeypatch.setattr(session_memory, "_session_id", lambda: None)
    session_memory.note_session()
    assert session_memory._left == {}


def test_freezing_the_heap_happens_once_per_tensorflow_state(monkeypatch):
    import gc
    import sys

    session_memory._freeze_heap.clear()
    freezes = []
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(1))
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    session_memory.freeze_imports(), session_memory.freeze_imports()
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    session_memory.freeze_imports(), session_memory.freeze_imports()
    assert len(freezes) == 2
    session_memory._freeze_heap.clear()
