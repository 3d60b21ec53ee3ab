"""What the home and Architecture pages say about a network's geometry, computed from its numbers.

Every number in these sentences comes from `dashboard.network.spec.geometry`, so the text cannot
disagree with the table beside it: which map the classifier reads (the last conv map, or the
pooled map after it) with its own size, singular and plural, the one-position case, and why
flatten and dense layers may see 26×26 of the 28×28 digit rather than all of it.

Pure Python: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

from dashboard.network.decode import article, plural, spatial_layers
from dashboard.network.spec import INPUT_SIZE, LayerGeometry, NetworkSpec, geometry

RECEPTIVE_FIELD_HELP = (
    "Receptive field: the side of the square of the 28×28 digit that one position of this layer's "
    "map sees. Flatten and dense layers see every pixel that some position of the last map sees."
)
JUMP_HELP = (
    "Jump: how many pixels of the digit lie between the windows of two neighbouring positions of "
    "this layer's map. A stride-1 conv keeps it; each 2×2 pooling doubles it. Layers without "
    "positions (flatten, dense) have none."
)


def _square(n: int) -> str:
    return f"{n}×{n}"


def _rows(top: int, bottom: int) -> str:
    return f"row {top}" if top == bottom else f"rows {top}–{bottom}"


def _maps(spec: NetworkSpec) -> tuple[LayerGeometry, LayerGeometry]:
    """(last conv layer, last spatial layer: the map the head reads) of a valid spec."""
    spatial = [g for g in geometry(spec) if g.size is not None]
    return [g for g in spatial if g.kind == "Conv2D"][-1], spatial[-1]


def positions_text(geo: LayerGeometry) -> str:
    """Where the positions of map `geo` look on the digit, singular or plural as its size asks."""
    top, _, bottom, _ = geo.window(0, 0)
    rf = geo.receptive_field
    seen = f"{article(rf)} {_square(rf)} window of the {_square(INPUT_SIZE)} digit"
    clipped = bottom - top + 1 < rf
    if geo.size == 1:
        where = f"clipped to the image: {_rows(top, bottom)}" if clipped else _rows(top, bottom)
        return f"The single position of `{geo.name}` sees {seen} ({where} and the same columns)."
    where = "clipped to the image: " if clipped else ""
    return (
        f"Each of the {_square(geo.size)} positions of `{geo.name}` sees {seen} "
        f"({where}{_rows(top, bottom)} for the top-left one), and neighbouring positions are "
        f"{plural(geo.jump, 'pixel')} apart."
    )


def head_inputs(spec: NetworkSpec) -> int:
    """How many numbers the classifier reads: side × side × channels, or channels after global averaging."""
    _, final = _maps(spec)
    return final.size * final.size * final.channels if spec.head == "flatten" else final.channels


def classifier_text(spec: NetworkSpec) -> str:
    """Which map the classifier reads, with its own size, and how many numbers that makes."""
    conv, final = _maps(spec)
    n = head_inputs(spec)
    size = f"{_square(final.size)}×{final.channels}"
    if final.name == conv.name:
        source = f"this {size} map"
    else:
        source = f"the {size} output of `{final.name}`, the pooling after it,"
    if spec.head == "flatten":
        return (
            f"The classifier reads {source} flattened: {plural(final.channels, 'channel')} × "
            f"{plural(final.size * final.size, 'position')} = **{plural(n, 'number')}**."
        )
    return (
        f"Global averaging turns {source.removesuffix(',')} into **{plural(n, 'number')}**, "
        "one per channel, and forgets where."
    )


def map_text(spec: NetworkSpec) -> str:
    """The Architecture page's paragraph: where the last conv map looks, and what the classifier reads."""
    conv, _ = _maps(spec)
    return positions_text(conv) + " " + classifier_text(spec)


def _covered(geo: LayerGeometry) -> tuple[int, int]:
    """(first, last) row of the digit that some position of map `geo` sees."""
    return geo.window(0, 0)[0], geo.window(geo.size - 1, geo.size - 1)[2]


def _drop(before: LayerGeometry, layer: LayerGeometry) -> str:
    """'`max_pooling2d_1` turns the 11×11 map of `conv2d_1` into 5×5 (…) and leaves out its last row and column'."""
    how = "2×2 pooling rounds down" if "Pooling" in layer.kind else "its stride rounds down"
    reached = _covered(layer)[1]
    dropped = sum(1 for r in range(before.size) if before.window(r, r)[2] > reached)
    which = "its last row and column" if dropped == 1 else f"its last {dropped} rows and columns"
    source = f"the {_square(before.size)} " + ("digit" if before.name == "input" else f"map of `{before.name}`")
    return f"`{layer.name}` turns {source} into {_square(layer.size)} ({how}) and leaves out {which}"


def unseen_text(spec: NetworkSpec) -> str | None:
    """Why flatten and dense layers see less than 28×28 (which layers drop which rows); None if they see all."""
    layers = spatial_layers(spec)
    _, final = _maps(spec)
    first, last = _covered(final)
    if (first, last) == (0, INPUT_SIZE - 1):
        return None
    lost = [r for r in range(INPUT_SIZE) if not first <= r <= last]
    lost_text = _rows(lost[0], lost[-1]) if lost == list(range(lost[0], lost[-1] + 1)) else "some rows"
    # The layers whose output no longer reaches as far down the digit as their input did.
    drops = [_drop(layers[i - 1], layers[i]) for i in range(1, len(layers))
             if _covered(layers[i])[1] < _covered(layers[i - 1])[1]]
    if len(drops) == 1:
        why = f"{drops[0]}, the only ones that saw {lost_text} of the digit."
    else:
        why = "; ".join(drops) + f": together they lose {lost_text} of the digit."
    return (
        f"Why {last - first + 1}, not {INPUT_SIZE}, for the layers after the last map? They see what its "
        f"positions see: {_rows(first, last)} and the same columns. " + why[0].upper() + why[1:]
    )
