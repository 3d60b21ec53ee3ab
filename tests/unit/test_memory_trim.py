"""The server's memory trimmer: one daemon thread that hands freed memory back to the system."""

from __future__ import annotations

import platform
import threading

import pytest

from dashboard.ui import memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_malloc_trim_is_found_and_callable_on_glibc():
    trim = memory._malloc_trim()
    assert trim is not None and trim(0) in (0, 1)


def test_one_trimmer_thread_per_server(monkeypatch):
    memory.start_trimmer.clear()
    calls = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: calls.append(1) or (lambda pad: 0))
    first, second = memory.start_trimmer(), memory.start_trimmer()
    assert first is second and isinstance(first, threading.Thread) and first.daemon and first.is_alive()
    assert len(calls) == 1
    memory.start_trimmer.clear()


def test_no_glibc_means_no_thread(monkeypatch):
    memory.start_trimmer.clear()
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.start_trimmer() is None
    memory.start_trimmer.clear()


def test_every_server_wide_cache_is_bounded():
    """Each `st.cache_data` / `st.cache_resource` in dashboard/ui has max_entries, and a ttl unless
    it holds one server-wide object (max_entries=1) or the data set (a handful of sources)."""
    import ast
    from pathlib import Path

    ui = Path(memory.__file__).parent
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
