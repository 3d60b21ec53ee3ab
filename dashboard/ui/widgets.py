"""Shared controls. `spec_editor` edits a `NetworkSpec` with one widget per field.

Widget values live in `st.session_state` under keys `<prefix>_…`; a missing value (first run,
a block just added, or a return from another page, where Streamlit drops widget state) is
seeded from the network passed in, so the editor always shows the current network.
"""

from __future__ import annotations

import streamlit as st

from dashboard.network.spec import (
    HEADS,
    KERNEL_SIZES,
    MAX_BLOCKS,
    MAX_DENSE_UNITS,
    MAX_DROPOUT,
    MIN_BLOCKS,
    PADDINGS,
    POOL_TYPES,
    PRESETS,
    STRIDES,
    ConvBlock,
    NetworkSpec,
    preset_name,
    problems,
)

CUSTOM = "(custom)"
PRESET_NOTES: dict[str, str] = {  # one line under the preset picker
    "book": "Deep Learning with Python, 1st ed.: the last conv layer is (None, 3, 3, 64).",
    "book2": "2nd ed.: 128 filters in the last conv, straight to the classifier.",
    "no_pooling": "The book without max pooling: big maps, small receptive fields, many parameters.",
    "tiny": "Two small blocks: quick to train, still well above 95%.",
    "global_avg": "Averages each of the 64 maps to one number: where a feature is gets lost.",
    "one_by_one": "A fourth block shrinks the map to 1×1: its one position sees the whole digit.",
}
FILTER_CHOICES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
DENSE_CHOICES = (0, 8, 16, 32, 64, 128, 256, 512)
NEW_BLOCK = ConvBlock(64, pool=False)


def _block_keys(prefix: str, i: int) -> dict[str, str]:
    fields = ("filters", "kernel_size", "strides", "padding", "pool", "pool_type", "batch_norm")
    return {name: f"{prefix}_b{i}_{name}" for name in fields}


def _load(prefix: str, spec: NetworkSpec, overwrite: bool) -> None:
    """Put `spec` into the editor's widget state (only missing keys unless `overwrite`)."""
    ss = st.session_state

    def put(key: str, value: object) -> None:
        if overwrite or key not in ss:
            ss[key] = value

    put(f"{prefix}_preset", preset_name(spec) or CUSTOM)
    put(f"{prefix}_n_blocks", len(spec.blocks))
    for i in range(MAX_BLOCKS):
        block = spec.blocks[i] if i < len(spec.blocks) else NEW_BLOCK
        for field, key in _block_keys(prefix, i).items():
            put(key, getattr(block, field))
    put(f"{prefix}_head", spec.head)
    put(f"{prefix}_dense_units", spec.dense_units)
    put(f"{prefix}_dropout", float(spec.dropout))


def _read(prefix: str) -> NetworkSpec:
    ss = st.session_state
    blocks = tuple(
        ConvBlock(**{field: ss.get(key, getattr(NEW_BLOCK, field)) for field, key in _block_keys(prefix, i).items()})
        for i in range(ss[f"{prefix}_n_blocks"])
    )
    return NetworkSpec(
        blocks=blocks,
        head=ss[f"{prefix}_head"],
        dense_units=ss[f"{prefix}_dense_units"],
        dropout=round(float(ss[f"{prefix}_dropout"]), 2),
    )


def _on_preset(prefix: str) -> None:
    name = st.session_state[f"{prefix}_preset"]
    if name in PRESETS:
        _load(prefix, PRESETS[name], overwrite=True)


def _on_edit(prefix: str) -> None:
    # Keep the preset box honest: it names a preset only while the network equals it.
    st.session_state[f"{prefix}_preset"] = preset_name(_read(prefix)) or CUSTOM


def _choices(standard: tuple[int, ...], current: int) -> list[int]:
    return sorted({*standard, current})


def spec_editor(prefix: str, initial: NetworkSpec) -> tuple[NetworkSpec, list[str]]:
    """Widgets for every field of a network; returns the edited spec and its problems."""
    _load(prefix, initial, overwrite=False)
    ss = st.session_state
    edit = dict(on_change=_on_edit, args=(prefix,))

    st.selectbox(
        "Start from a preset",
        [*PRESETS, CUSTOM],
        key=f"{prefix}_preset",
        on_change=_on_preset,
        args=(prefix,),
        help="Loads a whole network; any change below makes it custom.",
    )
    chosen = ss[f"{prefix}_preset"]
    if chosen in PRESET_NOTES:
        st.caption(PRESET_NOTES[chosen])
    st.slider("Conv blocks", MIN_BLOCKS, MAX_BLOCKS, key=f"{prefix}_n_blocks", **edit)

    for i in range(ss[f"{prefix}_n_blocks"]):
        keys = _block_keys(prefix, i)
        with st.expander(f"Block {i + 1}", expanded=i < 3):
            st.select_slider(
                "Filters", _choices(FILTER_CHOICES, ss[keys["filters"]]), key=keys["filters"], **edit
            )
            left, right = st.columns(2)
            left.selectbox("Kernel", KERNEL_SIZES, key=keys["kernel_size"], format_func=lambda k: f"{k}×{k}", **edit)
            right.selectbox("Stride", STRIDES, key=keys["strides"], **edit)
            left.selectbox("Padding", PADDINGS, key=keys["padding"], **edit)
            # Full width: in half the sidebar these labels were cut off ("2×2 max …", "Batch…").
            st.checkbox("Batch normalization after the conv", key=keys["batch_norm"], **edit)
            st.checkbox("2×2 pooling after the conv", key=keys["pool"], **edit)
            st.radio("Pooling keeps", POOL_TYPES, key=keys["pool_type"], horizontal=True,
                     format_func={"max": "the maximum", "avg": "the average"}.__getitem__,
                     disabled=not ss[keys["pool"]], **edit)

    st.radio(
        "Head",
        HEADS,
        key=f"{prefix}_head",
        horizontal=True,
        format_func=lambda h: {"flatten": "Flatten", "global_avg": "Global average"}[h],
        **edit,
    )
    st.select_slider(
        "Hidden dense units",
        _choices(DENSE_CHOICES, min(max(ss[f"{prefix}_dense_units"], 0), MAX_DENSE_UNITS)),
        key=f"{prefix}_dense_units",
        **edit,
    )
    st.slider("Dropout", 0.0, MAX_DROPOUT, step=0.05, key=f"{prefix}_dropout", **edit)

    spec = _read(prefix)
    return spec, problems(spec)

