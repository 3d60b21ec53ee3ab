"""The home and Architecture texts about a network agree with its numbers (geometry and Keras)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec, final_map, geometry
from dashboard.network.summaries import summarize
from dashboard.views import network_text

TWO_BLOCKS = replace(BOOK, blocks=BOOK.blocks[:2])  # conv32-pool · conv64-pool
FOUR_BLOCKS = replace(BOOK, blocks=(*BOOK.blocks, ConvBlock(64, pool=False)))  # the editor's fourth block


def flatten_size(spec: NetworkSpec) -> int:
    """What `flatten` (or global averaging) outputs, from the summary rows."""
    row = next(r for r in summarize(spec) if r.type in ("Flatten", "GlobalAveragePooling2D"))
    return row.output_shape[-1]


def test_book_text_names_the_last_map_and_its_numbers():
    text = network_text.map_text(BOOK)
    assert text.startswith("Each of the 3×3 positions of `conv2d_2` sees an 18×18 window of the 28×28 digit")
    assert "(rows 0–17 for the top-left one)" in text and "clipped" not in text
    assert "neighbouring positions are 4 pixels apart" in text
    assert "this 3×3×64 map flattened: 64 channels × 9 positions = **576 numbers**" in text
    assert network_text.head_inputs(BOOK) == flatten_size(BOOK) == 576


def test_two_blocks_the_classifier_reads_the_pooled_map_with_its_own_size():
    text = network_text.map_text(TWO_BLOCKS)
    assert "Each of the 11×11 positions of `conv2d_1` sees an 8×8 window" in text
    assert "neighbouring positions are 2 pixels apart" in text
    assert "the 5×5×64 output of `max_pooling2d_1`" in text
    assert "64 channels × 25 positions = **1,600 numbers**" in text
    assert "11×11 positions" not in network_text.classifier_text(TWO_BLOCKS)
    assert network_text.head_inputs(TWO_BLOCKS) == flatten_size(TWO_BLOCKS) == 1_600


def test_four_blocks_one_position_is_singular_and_has_no_neighbours():
    assert final_map(FOUR_BLOCKS) == (1, 64)
    text = network_text.map_text(FOUR_BLOCKS)
    assert text.startswith("The single position of `conv2d_3` sees a 26×26 window of the 28×28 digit")
    assert "pixels apart" not in text and "pixel apart" not in text and "positions" not in text
    assert "64 channels × 1 position = **64 numbers**" in text
    assert network_text.head_inputs(FOUR_BLOCKS) == flatten_size(FOUR_BLOCKS) == 64


def test_a_window_larger_than_the_digit_is_said_to_be_clipped():
    geo = next(g for g in geometry(PRESETS["one_by_one"]) if g.name == "conv2d_3")
    assert geo.receptive_field == 38
    assert "a 38×38 window of the 28×28 digit (clipped to the image: rows 0–27" in network_text.positions_text(geo)


def test_global_averaging_keeps_one_number_per_channel():
    spec = PRESETS["global_avg"]
    text = network_text.classifier_text(spec)
    assert "Global averaging turns this 3×3×64 map into **64 numbers**, one per channel" in text
    assert network_text.head_inputs(spec) == flatten_size(spec) == 64
    one = replace(spec, blocks=(*spec.blocks[:2], ConvBlock(1, pool=False)))
    assert "into **1 number**, one per channel" in network_text.classifier_text(one)


def test_why_dense_layers_see_26_not_28():
    text = network_text.unseen_text(BOOK)
    dense = next(r for r in summarize(BOOK) if r.name == "dense")
    assert dense.receptive_field == 26
    assert text.startswith("Why 26, not 28,")
    assert "rows 0–25" in text
    assert "`max_pooling2d_1` turns the 11×11 map of `conv2d_1` into 5×5 (2×2 pooling rounds down)" in text
    assert "its last row and column, the only ones that saw rows 26–27 of the digit" in text
    assert network_text.unseen_text(PRESETS["no_pooling"]) is None  # sees all 28 rows


def test_several_layers_that_drop_rows_are_all_named():
    spec = NetworkSpec(blocks=(ConvBlock(8, strides=2), ConvBlock(8, pool=False)))  # 28 → 13 → 6 → 4
    dense_field = next(r for r in summarize(spec) if r.type == "Flatten").receptive_field
    text = network_text.unseen_text(spec)
    assert text.startswith(f"Why {dense_field}, not 28,")
    assert "`conv2d` turns the 28×28 digit into 13×13 (its stride rounds down)" in text
    assert "`max_pooling2d` turns the 13×13 map of `conv2d` into 6×6 (2×2 pooling rounds down)" in text
    assert f"rows {dense_field}–27" in text


@pytest.mark.slow
def test_keras_agrees_rows_26_and_27_never_reach_the_classifier():
    """The gradient of the book network's flattened map with respect to the digit is zero on rows
    26–27 and columns 26–27, and not zero on every other row: the 26 of the text is Keras's too."""
    import tensorflow as tf

    from dashboard.training.model import build_model

    model = build_model(BOOK)
    flatten = next(layer for layer in model.layers if layer.name == "flatten")
    features = tf.keras.Model(model.inputs, flatten.output)
    assert features.output_shape[-1] == network_text.head_inputs(BOOK)
    digits = tf.constant(np.random.default_rng(0).random((8, 28, 28, 1)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(digits)
        total = tf.reduce_sum(tf.abs(features(digits)))
    reach = np.abs(tape.gradient(total, digits).numpy()).sum(axis=(0, 3))  # (28, 28)
    assert np.all(reach[26:, :] == 0) and np.all(reach[:, 26:] == 0)
    assert np.all(reach[:26, :26].sum(axis=1) > 0) and np.all(reach[:26, :26].sum(axis=0) > 0)


def test_the_table_formula_keeps_the_numbers_of_the_full_one():
    from dashboard.network.summaries import short_formula

    conv = next(r for r in summarize(BOOK) if r.name == "conv2d_2")
    assert conv.params_formula == "3×3×64 weights per filter × 64 filters + 64 biases = 36,928"
    assert short_formula(conv.params_formula) == "3×3×64 × 64 + 64 = 36,928"
    assert eval(short_formula(conv.params_formula).split(" = ")[0].replace("×", "*")) == conv.params
