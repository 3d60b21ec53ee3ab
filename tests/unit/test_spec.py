"""The network description: parsing, validation messages, geometry and presets."""

from __future__ import annotations

import json

import pytest

from dashboard.network.spec import (
    BOOK,
    PRESETS,
    ConvBlock,
    NetworkSpec,
    SpecError,
    final_map,
    geometry,
    layer_names,
    preset_name,
    problems,
)

ISSUE_EXAMPLE = {
    "blocks": [
        {"filters": 32, "kernel_size": 3, "strides": 1, "padding": "valid", "pool": True},
        {"filters": 64, "kernel_size": 3, "strides": 1, "padding": "valid", "pool": True},
        {"filters": 64, "kernel_size": 3, "strides": 1, "padding": "valid", "pool": False},
    ],
    "head": "flatten",
    "dense_units": 64,
    "dropout": 0.0,
}


def test_issue_example_is_the_book_network():
    assert NetworkSpec.from_dict(ISSUE_EXAMPLE) == BOOK
    assert BOOK.to_dict() == ISSUE_EXAMPLE


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip_through_json(name):
    spec = PRESETS[name]
    assert problems(spec) == []
    assert NetworkSpec.from_json(spec.to_json()) == spec
    assert preset_name(spec) == name


def test_canonical_json_ignores_key_order():
    shuffled = json.dumps(dict(reversed(list(ISSUE_EXAMPLE.items()))))
    assert NetworkSpec.from_json(shuffled).to_json() == BOOK.to_json()


def test_defaults_fill_missing_optional_keys():
    spec = NetworkSpec.from_dict({"blocks": [{"filters": 8}]})
    assert spec == NetworkSpec(blocks=(ConvBlock(8),), head="flatten", dense_units=64, dropout=0.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"blocks": [{"filters": 32}], "colour": "red"}, "unknown key(s) 'colour'", id="unknown-top-key"),
        pytest.param({"blocks": [{"filters": 32, "size": 3}]}, "block 1: unknown key(s) 'size'", id="unknown-block-key"),
        pytest.param({"blocks": [{"filters": "32"}]}, "block 1: 'filters' must be a whole number", id="string-filters"),
        pytest.param({"blocks": [{"filters": 32.5}]}, "'filters' must be a whole number", id="float-filters"),
        pytest.param({"blocks": [{"filters": True}]}, "'filters' must be a whole number, got true", id="bool-filters"),
        pytest.param({"blocks": [{"filters": 8, "pool": 1}]}, "'pool' must be true or false", id="int-pool"),
        pytest.param({"blocks": "conv"}, "'blocks' must be a list", id="blocks-not-list"),
        pytest.param({"head": "flatten"}, "missing key 'blocks'", id="no-blocks"),
        pytest.param([1, 2], "expected an object", id="not-an-object"),
        pytest.param({"blocks": [5]}, "block 1: expected an object", id="block-not-object"),
        pytest.param({"blocks": [{"filters": 8}], "dropout": "0.5"}, "'dropout' must be a number", id="string-dropout"),
    ],
)
def test_malformed_json_is_refused_with_a_clear_message(data, message):
    with pytest.raises(SpecError) as err:
        NetworkSpec.from_dict(data)
    assert message in str(err.value)


def test_bad_json_text_is_refused():
    with pytest.raises(SpecError, match="not valid JSON"):
        NetworkSpec.from_json("{blocks: [")


def _blocks(*blocks: ConvBlock) -> NetworkSpec:
    return NetworkSpec(blocks=blocks)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(NetworkSpec(blocks=()), "needs 1 to 6 conv blocks, not 0", id="no-blocks"),
        pytest.param(_blocks(*[ConvBlock(8, padding="same", pool=False)] * 7), "not 7", id="seven-blocks"),
        pytest.param(_blocks(ConvBlock(0)), "block 1: filters must be 1 to 256, not 0", id="zero-filters"),
        pytest.param(_blocks(ConvBlock(257)), "block 1: filters must be 1 to 256, not 257", id="too-many-filters"),
        pytest.param(_blocks(ConvBlock(8, kernel_size=4)), "block 1: kernel size must be one of", id="even-kernel"),
        pytest.param(_blocks(ConvBlock(8, strides=3)), "block 1: strides must be 1 or 2", id="stride-3"),
        pytest.param(_blocks(ConvBlock(8, padding="full")), "padding must be 'valid' or 'same'", id="bad-padding"),
        pytest.param(NetworkSpec(blocks=(ConvBlock(8),), head="max"), "head must be one of", id="bad-head"),
        pytest.param(NetworkSpec(blocks=(ConvBlock(8),), dense_units=513), "dense_units must be 0 to 512", id="wide-dense"),
        pytest.param(NetworkSpec(blocks=(ConvBlock(8),), dropout=0.9), "dropout must be 0 to 0.8", id="big-dropout"),
        pytest.param(NetworkSpec(blocks=(ConvBlock(8),), dropout=float("nan")), "dropout must be", id="nan-dropout"),
        pytest.param(
            _blocks(*[ConvBlock(8, padding="same")] * 4, ConvBlock(8, padding="same", pool=True)),
            "block 5: max pooling would shrink 1×1 to 0×0",
            id="pool-to-zero",
        ),
        pytest.param(
            _blocks(ConvBlock(8), ConvBlock(8), ConvBlock(8, kernel_size=7)),
            "block 3: a 7×7 kernel does not fit the 5×5 map",
            id="kernel-too-big",
        ),
    ],
)
def test_invalid_networks_name_the_block_and_reason(spec, message):
    found = problems(spec)
    assert any(message in p for p in found), found
    with pytest.raises(SpecError):
        NetworkSpec.from_dict(spec.to_dict())


