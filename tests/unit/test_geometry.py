"""`dashboard.network.geometry`: shapes, parameters, formulas and receptive fields worked out by hand."""

from __future__ import annotations

import ast
import operator
import re

import pytest

from dashboard.network.geometry import GeometryError, Layer, analyse, layer_from_config, square


def formula_value(formula: str) -> int:
    """Evaluate a `params_formula`'s arithmetic (left of '='), ignoring words and (remarks)."""
    left = re.sub(r"\([^)]*\)", "", formula.split("=")[0])
    expr = re.sub(r"[^0-9×+ ]", "", left.replace(",", "")).replace("×", "*")
    ops = {ast.Mult: operator.mul, ast.Add: operator.add}

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise ValueError(f"not arithmetic: {formula!r}")

    return ev(ast.parse(expr.strip() or "0", mode="eval").body)


def conv(k=3, s=1, padding="valid", d=1, filters=8, **kw) -> Layer:
    pair = k if isinstance(k, tuple) else (k, k)
    return Layer("Conv2D", filters=filters, kernel_size=pair, strides=(s, s), padding=padding, dilation_rate=(d, d), **kw)


def pool(kind="MaxPooling2D", size=2, s=None, padding="valid") -> Layer:
    return Layer(kind, pool_size=(size, size), strides=(s or size,) * 2, padding=padding)


def geo(infos):
    return [(i.output_shape, square(i.receptive_field), square(i.jump), i.start[0]) for i in infos]


def test_dilated_convs_widen_the_field_without_striding():
    # span of a 3×3 kernel at dilation 2 is 5: 28 → 24 → 20; fields 5 then 9; centres at 2, then 4
    infos = analyse((28, 28, 1), [conv(d=2), conv(d=2)])
    assert geo(infos) == [((None, 24, 24, 8), 5, 1, 2.0), ((None, 20, 20, 8), 9, 1, 4.0)]
    assert infos[1].window(0, 0) == (0, 0, 8, 8)


def test_average_pooling_3x3_stride_2():
    # conv 3×3: 26, field 3, centre 1; avg pool 3 stride 2: (26-3)//2+1 = 12, field 3+2 = 5, jump 2, centre 2
    infos = analyse((28, 28, 1), [conv(), pool("AveragePooling2D", 3, 2)])
    assert geo(infos)[1] == ((None, 12, 12, 8), 5, 2, 2.0)
    assert infos[1].params == 0 and infos[1].params_formula == "0"


def test_strided_5x5_then_3x3():
    infos = analyse((28, 28, 1), [conv(5, 2), conv(3)])
    assert geo(infos) == [((None, 12, 12, 8), 5, 2, 2.0), ((None, 10, 10, 8), 9, 2, 4.0)]


def test_same_padding_puts_the_odd_pixel_after():
    # k4 s2 'same' on 28: 14 outputs, 2 padding pixels, 1 before → unit 0 covers pixels -1..2
    even = analyse((28, 28, 1), [conv(4, 2, "same")])[0]
    assert (even.output_shape, even.start) == ((None, 14, 14, 8), (0.5, 0.5))
    assert even.window(0, 0) == (0, 0, 2, 2)
    # k3 s2 'same' on 28: 1 padding pixel, after → unit 0 covers 0..2, the last one 26..28 (clipped to 27)
    odd = analyse((28, 28, 1), [conv(3, 2, "same")])[0]
    assert odd.window(0, 0) == (0, 0, 2, 2) and odd.window(13, 13) == (26, 26, 27, 27)
    # max pool 2 'same' on a 5×5 map: 3 outputs, the padding after the last row
    pooled = analyse((5, 5, 1), [pool(padding="same")])[0]
    assert pooled.output_shape == (None, 3, 3, 1) and pooled.start == (0.5, 0.5)


def test_non_square_kernel_reports_rows_and_cols():
    info = analyse((28, 28, 1), [conv((3, 5))])[0]
    assert info.output_shape == (None, 26, 24, 8)
    assert square(info.receptive_field) == [3, 5] and info.params == 3 * 5 * 8 + 8


def test_formulas_of_the_book_network():
    layers = [conv(filters=32), pool(), conv(filters=64), pool(), conv(filters=64), Layer("Flatten"),
              Layer("Dense", units=64), Layer("Dense", units=10)]
    infos = analyse((28, 28, 1), layers)
    assert infos[4].params_formula == "3×3×64 weights per filter × 64 filters + 64 biases = 36,928"
    assert infos[6].params_formula == "576×64 + 64 = 36,928"
    assert [i.name for i in infos] == ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2",
                                       "flatten", "dense", "dense_1"]
    assert sum(i.params for i in infos) == 93_322
    assert all(formula_value(i.params_formula) == i.params for i in infos)
    # everything after the last map sees the union of its windows: rows 0..25
    assert [square(i.receptive_field) for i in infos[5:]] == [26, 26, 26] and infos[5].jump is None


