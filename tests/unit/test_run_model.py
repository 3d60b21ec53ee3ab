"""The run model (`dashboard.inspection.run_model`) with Keras as the oracle: every layer numpy computes, imported
chains opened by the one factory (`run_factory.open_run`), and the runs numpy leaves to Keras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from dashboard.inspection import analysis, numpy_layers
from dashboard.inspection.keras_run import KerasRun
from dashboard.inspection.numpy_run import NumpyRun
from dashboard.inspection.run_factory import open_run
from dashboard.mnist.data import load_mnist
from dashboard.modelfiles.modelfile import inspect_model_file
from dashboard.network.keras_layers import describe_layer
from dashboard.store.cache import CacheError, ModelCache
from dashboard.store.imported import make_record
from tests import keras_models as km

ROOT = Path(__file__).resolve().parents[2]
DATA = SimpleNamespace(source="embedded", label="embedded subset", fingerprint="fp-run-model")
# What a notebook feeds under each scaling, written out (not taken from the code under test).
FED = {"unit": lambda u: u, "raw": lambda u: u * 255.0, "standard": lambda u: (u - 0.1307) / 0.3081}


def close(ours: np.ndarray, theirs: np.ndarray, rtol: float = 1e-4) -> None:
    """Equal within `rtol` of the larger values (float32 sums in another order)."""
    theirs = np.asarray(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * max(1.0, float(np.abs(theirs).max())))


def randomise(model: keras.Model, seed: int) -> keras.Model:
    """Random weights everywhere, batch norm's moving statistics included (a trained model's are never 0 and 1)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        arrays = layer.get_weights()
        if isinstance(layer, layers.BatchNormalization):
            names = [w.path.split("/")[-1] for w in layer.weights]
            arrays = [rng.uniform(0.2, 2.0, a.shape) if name == "moving_variance" else
                      rng.uniform(0.5, 1.5, a.shape) if name == "gamma" else rng.normal(0, 0.3, a.shape)
                      for name, a in zip(names, arrays)]
        else:
            arrays = [rng.normal(0, 0.3, a.shape) for a in arrays]
        layer.set_weights([a.astype(np.float32) for a in arrays])
    return model


# --- one layer at a time: forward, and backward against tf.GradientTape -------------------------------------


def one_layer_cases() -> list[tuple[str, object, tuple[int, ...]]]:
    """(id, Keras layer, input shape without the batch axis): every kind and setting numpy computes."""
    acts = [name for name in numpy_layers.ACTIVATIONS if name not in (None, "linear")]
    return [
        ("conv_stride2_same", layers.Conv2D(5, 3, strides=2, padding="same", activation="relu"), (9, 9, 3)),
        ("conv_dilated_valid", layers.Conv2D(4, 3, dilation_rate=2, activation="elu"), (11, 11, 2)),
        ("conv_rect_nobias", layers.Conv2D(3, (3, 2), strides=(2, 1), padding="same", use_bias=False), (8, 7, 2)),
        ("conv_groups", layers.Conv2D(4, 3, groups=2, activation="tanh"), (8, 8, 4)),
        ("max_overlap_same", layers.MaxPooling2D(3, strides=2, padding="same"), (9, 9, 3)),
        ("max_2x2", layers.MaxPooling2D(2), (7, 7, 2)),
        ("avg_same_counts", layers.AveragePooling2D(3, strides=2, padding="same"), (8, 8, 2)),
        ("avg_2x2", layers.AveragePooling2D(2), (6, 6, 2)),
        ("batch_norm", layers.BatchNormalization(epsilon=0.01), (5, 5, 3)),
        ("batch_norm_no_centre", layers.BatchNormalization(center=False), (5, 5, 3)),
        ("batch_norm_no_scale", layers.BatchNormalization(scale=False), (6,)),
        ("relu_capped_leaky", layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2), (4, 4, 2)),
        ("relu6", layers.ReLU(max_value=6.0), (12,)),
        ("leaky_relu", layers.LeakyReLU(negative_slope=0.15), (12,)),
        ("elu_layer", layers.ELU(alpha=0.7), (12,)),
        ("softmax_layer", layers.Softmax(), (4, 4, 5)),
        ("rescaling", layers.Rescaling(1 / 0.3081, -0.1307 / 0.3081), (4, 4, 2)),
        ("reshape", layers.Reshape((4, 8)), (4, 4, 2)),
        ("flatten", layers.Flatten(), (3, 3, 4)),
        ("global_avg", layers.GlobalAveragePooling2D(), (5, 5, 3)),
        ("global_max_keepdims", layers.GlobalMaxPooling2D(keepdims=True), (5, 5, 3)),
        ("dense_on_maps", layers.Dense(4, activation="sigmoid"), (3, 3, 5)),
        ("dropout", layers.Dropout(0.5), (6,)),
        ("spatial_dropout", layers.SpatialDropout2D(0.5), (4, 4, 2)),
        *[(f"activation_{name}", layers.Dense(6, activation=name), (7,)) for name in acts],
    ]


