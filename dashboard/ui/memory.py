"""Give memory the server has freed back to the operating system, so it shrinks when sessions leave.

glibc keeps memory that Python, NumPy and TensorFlow free in per-thread arenas (Streamlit runs
every script run in a thread of its own) instead of returning it, so the server's resident size
stays at its peak long after the sessions that caused it have gone. `malloc_trim(0)` hands the
free pages back. One daemon thread per server (started through `st.cache_resource`) calls it
every `TRIM_SECONDS`; where there is no glibc (macOS, Windows, musl) nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

import streamlit as st

TRIM_SECONDS = 20.0  # a trim takes a few milliseconds


def _malloc_trim():
    """glibc's `malloc_trim`, or None where it does not exist."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def _trim_forever(trim) -> None:
    while True:
        time.sleep(TRIM_SECONDS)
        trim(0)


@st.cache_resource(show_spinner=False, max_entries=1)
def start_trimmer() -> threading.Thread | None:
    """Start (once per server) the thread that returns freed memory to the system; None without glibc."""
    trim = _malloc_trim()
    if trim is None:
        return None
    thread = threading.Thread(target=_trim_forever, args=(trim,), name="malloc-trim", daemon=True)
    thread.start()
    return thread
