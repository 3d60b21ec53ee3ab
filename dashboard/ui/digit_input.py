"""The shared digit input: pick a test image, draw one, or upload a picture.

`digit_input(key_prefix)` shows the controls and returns a `Digit`: the (28, 28) float image
the network sees and where it came from. Any page may call it with its own `key_prefix`
(widget keys never clash). The last digit shown anywhere is kept in `st.session_state`
(`current_digit()`), and a page opened afterwards starts from it, so the learner's digit
follows them from page to page. The picked test image's index is kept in the URL (`?digit=`),
the input mode as `?input=test|draw|upload`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from dashboard.mnist import digits
from dashboard.mnist.data import MnistData
from dashboard.mnist.digits import image_digest
from dashboard.outside import plain, plotly_text
from dashboard.ui import cached, text
from dashboard.ui.cached import IDLE_TTL
from dashboard.ui.session_memory import released_when_idle
from dashboard.ui.state import set_url, url_int, url_token

CURRENT_KEY = "digit_current"  # the last Digit any page showed
DRAWING_KEY = "digit_drawing"  # the canvas's last drawing (Fabric.js JSON), to redraw it elsewhere
MODES = {"test": "Test image", "draw": "Draw", "upload": "Upload"}
CANVAS_SIDE = 280  # 10 canvas pixels per MNIST pixel
TOOLBAR_ROOM = 48  # px above the canvas for its hover toolbar (streamlit-drawable-canvas: top -2.65rem)
DEFAULT_STROKE = 22  # ≈ MNIST's 2–3 px strokes once a 200 px tall digit is shrunk to 20 px


@dataclass(frozen=True, eq=False)
class Digit:
    """A digit ready for the network, and where it came from."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], white on black
    source: str  # "test", "draw" or "upload"
    description: str  # e.g. "test image #7 (label 9)"
    label: int | None = None  # the true label, for test images
    index: int | None = None  # the test image's index

    def model_input(self) -> np.ndarray:
        """The batch of one the network takes: float32 (1, 28, 28, 1)."""
        return self.image[None, :, :, None]


def current_digit() -> Digit | None:
    """The digit last shown by any page in this session, or None."""
    value = st.session_state.get(CURRENT_KEY)
    return value if isinstance(value, Digit) else None


def _random_index(index_key: str, count: int) -> None:
    # Widget callback: only sets state, the rerun does the work.
    st.session_state[index_key] = int(np.random.default_rng().integers(count))


def _test_image(key_prefix: str, data: MnistData, current: Digit | None) -> Digit:
    count = len(data.x_test)
    index_key = f"{key_prefix}_index"
    if index_key not in st.session_state:
        fallback = current.index if current is not None and current.index is not None else 0
        st.session_state[index_key] = url_int("digit", 0, count - 1, min(fallback, count - 1))
    elif not 0 <= st.session_state[index_key] < count:  # the data source shrank since
        st.session_state[index_key] = 0
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    index = int(
        left.number_input(
            f"Test image (0–{count - 1:,})", min_value=0, max_value=count - 1, step=1, key=index_key,
            persist_state="session",
        )
    )
    right.button("Random", icon=":material/casino:", key=f"{key_prefix}_random", on_click=_random_index, args=(index_key, count))
    set_url(input="test", digit=index)
    label = int(data.y_test[index])
    return Digit(digits.from_mnist(data.x_test[index]), "test", f"test image #{index} (label {label})", label, index)