def test_every_problem_is_reported_not_just_the_first():
    spec = _blocks(ConvBlock(0, kernel_size=4), ConvBlock(999, strides=5))
    found = problems(spec)
    assert len(found) == 4
    assert [p.split(":")[0] for p in found] == ["block 1", "block 1", "block 2", "block 2"]


@pytest.mark.parametrize(
    ("spec", "fields", "jumps"),
    [
        pytest.param(BOOK, [3, 4, 8, 10, 18], [1, 2, 2, 4, 4], id="book"),
        pytest.param(PRESETS["no_pooling"], [3, 5, 7], [1, 1, 1], id="no-pooling"),
        pytest.param(_blocks(ConvBlock(8, kernel_size=5, strides=2, pool=False), ConvBlock(8, kernel_size=3)),
                     [5, 9, 11], [2, 2, 4], id="strided-5x5"),
        pytest.param(_blocks(ConvBlock(8, kernel_size=7, padding="same")), [7, 8], [1, 2], id="same-7x7"),
        pytest.param(_blocks(ConvBlock(8, kernel_size=1, pool=False)), [1], [1], id="1x1"),
    ],
)
def test_receptive_fields_match_hand_worked_cases(spec, fields, jumps):
    maps = [g for g in geometry(spec) if g.size is not None]
    assert [g.receptive_field for g in maps] == fields
    assert [g.jump for g in maps] == jumps


def test_book_last_conv_cells_see_18x18_windows_of_the_digit():
    last = [g for g in geometry(BOOK) if g.name == "conv2d_2"][0]
    assert (last.size, last.channels) == (3, 64)
    assert last.window(0, 0) == (0, 0, 17, 17)
    assert last.window(1, 1) == (4, 4, 21, 21)
    assert last.window(2, 2) == (8, 8, 25, 25)  # rows 26-27 fall off in the floor of max pooling


def test_windows_are_clipped_to_the_input():
    spec = _blocks(ConvBlock(8, kernel_size=7, padding="same", pool=False))
    conv = geometry(spec)[0]
    assert conv.window(0, 0) == (0, 0, 3, 3)  # a 7×7 window centred on pixel 0
    assert conv.window(27, 27) == (24, 24, 27, 27)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("book", ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2", "flatten", "dense", "dense_1"]),
        ("book2", ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2", "flatten", "dense"]),
        ("global_avg", ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2",
                        "global_average_pooling2d", "dense", "dense_1"]),
    ],
)
def test_layer_names_follow_a_fresh_keras_session(name, expected):
    assert layer_names(PRESETS[name]) == expected


@pytest.mark.parametrize(
    ("name", "final"),
    [("book", (3, 64)), ("book2", (3, 128)), ("no_pooling", (22, 64)), ("tiny", (5, 16)), ("one_by_one", (1, 64))],
)
def test_final_map(name, final):
    assert final_map(PRESETS[name]) == final


def test_describe_is_short_and_distinguishes_presets():
    texts = {spec.describe() for spec in PRESETS.values()}
    assert len(texts) == len(PRESETS)
    assert BOOK.describe() == "conv32-pool · conv64-pool · conv64 → flatten → 64"


def test_with_block_changes_one_block_and_keeps_the_original():
    changed = BOOK.with_block(0, filters=16)
    assert changed.blocks[0].filters == 16 and BOOK.blocks[0].filters == 32
    assert changed.blocks[1:] == BOOK.blocks[1:]
