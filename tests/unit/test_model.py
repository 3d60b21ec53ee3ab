"""Keras models from specs, checked against Keras itself."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from keras import layers

from dashboard.network.geometry import GeometryError, analyse, layer_from_config
from dashboard.network.spec import BOOK, KERNEL_SIZES, PRESETS, ConvBlock, NetworkSpec, SpecError, geometry, problems
from dashboard.network.summaries import preset_summaries, summarize
from dashboard.training.model import activation_model, build_model, forward_all, keras_rows
from tests.unit.test_geometry import formula_value


def independent_keras_model(spec: NetworkSpec) -> keras.Model:
    """The same network written out with plain Keras, without the project's builder or names."""
    model = keras.Sequential([keras.Input((28, 28, 1))])
    for b in spec.blocks:
        model.add(layers.Conv2D(b.filters, b.kernel_size, strides=b.strides, padding=b.padding, activation="relu"))
        if b.pool:
            model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten() if spec.head == "flatten" else layers.GlobalAveragePooling2D())
    if spec.dense_units:
        model.add(layers.Dense(spec.dense_units, activation="relu"))
    if spec.dropout:
        model.add(layers.Dropout(spec.dropout))
    model.add(layers.Dense(10, activation="softmax"))
    return model


def keras_summary_total(model: keras.Model) -> int:
    """The 'Total params' line of model.summary()."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    total = next(line for line in "\n".join(lines).splitlines() if "Total params" in line)
    return int(total.split(":")[1].split("(")[0].replace(",", "").strip())


def test_book_network_matches_the_book():
    rows = summarize(BOOK)
    assert [r.params for r in rows if r.params] == [320, 18_496, 36_928, 36_928, 650]
    assert sum(r.params for r in rows) == 93_322 == keras_summary_total(build_model(BOOK))
    conv = rows[4]
    assert (conv.name, conv.type, conv.output_shape, conv.params) == ("conv2d_2", "Conv2D", (None, 3, 3, 64), 36_928)
    assert [r.receptive_field for r in rows[:5]] == [3, 4, 8, 10, 18]


@pytest.mark.parametrize(("name", "total"), [("book", 93_322), ("book2", 104_202)])
def test_book_editions_total_params(name, total):
    assert sum(r.params for r in summarize(PRESETS[name])) == total


def test_names_do_not_depend_on_what_the_process_built_before():
    for _ in range(3):
        independent_keras_model(BOOK)  # would bump Keras's automatic counters
    names = [layer.name for layer in build_model(BOOK).layers]
    assert names[:5] == ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2"]


@pytest.mark.slow  # a fresh process, ~8 s
def test_names_equal_a_fresh_keras_sessions_names():
    """In a new interpreter, plain Keras names each preset's layers exactly as we do."""
    specs = {name: spec.to_dict() for name, spec in PRESETS.items()}
    script = textwrap.dedent(
        f"""
        import json, keras
        from dashboard.network.spec import NetworkSpec
        from tests.unit.test_model import independent_keras_model
        out = {{}}
        for name, data in json.loads({json.dumps(json.dumps(specs))}).items():
            keras.backend.clear_session()
            out[name] = [l.name for l in independent_keras_model(NetworkSpec.from_dict(data)).layers]
        print(json.dumps(out))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    fresh = json.loads(result.stdout.strip().splitlines()[-1])
    for name, spec in PRESETS.items():
        assert [layer.name for layer in build_model(spec).layers] == fresh[name], name


def test_invalid_spec_is_not_built():
    with pytest.raises(SpecError, match="block 1: filters"):
        build_model(NetworkSpec(blocks=(ConvBlock(0),)))


def test_networks_over_the_training_caps_are_not_built():
    largest = NetworkSpec(blocks=(ConvBlock(256, 7, padding="same", pool=False),) * 6, dense_units=512)
    with pytest.raises(SpecError, match="118,836,490 parameters"):
        build_model(largest)
    assert build_model(PRESETS["no_pooling"]).count_params() == 2_038_922  # the biggest preset still builds


@st.composite
def valid_specs(draw):
    blocks = tuple(
        ConvBlock(
            filters=draw(st.integers(1, 24)),
            kernel_size=draw(st.sampled_from(KERNEL_SIZES)),
            strides=draw(st.sampled_from((1, 2))),
            padding=draw(st.sampled_from(("valid", "same"))),
            pool=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(1, 6)))
    )
    spec = NetworkSpec(
        blocks=blocks,
        head=draw(st.sampled_from(("flatten", "global_avg"))),
        dense_units=draw(st.sampled_from((0, 1, 17, 64))),
        dropout=draw(st.sampled_from((0.0, 0.3))),
    )
    assume(not problems(spec))
    return spec


@pytest.mark.slow  # 40 Keras models, ~6 s
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(valid_specs())
def test_random_valid_specs_match_an_independent_keras_model(spec):
    ours = summarize(spec)  # pure Python: no model built
    theirs = independent_keras_model(spec)
    assert [r.output_shape for r in ours] == [tuple(layer.output.shape) for layer in theirs.layers]
    assert [r.params for r in ours] == [layer.count_params() for layer in theirs.layers]
    assert [formula_value(r.params_formula) for r in ours] == [r.params for r in ours]
    assert sum(r.params for r in ours) == keras_summary_total(theirs)
    # The geometry's sizes (used for validation) agree with Keras too.
    sizes = [g.size for g in geometry(spec)]
    assert sizes == [s[1] if len(s) == 4 else None for s in (r.output_shape for r in ours)]


def test_activation_model_returns_every_map_and_the_probabilities():
    model = build_model(BOOK)
    maps, probs = forward_all(activation_model(model), np.zeros((2, 28, 28, 1), np.float32))
    assert [m.shape for m in maps] == [(2, 26, 26, 32), (2, 13, 13, 32), (2, 11, 11, 64), (2, 5, 5, 64), (2, 3, 3, 64)]
    assert [layer.name for layer in model.layers][:5] == ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2"]
    assert probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_preset_summaries_are_what_keras_says():
    def without_formula(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "params_formula"} for row in rows]

    for name, spec in PRESETS.items():
        theirs = [row.to_dict() for row in keras_rows(build_model(spec), spec)]
        assert without_formula(preset_summaries()[name]["layers"]) == without_formula(theirs), name
        assert preset_summaries()[name]["total_params"] == build_model(spec).count_params()


# --- the pure routine against real Keras layers, for random chains ---------------------------

PASS_LAYERS = [("Dropout", {"rate": 0.2}), ("SpatialDropout2D", {"rate": 0.2}), ("Activation", {"activation": "tanh"}),
               ("ReLU", {}), ("LeakyReLU", {}), ("Softmax", {}), ("Rescaling", {"scale": 1 / 255})]


@st.composite
def spatial_layer(draw):
    kind = draw(st.sampled_from(["Conv2D", "Conv2D", "MaxPooling2D", "AveragePooling2D", "BatchNormalization", "pass"]))
    if kind == "Conv2D":
        strides = draw(st.sampled_from([1, 2, (1, 2)]))
        dilation = draw(st.sampled_from([1, 2, (2, 1)])) if strides == 1 else 1  # Keras: not both > 1
        kernel = draw(st.sampled_from([1, 2, 3, 5, (3, 1), (2, 4)]))
        return kind, {"filters": draw(st.integers(1, 9)), "kernel_size": kernel, "strides": strides,
                      "padding": draw(st.sampled_from(["valid", "same"])), "dilation_rate": dilation,
                      "use_bias": draw(st.booleans())}
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return kind, {"pool_size": draw(st.sampled_from([1, 2, 3, (2, 3)])),
                      "strides": draw(st.sampled_from([None, 1, 2, 3])),
                      "padding": draw(st.sampled_from(["valid", "same"]))}
    if kind == "BatchNormalization":
        return kind, {"center": draw(st.booleans()), "scale": draw(st.booleans())}
    return draw(st.sampled_from(PASS_LAYERS))


@st.composite
def layer_chains(draw):
    """An input shape and a chain of (Keras class name, config) pairs that Keras can build."""
    flat_input = draw(st.booleans())
    chain = [("Reshape", {"target_shape": (28, 28, 1)})] if flat_input else []
    chain += draw(st.lists(spatial_layer(), min_size=1, max_size=5))
    head = draw(st.sampled_from(["Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Dense"]))
    chain.append((head, {"units": draw(st.integers(1, 20))} if head == "Dense" else {}))
    chain += [("Dense", {"units": u, "use_bias": draw(st.booleans())}) for u in draw(st.lists(st.integers(1, 30), max_size=2))]
    shape = (784,) if flat_input else (28, 28, 1)
    try:
        analyse(shape, [layer_from_config(kind, config) for kind, config in chain])
    except GeometryError:
        assume(False)
    return shape, chain


@pytest.mark.slow  # 60 Keras chains, ~3 s
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(layer_chains())
def test_pure_routine_matches_keras_layers_for_random_chains(shape_and_chain):
    shape, chain = shape_and_chain
    ours = analyse(shape, [layer_from_config(kind, config) for kind, config in chain])
    model = keras.Sequential([keras.Input(shape), *[getattr(layers, kind)(**config) for kind, config in chain]])
    assert [i.output_shape for i in ours] == [tuple(layer.output.shape) for layer in model.layers]
    assert [i.params for i in ours] == [layer.count_params() for layer in model.layers]
    fixed = [sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights) for layer in model.layers]
    assert [i.non_trainable_params for i in ours] == fixed
    assert [formula_value(i.params_formula) for i in ours] == [i.params for i in ours]
    assert sum(i.params for i in ours) == keras_summary_total(model)