def _drawing(key_prefix: str, current: Digit | None) -> Digit | None:
    from streamlit_drawable_canvas import st_canvas

    set_url(input="draw", digit=None)
    stroke = st.slider("Stroke width", 8, 40, value=DEFAULT_STROKE, key=f"{key_prefix}_stroke", persist_state="session")
    canvas_key = f"{key_prefix}_canvas"
    init_key = f"{key_prefix}_canvas_init"
    if canvas_key not in st.session_state:
        # A fresh canvas on this page: start from the drawing made last, here or on another page.
        st.session_state[init_key] = st.session_state.get(DRAWING_KEY)
    # The canvas's toolbar (undo, redo, clear) appears 2.65rem above its top on hover: leave it room
    # rather than let it cover the stroke-width slider.
    st.space(TOOLBAR_ROOM)
    result = st_canvas(
        stroke_width=stroke,
        stroke_color="#FFFFFF",
        background_color="#000000",  # white on black, as MNIST stores digits
        height=CANVAS_SIDE,
        width=CANVAS_SIDE,
        drawing_mode="freedraw",
        initial_drawing=st.session_state.get(init_key),
        return_image_data=True,
        key=canvas_key,
    )
    st.caption("Draw one digit, large, in the middle. Undo, redo and clear are in the canvas's toolbar.")
    if result.json_data is not None and result.json_data.get("objects"):
        st.session_state[DRAWING_KEY] = result.json_data
    try:
        pixels = result.image_data
    except (ValueError, OSError) as err:  # a malformed data URL from the browser
        text.warning(f"The drawing could not be read ({err}); draw again.")
        return None
    if pixels is None and current is not None and current.source == "draw":
        return current  # the canvas has not sent its pixels yet: keep the last drawing
    try:
        image = digits.from_canvas(pixels)
    except digits.DigitError as err:
        st.info(str(err), icon=":material/edit:")
        return None
    return Digit(image, "draw", "your drawing")


def _upload(key_prefix: str, current: Digit | None) -> Digit | None:
    set_url(input="upload", digit=None)
    limit = digits.MAX_UPLOAD_BYTES // 2**20
    file = st.file_uploader(
        f"A PNG or JPEG of one digit (up to {limit} MB)", key=f"{key_prefix}_upload"
    )
    if file is None:
        if current is not None and current.source == "upload":
            return current  # the file from another page; the uploader starts empty here
        st.info("Upload a picture of one handwritten digit: dark on light or light on dark.", icon=":material/upload:")
        return None
    try:
        image = digits.from_upload(file.getvalue(), name=repr(plain(file.name, 40)))
    except digits.DigitError as err:
        text.error(str(err))  # it quotes the file name: plain text
        return None
    return Digit(image, "upload", f"upload {plain(file.name, 40)!r}")


def digit_input(key_prefix: str = "digit", data: MnistData | None = None, preview: bool = True) -> Digit | None:
    """Show the digit controls; return the chosen `Digit`, or None (after a message) if there is none yet.

    With `preview`, the 28×28 image the network sees is drawn beside the controls.
    """
    data = cached.mnist() if data is None else data
    current = current_digit()
    mode_key = f"{key_prefix}_mode"
    if mode_key not in st.session_state:
        token = url_token("input", allowed=list(MODES)) or (current.source if current is not None else "test")
        st.session_state[mode_key] = token
    controls, seen = st.columns([3, 2]) if preview else (st.container(), None)
    with controls:
        mode = st.radio(
            "Digit", list(MODES), format_func=MODES.__getitem__, horizontal=True, key=mode_key, persist_state="session"
        )
        if mode == "draw":
            digit = _drawing(key_prefix, current)
        elif mode == "upload":
            digit = _upload(key_prefix, current)
        else:
            digit = _test_image(key_prefix, data, current)
    if digit is None:
        return None
    st.session_state[CURRENT_KEY] = digit
    if seen is not None:
        with seen:
            st.plotly_chart(
                seen_figure(image_digest(digit.image), plotly_text(digit.description, 80), _image=digit.image),
                key=f"{key_prefix}_seen",
                config={"displayModeBar": False},
            )
    return digit


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=32, ttl=IDLE_TTL)
def seen_figure(digit: str, description: str, *, _image: np.ndarray) -> Any:
    """The 28×28 input `_image` (named `digit`) as the network sees it, built once and shared (read-only)."""
    from dashboard.charts.maps import digit_chart

    # Two lines: one was cut off at 1280×720. `description` is plotly-escaped text.
    return digit_chart(_image, title=f"What the network sees:<br>{description}", height=300)
