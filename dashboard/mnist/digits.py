"""Turn a drawing or an uploaded picture into the 28×28 input MNIST itself would have made.

MNIST's recipe (LeCun et al.): a white digit on black, cropped to the ink's bounding box,
scaled to fit a 20×20 box keeping its aspect ratio (anti-aliased, hence grey edges), then
pasted into a 28×28 field so that its centre of mass lands on the centre, (14, 14) in row and
column indices, moved by whole pixels. Every function returns float32 (28, 28) in [0, 1],
ready for `image[None, ..., None]`.

Anything that is not a usable digit raises `DigitError` with a message for the learner.
Pure numpy and Pillow: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SIZE = 28  # side of the MNIST field
BOX = 20  # the digit is scaled to fit BOX×BOX
TARGET_COM = 14.0  # row/column index of the centre of mass in real MNIST (measured: 14.0 ± 0.3)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # matches server.maxUploadSize = 5 in .streamlit/config.toml
MAX_UPLOAD_PIXELS = 25_000_000  # 5,000×5,000: larger pictures are refused before decoding
WORK_SIDE = 560  # big pictures are shrunk to this before any per-pixel work
MIN_CONTRAST = 0.08  # ink weaker than 8% of full scale counts as a blank picture
BOX_THRESHOLD = 0.1  # the bounding box ignores faint smudges below 10% of the strongest ink
UPLOAD_FORMATS = ("PNG", "JPEG", "MPO")  # MPO: a phone's JPEG with a second picture inside (we read the first)


class DigitError(ValueError):
    """A drawing or upload that cannot become a digit; the message says why and what to do."""


def ink_from_rgba(rgba: np.ndarray) -> np.ndarray:
    """RGBA (h, w, 4) or RGB (h, w, 3) pixels → ink (h, w) float32 in [0, 1], white-on-black sense.

    With transparency, ink is opacity (strokes on a transparent canvas). Without, it is the
    distance in brightness from the background, which is read off the picture's border, so dark
    ink on white paper and white chalk on black both work.
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4) or min(rgba.shape[:2]) < 1:
        raise DigitError(f"Expected an RGB or RGBA picture, got an array of shape {rgba.shape}.")
    pixels = rgba.astype(np.float32) / (255.0 if rgba.dtype == np.uint8 else 1.0)
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3]
        if alpha.min() < 0.9:  # some of it is see-through: what is opaque is the ink
            return np.clip(alpha, 0.0, 1.0)
    # ITU-R 601 luma, as Pillow's convert("L") uses.
    gray = pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114
    return ink_from_gray(gray)


def ink_from_gray(gray: np.ndarray) -> np.ndarray:
    """Brightness (h, w) in [0, 1] → ink (h, w) float32: distance from the border's background."""
    gray = np.asarray(gray, dtype=np.float32)
    background = float(np.median(_border(gray)))
    ink = background - gray if background > 0.5 else gray - background
    # Paper grain and JPEG noise: the border's typical level is not ink. (The median, not a
    # high percentile: a stroke along the edge must not erase itself.)
    floor = float(np.median(np.clip(ink[_border_mask(ink.shape)], 0, None)))
    return np.clip(ink - floor, 0.0, 1.0)