CASES = one_layer_cases()


@pytest.mark.parametrize("layer, shape", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_every_layer_numpy_computes_is_keras_s_forward_and_backward(layer, shape):
    rng = np.random.default_rng(len(shape) + sum(shape))
    layer.build((None, *shape))
    if layer.weights:
        layer.set_weights([rng.uniform(0.2, 1.5, w.shape).astype(np.float32) if "variance" in w.path
                           else rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.weights])
    described = describe_layer(type(layer).__name__, keras.saving.serialize_keras_object(layer)["config"])
    assert numpy_layers.supported(described)
    x = rng.normal(0, 1.0, (3, *shape)).astype(np.float32)
    arrays = [np.asarray(w) for w in layer.get_weights()]
    ours = numpy_layers.forward(described, x, arrays)
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        theirs = layer(variable, training=False)
        weights = tf.constant(rng.normal(0, 1.0, theirs.shape).astype(np.float32))  # a random direction
        score = tf.reduce_sum(theirs * weights)
    close(ours, theirs.numpy())
    close(numpy_layers.backward(described, x, weights.numpy(), arrays), tape.gradient(score, variable).numpy())


@pytest.mark.parametrize("layer", [layers.GlobalMaxPooling2D(), layers.MaxPooling2D(2), layers.MaxPooling2D(3, 2, "same")],
                         ids=["global_max", "max_2x2", "max_overlap"])
def test_ties_after_a_relu_share_the_gradient_as_tensorflow_does(layer):
    """Zeros tie wherever a ReLU switched a channel off: a global max shares the gradient among them, a pool's
    window gives it to its first cell."""
    x = np.maximum(np.random.default_rng(3).normal(0, 1, (2, 6, 6, 3)), 0).astype(np.float32)
    x[:, :, :, 1] = 0.0  # a channel off everywhere
    x[:, :3, :3, 2] = 0.5  # equal values in a block
    described = describe_layer(type(layer).__name__, keras.saving.serialize_keras_object(layer)["config"])
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = layer(variable)
        weights = tf.constant(np.random.default_rng(4).normal(0, 1, out.shape).astype(np.float32))
        score = tf.reduce_sum(out * weights)
    close(numpy_layers.backward(described, x, weights.numpy(), ()), tape.gradient(score, variable).numpy())


def test_layers_numpy_does_not_compute_are_named():
    assert not numpy_layers.supported(describe_layer("Softmax", {"name": "s", "axis": 1}))
    assert not numpy_layers.supported(describe_layer("Dense", {"name": "d", "units": 3, "activation": "hard_silu"}))
    assert not numpy_layers.supported(describe_layer("Add", {"name": "a"}))


# --- imported chains through the one factory -------------------------------------------------------------


def imported_chain() -> keras.Model:
    """Takes (28, 28): reshape, strided 'same' conv, batch norm, dilated conv with a separate ReLU, 'same'
    average pooling, conv, global average, tanh Dense, dropout, softmax."""
    inputs = keras.Input((28, 28))
    x = layers.Reshape((28, 28, 1))(inputs)
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(6, 3, dilation_rate=2, padding="same")(x)
    x = layers.ReLU()(x)
    x = layers.AveragePooling2D(2, padding="same")(x)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(12, activation="tanh")(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def stored(model: keras.Model, tmp_path: Path, scaling: str = "unit", name: str = "model") -> tuple[object, ModelCache]:
    """`model` saved and stored as an imported run (its record made as the import makes it, unmeasured)."""
    data = km.save(model, tmp_path, name, "keras").read_bytes()
    cache = ModelCache(tmp_path / "cache", shipped_root=None)
    record = make_record(inspect_model_file(data, f"{name}.keras"), DATA, scaling, {}, 0.5)
    cache.put_bytes(record, data)
    return cache.get(record.key), cache


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_mnist("embedded").x_test[:40]


@pytest.fixture(scope="module")
def chain_run(tmp_path_factory):
    keras.utils.set_random_seed(4)
    model = randomise(imported_chain(), seed=5)
    record, cache = stored(model, tmp_path_factory.mktemp("chain"), scaling="standard")
    return model, record, open_run(record, cache)


def test_an_imported_chain_is_computed_with_numpy_as_keras_computes_it(chain_run, digits):
    model, record, run = chain_run
    assert isinstance(run, NumpyRun) and run.cache_id == f"{record.key}|standard"
    u = digits.astype(np.float32) / 255.0  # the app's input
    fed = FED["standard"](u)  # what the model itself takes, (n, 28, 28)
    maps = [layer for layer in model.layers if isinstance(layer, (layers.Conv2D, layers.AveragePooling2D))]
    assert [g.name for g in run.map_layers] == [layer.name for layer in maps]
    probe = keras.Model(model.inputs[0], [layer.output for layer in maps])
    ours_maps, ours_probs = run.maps_and_probs(u[..., None])
    for ours, theirs in zip(ours_maps, probe.predict_on_batch(fed), strict=True):
        close(ours, theirs)
    close(ours_probs, model.predict_on_batch(fed), rtol=1e-5)
    close(run.predict_on_batch(u[..., None]), model.predict_on_batch(fed), rtol=1e-5)
    # The final maps and the head that reads them (projections, ablations).
    final = run.final_maps(digits)
    close(final, probe.predict_on_batch(fed)[-1])
    close(run.head(final), model.predict_on_batch(fed), rtol=1e-5)
    assert run.linear_head() is not None  # global average → Dense: the ablations' fast path, exact
    expected = analysis.ablate(model, final, np.arange(len(final)) % 10, run.final_map.name)
    ablation = run.ablate(final, np.arange(len(final)) % 10)
    np.testing.assert_allclose(ablation.zero_one, expected.zero_one)
    np.testing.assert_allclose(ablation.channel_accuracy, expected.channel_accuracy)


def test_the_class_gradient_is_tensorflow_s(chain_run, digits):
    model, _, run = chain_run
    u = digits[7].astype(np.float32) / 255.0
    conv = model.get_layer(run.last_conv.name)
    head = model.layers[model.layers.index(conv) + 1:]
    a = tf.convert_to_tensor(keras.Model(model.inputs[0], conv.output)(FED["standard"](u)[None]))
    for class_index in (None, 3):
        with tf.GradientTape() as tape:
            tape.watch(a)
            x = a
            for layer in head[:-1]:
                x = layer(x, training=False)
            logits = tf.matmul(x, head[-1].kernel) + head[-1].bias  # the final Dense before its softmax
            chosen = int(tf.argmax(logits[0])) if class_index is None else class_index
            score = logits[0, chosen]
        ours_a, ours_grad, ours_logits, ours_class, name = run.class_gradient(u[None, :, :, None], class_index)
        assert (ours_class, name) == (chosen, conv.name)
        close(ours_a, a[0].numpy())
        close(ours_grad, tape.gradient(score, a)[0].numpy())
        close(ours_logits, logits[0].numpy())
    cam = run.grad_cam(digits[7], 3)
    assert cam.heatmap.shape == (28, 28) and cam.class_index == 3 and cam.layer_name == conv.name


def test_the_channel_atlas_climbs_tensorflow_s_gradient(chain_run, digits):
    model, _, run = chain_run
    names = [g.name for g in run.channel_layers]
    assert names == [layer.name for layer in model.layers if isinstance(layer, layers.Conv2D)
                     and layer.activation is keras.activations.relu and layer.dilation_rate == (1, 1)]
    for name in names:
        conv = model.get_layer(name)
        x = np.random.default_rng(1).uniform(0.3, 0.7, (conv.filters, 28, 28, 1)).astype(np.float32)
        means, grad = run.network.response_gradient(name, x)
        variable = tf.Variable(FED["standard"](x[..., 0]))
        before = keras.Model(model.inputs[0], conv.input)
        with tf.GradientTape() as tape:
            z = tf.nn.conv2d(before(variable), conv.kernel, conv.strides, conv.padding.upper()) + conv.bias
            score = tf.reduce_sum(tf.reduce_mean(z, axis=(1, 2)) * tf.eye(conv.filters))
        close(means, np.diagonal(tf.reduce_mean(z, axis=(1, 2)).numpy()))
        close(grad[..., 0], tape.gradient(score, variable).numpy() / 0.3081)  # d(pixels) = d(fed) / std
    atlas = run.atlas(names[-1], digits)
    assert atlas.patterns.shape == (8, 28, 28) and atlas.windows.crops.shape[:2] == (8, 9)
    body = keras.Model(model.inputs[0], model.get_layer(names[-1]).output)
    found = body.predict_on_batch(FED["standard"](digits.astype(np.float32) / 255.0)).max(axis=(1, 2))  # (n, c)
    np.testing.assert_allclose(atlas.windows.scores[:, 0], found.max(axis=0), rtol=1e-5)  # each channel's best window


def test_imported_weights_are_read_by_keras_s_paths_not_the_layer_names(tmp_path):
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = layers.Conv2D(3, 3, name="zeta", activation="relu")(inputs)
    x = layers.BatchNormalization(name="aa_norm", center=False)(x)
    x = layers.Conv2D(4, 3, name="alpha", use_bias=False, activation="relu")(x)
    x = layers.GlobalMaxPooling2D(name="g")(x)
    x = layers.Dense(7, name="b_dense")(x)
    model = randomise(keras.Model(inputs, layers.Dense(10, activation="softmax", name="a_dense")(x)), seed=2)
    record, cache = stored(model, tmp_path)
    found, weights = cache.load_chain(record.key)
    assert [layer.name for layer in found if layer.kind != "InputLayer"] == [layer.name for layer in model.layers[1:]]
    for layer in model.layers:
        for ours, theirs in zip(weights.get(layer.name, ()), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs)
            assert not ours.flags.writeable
    assert {name for name in weights} == {layer.name for layer in model.layers if layer.weights}


def test_an_imported_chain_whose_weights_do_not_fit_is_damaged(tmp_path):
    import zipfile

    record, cache = stored(km.book(), tmp_path)
    other = km.save(km.batchnorm_avg(), tmp_path, "other", "keras")
    path = cache.model_path(record.key)
    with zipfile.ZipFile(other) as source:
        weights = source.read("model.weights.h5")
    with zipfile.ZipFile(path) as old:
        members = {info.filename: old.read(info) for info in old.infolist()}
    with zipfile.ZipFile(path, "w") as new:  # the book's configuration, another model's weights
        for name, data in members.items():
            new.writestr(name, weights if name == "model.weights.h5" else data)
    with pytest.raises(CacheError, match="weights cannot be used"):
        open_run(record, cache)


# --- what numpy leaves to Keras ---------------------------------------------------------------------------


def test_a_branching_model_gets_the_keras_engine_and_no_maps(tmp_path, digits):
    model = km.branching()
    record, cache = stored(model, tmp_path)
    run = open_run(record, cache)
    assert isinstance(run, KerasRun) and run.map_layers == () and run.channel_layers == ()
    assert run.without_maps.startswith("A branching model")
    u = digits.astype(np.float32)[..., None] / 255.0
    close(run.predict_on_batch(u), model.predict_on_batch(u), rtol=1e-5)


def test_a_layer_numpy_does_not_compute_leaves_the_chain_to_keras(tmp_path, digits):
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(3, 3, activation="relu")(inputs)
    x = layers.Softmax(axis=1)(x)  # across rows: not the last axis
    x = layers.Flatten()(x)
    model = randomise(keras.Model(inputs, layers.Dense(10, activation="softmax")(x)), seed=3)
    record, cache = stored(model, tmp_path, scaling="raw")
    run = open_run(record, cache)
    assert isinstance(run, KerasRun) and run.without_maps is None
    u = digits[:5].astype(np.float32) / 255.0
    maps, probs = run.maps_and_probs(u[..., None])
    close(maps[0], keras.Model(inputs, model.layers[1].output).predict_on_batch(FED["raw"](u)[..., None]))
    close(probs, model.predict_on_batch(FED["raw"](u)[..., None]), rtol=1e-5)


def test_the_numpy_engine_never_imports_tensorflow(tmp_path):
    """The server shows a run trained here and an imported chain without TensorFlow (~265 MB less)."""
    record, cache = stored(randomise(km.functional_chain(), seed=1), tmp_path)
    script = f"""
import sys
import numpy as np
from dashboard.inspection.run_factory import open_run
from dashboard.store.cache import ModelCache
cache = ModelCache({str(tmp_path / 'cache')!r})
for key in ({record.key!r}, "5ac6e14cdfcf409e"):
    run = open_run(cache.get(key), cache)
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    run.read(image), run.grad_cam(image), run.ablate(run.final_maps(np.zeros((4, 28, 28), np.uint8)), np.zeros(4))
print(type(run).__name__, "tensorflow" in sys.modules, "keras" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["NumpyRun", "False", "False"]


def test_the_shipped_book_run_is_computed_as_keras_computes_it(digits):
    cache = ModelCache()
    record = cache.get("5ac6e14cdfcf409e")
    run, model = open_run(record, cache), cache.load_model(record.key)
    u = digits.astype(np.float32)[..., None] / 255.0
    close(run.predict_on_batch(u), model.predict_on_batch(u), rtol=1e-5)
    close(run.final_maps(digits), analysis.final_map_features(model, digits))
    theirs = analysis.grad_cam(model, record.spec, digits[3], 7)
    ours = run.grad_cam(digits[3], 7)
    np.testing.assert_allclose(ours.coarse, theirs.coarse, atol=1e-5)
    np.testing.assert_allclose(ours.heatmap, theirs.heatmap, atol=1e-5)
