"""Drawings and uploads become MNIST-like 28×28 digits, or a clear `DigitError`."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from dashboard.mnist import digits
from dashboard.mnist.data import load_mnist

SIDE = 280  # the app's canvas


def canvas(strokes: list[list[tuple[float, float]]], width: int = 22, side: int = SIDE, mode: str = "white_on_black") -> np.ndarray:
    """RGBA pixels of polylines drawn the way a canvas or a photo would hold them."""
    if mode == "white_on_black":  # the app's canvas
        image, ink = Image.new("RGBA", (side, side), (0, 0, 0, 255)), (255, 255, 255, 255)
    elif mode == "transparent":  # a canvas without background: ink is opacity
        image, ink = Image.new("RGBA", (side, side), (0, 0, 0, 0)), (20, 20, 20, 255)
    elif mode == "paper":  # dark pen on light paper
        image, ink = Image.new("RGBA", (side, side), (235, 230, 220, 255)), (30, 30, 60, 255)
    else:
        raise ValueError(mode)
    draw = ImageDraw.Draw(image)
    for points in strokes:
        draw.line(points, fill=ink, width=width, joint="curve")
        for x, y in points:  # round caps, like a brush
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=ink)
    return np.asarray(image)


def png_bytes(rgba: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    image = Image.fromarray(rgba)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def ink_box(image: np.ndarray, threshold: float = 0.0) -> tuple[int, int, int, int]:
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    return rows[0], cols[0], rows[-1], cols[-1]


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


# Synthetic strokes in canvas pixels: (strokes, stroke width).
SEVEN = [[(60, 60), (220, 60), (120, 240)]]
SHAPES = {
    "centred_one": ([[(140, 40), (140, 240)]], 22),
    "off_centre_small_one": ([[(40, 20), (40, 80)]], 8),
    "bottom_right_seven": ([[(190, 190), (260, 190), (220, 270)]], 10),
    "thick_seven": (SEVEN, 48),
    "thin_seven": (SEVEN, 4),
    "wide_minus": ([[(20, 140), (260, 150)]], 16),
    "four_in_two_strokes": ([[(80, 40), (60, 160), (200, 160)], [(170, 60), (170, 250)]], 20),
    "zero": ([[(140, 40), (210, 90), (210, 190), (140, 240), (70, 190), (70, 90), (140, 40)]], 24),
}


@pytest.mark.parametrize("name", list(SHAPES), ids=list(SHAPES))
def test_a_drawing_lands_centred_and_scaled_like_mnist(name):
    strokes, width = SHAPES[name]
    image = digits.from_canvas(canvas(strokes, width))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() == pytest.approx(1.0)
    top, left, bottom, right = ink_box(image)
    height, width_ = bottom - top + 1, right - left + 1
    assert max(height, width_) in (19, 20)  # the longer side fills the 20×20 box
    assert height <= 20 and width_ <= 20
    row, col = digits.center_of_mass(image)
    assert abs(row - 14) <= 0.5 + 1e-6 and abs(col - 14) <= 0.5 + 1e-6


def test_a_thin_one_keeps_its_aspect_ratio():
    image = digits.from_canvas(canvas([[(140, 40), (140, 240)]], width=22))
    top, left, bottom, right = ink_box(image, threshold=0.05)
    assert bottom - top + 1 == 20
    assert right - left + 1 <= 4  # 22 px wide, 222 px tall → about 2 px wide at 20 tall


def test_position_and_size_on_the_canvas_do_not_matter():
    big = digits.from_canvas(canvas([[(60, 60), (220, 60), (120, 240)]], width=22))
    # The same seven at half the size, in the top-left corner, with a stroke half as wide.
    small = digits.from_canvas(canvas([[(10, 10), (90, 10), (40, 100)]], width=11))
    assert correlation(big, small) > 0.9


@pytest.mark.parametrize("mode", ["white_on_black", "transparent", "paper"])
def test_background_and_ink_colours_do_not_matter(mode):
    reference = digits.from_canvas(canvas(SEVEN, 22, mode="white_on_black"))
    image = digits.from_canvas(canvas(SEVEN, 22, mode=mode))
    assert correlation(reference, image) > 0.97


def test_mnist_digits_survive_the_round_trip_through_a_canvas():
    data = load_mnist("embedded")
    for original in data.x_test[:40]:
        again = digits.from_canvas(digits.to_canvas_rgba(original))
        assert correlation(again, original / 255.0) > 0.95


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((SIDE, SIDE, 4), np.uint8),  # transparent, nothing drawn
        np.concatenate([np.zeros((SIDE, SIDE, 3), np.uint8), np.full((SIDE, SIDE, 1), 255, np.uint8)], axis=2),
        None,  # the canvas has sent nothing yet
    ],
    ids=["transparent", "black", "none"],
)
def test_an_empty_canvas_is_refused_with_a_message(pixels):
    with pytest.raises(digits.DigitError, match="empty"):
        digits.from_canvas(pixels)


def test_faint_noise_is_a_blank_picture():
    rng = np.random.default_rng(0)
    gray = (rng.random((100, 100)) * 10).astype(np.uint8)  # at most 4% of full scale
    rgba = np.stack([gray, gray, gray, np.full_like(gray, 255)], axis=-1)
    with pytest.raises(digits.DigitError, match="blank"):
        digits.mnistify(digits.ink_from_rgba(rgba))


def test_a_wrong_array_is_refused():
    with pytest.raises(digits.DigitError):
        digits.from_canvas(np.zeros((10, 10), np.uint8))


@settings(max_examples=40, deadline=None)
@example(points=[(179, 72), (0, 111), (16, 0), (0, 25)], width=2)  # cut at the right edge
@given(
    points=st.lists(st.tuples(st.integers(0, SIDE - 1), st.integers(0, SIDE - 1)), min_size=1, max_size=6),
    width=st.integers(2, 40),
)
def test_any_stroke_becomes_a_valid_mnist_image(points, width):
    image = digits.from_canvas(canvas([points], width))
    assert image.shape == (28, 28) and np.isfinite(image).all()
    assert image.min() >= 0 and image.max() == pytest.approx(1.0)
    top, left, bottom, right = ink_box(image)
    assert bottom - top < 20 and right - left < 20
    row, col = digits.center_of_mass(image)
    # Centred as MNIST is, unless a lopsided stroke had to be cut at the field's edge: a cut on
    # the left or right moves the row of the centre too (seen: rows 7-18, cut at column 27).
    cut = 0 in (top, left) or 27 in (bottom, right)
    assert abs(row - 14) <= 0.5 + 1e-6 or cut
    assert abs(col - 14) <= 0.5 + 1e-6 or cut


# --- uploads ---------------------------------------------------------------------------------


def test_an_uploaded_png_reads_like_the_same_drawing():
    drawing = canvas(SEVEN, 22, mode="paper")
    from_file = digits.from_upload(png_bytes(drawing, mode="RGB"), "seven.png")
    assert correlation(from_file, digits.from_canvas(drawing)) > 0.97


@pytest.mark.parametrize(
    "fmt,mode", [("PNG", "RGBA"), ("PNG", "L"), ("PNG", "I;16"), ("PNG", "P"), ("JPEG", "RGB")], ids=str
)
def test_png_and_jpeg_modes_are_read(fmt, mode):
    drawing = canvas(SEVEN, 22, mode="paper")
    image = Image.fromarray(drawing).convert("L")
    if mode == "I;16":
        image = Image.fromarray((np.asarray(image, np.uint16) * 257).astype(np.uint16))
    elif mode != "L":
        image = Image.fromarray(drawing).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    result = digits.from_upload(buffer.getvalue(), "seven")
    assert correlation(result, digits.from_canvas(drawing)) > 0.95


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"hello, this is text", "not a picture"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a picture|could not be decoded"),
        (b"\x00" * (digits.MAX_UPLOAD_BYTES + 1), "MB"),
    ],
    ids=["empty", "text", "fake_png_header", "too_many_bytes"],
)
def test_bad_uploads_are_refused_with_a_message(data, message):
    with pytest.raises(digits.DigitError, match=message):
        digits.from_upload(data, "the file")


def test_a_truncated_png_is_refused():
    data = png_bytes(canvas(SEVEN, 22, mode="paper"))
    with pytest.raises(digits.DigitError, match="decoded|not a picture"):
        digits.from_upload(data[: len(data) // 2], "half.png")


def test_a_blank_upload_is_refused():
    blank = np.full((200, 200, 3), 240, np.uint8)
    with pytest.raises(digits.DigitError, match="blank"):
        digits.from_upload(png_bytes(blank), "blank.png")


def test_other_image_formats_are_refused_by_name():
    with pytest.raises(digits.DigitError, match="GIF"):
        digits.from_upload(png_bytes(canvas(SEVEN, 22), fmt="GIF", mode="P"), "seven.gif")


def test_huge_pixel_counts_are_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("1", (6000, 5000)).save(buffer, format="PNG")  # a few KB, 30 megapixels
    assert len(buffer.getvalue()) < digits.MAX_UPLOAD_BYTES
    with pytest.raises(digits.DigitError, match="too large"):
        digits.from_upload(buffer.getvalue(), "huge.png")


def png_declaring(width: int, height: int) -> bytes:
    """A small 1-bit PNG whose header (with a valid checksum) declares width×height: a bomb's header."""
    buffer = io.BytesIO()
    Image.new("1", (64, 64)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR's width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # IHDR's CRC over type + fields
    return bytes(data)


@pytest.mark.parametrize(
    ("width", "height"),
    [
        pytest.param(6000, 6000, id="36-megapixels"),  # under Pillow's limit: our own check
        pytest.param(10_000, 10_000, id="100-megapixels"),  # Pillow warns (DecompressionBombWarning)
        pytest.param(20_000, 20_000, id="400-megapixels"),  # Pillow refuses (DecompressionBombError)
    ],
)
def test_png_bombs_get_the_size_message_whatever_pillow_thinks(width, height):
    with pytest.raises(digits.DigitError, match=rf"is {width:,}×{height:,} pixels, too large to read"):
        digits.from_upload(png_declaring(width, height), "bomb.png")


@pytest.mark.slow  # a 20,000² PNG, ~1.3 s
def test_a_real_20000_square_png_bomb_is_refused_with_the_size_message():
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG", optimize=False)  # ~50 KB, 400 megapixels
    assert len(buffer.getvalue()) < digits.MAX_UPLOAD_BYTES
    with pytest.raises(digits.DigitError, match="is 20,000×20,000 pixels, too large to read"):
        digits.from_upload(buffer.getvalue(), "bomb.png")


def test_the_size_check_holds_when_pillow_s_limit_is_switched_off(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(digits.DigitError, match="20,000×20,000 pixels, too large"):
        digits.from_upload(png_declaring(20_000, 20_000), "bomb.png")


def test_a_phone_mpo_jpeg_reads_its_first_picture():
    drawing = canvas(SEVEN, 22, mode="paper")
    photo = Image.fromarray(drawing).convert("RGB")
    second = Image.new("RGB", photo.size, (0, 0, 0))  # a different second picture (a depth map, a preview)
    ImageDraw.Draw(second).ellipse((40, 40, 200, 200), fill=(255, 255, 255))
    buffer = io.BytesIO()
    photo.save(buffer, format="MPO", save_all=True, append_images=[second])
    reopened = Image.open(io.BytesIO(buffer.getvalue()))
    assert (reopened.format, reopened.n_frames) == ("MPO", 2)
    result = digits.from_upload(buffer.getvalue(), "IMG_0001.jpg")
    assert correlation(result, digits.from_canvas(drawing)) > 0.95


# --- the shipped network reads what the page feeds it ---------------------------------------


@pytest.mark.slow
def test_the_shipped_book_run_reads_test_digits_through_the_drawing_path():
    from dashboard.ui.run_picker import run_model, shipped_book_key

    key = shipped_book_key()
    if key is None:
        pytest.skip("no shipped book run in model_cache/shipped/ yet")
    run = run_model(key)  # what the page reads digits with
    data = load_mnist("embedded")
    images, labels = data.x_test[:100], data.y_test[:100]
    # As drawn on the canvas (white on black, 10× larger), preprocessed like a drawing …
    drawn = [run.read(digits.from_canvas(digits.to_canvas_rgba(image))).predicted for image in images]
    # … and as picked from the test set.
    picked = [run.read(digits.from_mnist(image)).predicted for image in images]
    assert int((np.array(drawn) == labels).sum()) >= 95
    assert int((np.array(picked) == labels).sum()) >= 95