def test_batch_norm_counts_its_moving_statistics():
    infos = analyse((28, 28, 1), [conv(filters=16), Layer("BatchNormalization"),
                                  Layer("BatchNormalization", center=False)])
    assert (infos[1].params, infos[1].non_trainable_params) == (64, 32)
    assert infos[1].params_formula.startswith("4×16 (γ, β, moving mean, moving variance per channel) = 64")
    assert infos[2].params == 48 and formula_value(infos[2].params_formula) == 48
    assert square(infos[1].receptive_field) == 3  # per-channel: the geometry passes through


def test_conv_without_bias():
    info = analyse((28, 28, 1), [conv(filters=4, use_bias=False)])[0]
    assert info.params == 36 and info.params_formula == "3×3×1 weights per filter × 4 filters = 36"


def test_flat_input_reshaped_to_an_image_gets_its_positions_back():
    infos = analyse((784,), [Layer("Rescaling"), Layer("Reshape", target_shape=(28, 28, 1)), conv()])
    assert infos[0].jump is None and square(infos[0].receptive_field) == 28
    assert (infos[1].output_shape, square(infos[1].jump), square(infos[1].receptive_field)) == ((None, 28, 28, 1), 1, 1)
    assert geo(infos)[2] == ((None, 26, 26, 8), 3, 1, 1.0)


def test_dense_network_on_flat_pixels_sees_everything():
    infos = analyse((28, 28), [Layer("Flatten"), Layer("Dense", units=512), Layer("Dense", units=10)])
    assert [i.output_shape for i in infos] == [(None, 784), (None, 512), (None, 10)]
    assert [i.params for i in infos] == [0, 784 * 512 + 512, 5130]
    assert all(square(i.receptive_field) == 28 and i.jump is None for i in infos)


def test_dense_on_a_map_mixes_channels_only_and_global_pooling_mixes_positions():
    infos = analyse((28, 28, 1), [conv(), Layer("Dense", units=5), Layer("GlobalMaxPooling2D", keepdims=True)])
    assert infos[1].output_shape == (None, 26, 26, 5) and square(infos[1].jump) == 1
    assert infos[1].params == 8 * 5 + 5
    assert infos[2].output_shape == (None, 1, 1, 5) and infos[2].jump is None
    assert square(infos[2].receptive_field) == 28


def test_layer_from_config_reads_keras_configs_as_data():
    layer = layer_from_config("Conv2D", {"name": "c", "filters": 4, "kernel_size": [3, 3], "strides": [1, 1],
                                         "padding": "same", "dilation_rate": [2, 2], "use_bias": False})
    assert (layer.kernel_size, layer.dilation_rate, layer.use_bias, layer.name) == ((3, 3), (2, 2), False, "c")
    pooled = layer_from_config("AveragePooling2D", {"pool_size": 3, "strides": None})
    assert pooled.strides == (3, 3)
    with pytest.raises(GeometryError, match="Lambda"):
        layer_from_config("Lambda", {})
    with pytest.raises(GeometryError, match="channels_last"):
        layer_from_config("Conv2D", {"filters": 1, "kernel_size": 3, "data_format": "channels_first"})


@pytest.mark.parametrize(
    ("shape", "layers", "message"),
    [
        ((28, 28, 1), [conv(7), conv(7), conv(7), conv(7), conv(7)], "does not fit"),
        ((784,), [conv()], "needs a 4-D input"),
        ((784,), [Layer("Reshape", target_shape=(27, 27, 1))], "cannot reshape"),
        ((28, 28, 1), [Layer("Lambda")], "not one this app can read"),
        ((28, 28, 3), [conv(filters=4, groups=2)], "groups"),
    ],
)
def test_chains_keras_would_refuse_are_refused(shape, layers, message):
    with pytest.raises(GeometryError, match=message):
        analyse(shape, layers)


def test_the_largest_valid_network_is_counted_without_weights():
    layers = [conv(7, padding="same", filters=256) for _ in range(6)] + [Layer("Flatten"), Layer("Dense", units=512),
                                                                         Layer("Dense", units=10)]
    infos = analyse((28, 28, 1), layers)
    assert sum(i.params for i in infos) == 118_836_490