def _border_mask(shape: tuple[int, ...]) -> np.ndarray:
    # A frame 1/20 of the side thick (at least 1 px) all around.
    h, w = shape[:2]
    t = max(1, min(h, w) // 20)
    mask = np.ones((h, w), dtype=bool)
    mask[t : h - t, t : w - t] = False
    return mask


def _border(image: np.ndarray) -> np.ndarray:
    return image[_border_mask(image.shape)]


def mnistify(ink: np.ndarray, what: str = "picture") -> np.ndarray:
    """Ink (h, w) ≥ 0, white on black → the MNIST-style (28, 28) float32 image in [0, 1]."""
    ink = np.nan_to_num(np.asarray(ink, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if ink.ndim != 2 or ink.size == 0:
        raise DigitError(f"The {what} has shape {ink.shape}; expected a 2-D picture.")
    ink = np.clip(ink, 0.0, None)
    strongest = float(ink.max())
    if strongest < MIN_CONTRAST:
        raise DigitError(_blank_message(what))
    ink = ink / strongest

    # Crop to the bounding box of the real ink.
    rows = np.flatnonzero((ink > BOX_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > BOX_THRESHOLD).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    # Fit the longer side to BOX, keeping the aspect ratio; a thin "1" stays thin.
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    # Shrinking averages areas (grey edges like MNIST's); enlarging interpolates.
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(crop).resize((new_w, new_h), method), dtype=np.float32)
    small = np.clip(small, 0.0, None)
    small /= max(float(small.max()), 1e-6)  # MNIST strokes always reach full white

    # Paste so that the centre of mass lands on TARGET_COM, moving by whole pixels as MNIST did.
    # Real MNIST is centred this way without exception (|error| ≤ 0.52 px over 60,000 images),
    # even when a lopsided digit's box then touches or crosses the edge: the overflow is cut.
    com_row, com_col = center_of_mass(small)
    top, left = round(TARGET_COM - com_row), round(TARGET_COM - com_col)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    rows = slice(max(top, 0), min(top + new_h, SIZE))
    cols = slice(max(left, 0), min(left + new_w, SIZE))
    out[rows, cols] = small[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    return out


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted centre of a 2-D image, in pixel indices."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    if total <= 0:
        return (image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2
    rows = np.arange(image.shape[0]) @ image.sum(axis=1) / total
    cols = np.arange(image.shape[1]) @ image.sum(axis=0) / total
    return float(rows), float(cols)


def from_canvas(rgba: np.ndarray | None) -> np.ndarray:
    """The canvas's RGBA pixels (h, w, 4) → the (28, 28) image the network sees."""
    if rgba is None:
        raise DigitError(_blank_message("canvas"))
    ink = ink_from_rgba(rgba)
    return mnistify(ink, what="canvas")


def from_upload(data: bytes, name: str = "the file") -> np.ndarray:
    """The bytes of an uploaded PNG or JPEG → the (28, 28) image the network sees."""
    if not data:
        raise DigitError(f"{name} is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise DigitError(
            f"{name} is {len(data) / 2**20:.1f} MB; pictures up to {MAX_UPLOAD_BYTES // 2**20} MB "
            "are accepted. A photo of one digit needs far less: crop or shrink it first."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                image = Image.open(io.BytesIO(data))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                # Pillow refuses sizes above Image.MAX_IMAGE_PIXELS (or warns above it); ours
                # is smaller, so read the declared size from the header and say it plainly.
                image = _header_only(data)
            if image.format not in UPLOAD_FORMATS:
                raise DigitError(f"{name} is a {image.format or 'unknown'} image; upload a PNG or a JPEG.")
            width, height = image.size
            if width * height > MAX_UPLOAD_PIXELS:
                raise DigitError(
                    f"{name} is {width:,}×{height:,} pixels, too large to read; shrink it below "
                    f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels."
                )
            image.seek(0)  # an MPO's first picture is the photo; the others are previews or depth
            image.draft("RGB", (WORK_SIDE, WORK_SIDE))  # JPEG: decode at a reduced size if big
            image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
            image.thumbnail((WORK_SIDE, WORK_SIDE))
            if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float greyscale
                gray = np.asarray(image, dtype=np.float32)
                return mnistify(ink_from_gray(gray / max(float(gray.max()), 1.0)), what="picture")
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            pixels = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except DigitError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DigitError(f"{name} is not a picture this app can read; upload a PNG or a JPEG.") from None
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise DigitError(f"{name} could not be decoded ({err}); it may be damaged or truncated.") from None
    return mnistify(ink_from_rgba(pixels), what="picture")


def _header_only(data: bytes) -> Image.Image:
    """The image object of a PNG or JPEG with only its header read (no size check, nothing decoded)."""
    Image.init()
    for fmt in ("PNG", "JPEG"):
        factory, accept = Image.OPEN[fmt]
        if accept is None or accept(data[:16]):
            return factory(io.BytesIO(data), None)
    raise UnidentifiedImageError("not a PNG or JPEG")


def from_mnist(image: np.ndarray) -> np.ndarray:
    """An MNIST uint8 (28, 28) image → float32 (28, 28) in [0, 1]; it is already MNIST-shaped."""
    image = np.asarray(image)
    if image.shape != (SIZE, SIZE):
        raise DigitError(f"An MNIST image is 28×28, not {image.shape}.")
    return image.astype(np.float32) / 255.0


def to_canvas_rgba(image: np.ndarray, scale: int = 10) -> np.ndarray:
    """A (28, 28) image in [0, 1] or uint8 → white-on-black RGBA (28·scale, 28·scale, 4), as the canvas sends."""
    image = np.asarray(image, dtype=np.float32)
    if image.max() > 1.0:
        image = image / 255.0
    gray = np.kron(image, np.ones((scale, scale), dtype=np.float32))
    gray8 = np.round(gray * 255).astype(np.uint8)
    alpha = np.full_like(gray8, 255)
    return np.stack([gray8, gray8, gray8, alpha], axis=-1)


def _blank_message(what: str) -> str:
    if what == "canvas":
        return "The canvas is empty: draw a digit with the mouse (or a finger) first."
    return f"The {what} looks blank: no digit stands out from the background."


def image_digest(image: np.ndarray) -> str:
    """A short name for an image's pixels (and shape and type): the cache key of what is made of it."""
    image = np.ascontiguousarray(image)
    named = f"{image.shape}{image.dtype}".encode() + image.tobytes()
    return hashlib.blake2b(named, digest_size=12).hexdigest()
