"""A run's network in numpy (`dashboard.inspection.forward`) and its weights read from the archive
(`dashboard.modelfiles.weights`), both checked against Keras; hostile weights files are refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dashboard.inspection import analysis, gradcam
from dashboard.inspection.forward import Network, conv2d, pool2d
from dashboard.modelfiles.archive import WEIGHTS_NAME, ArchiveError
from dashboard.modelfiles.weights import read_weights, weight_shapes
from dashboard.network.spec import BOOK, KERNEL_SIZES, PRESETS, ConvBlock, NetworkSpec, problems
from dashboard.training.model import activation_model, build_model, forward_all

BN_AVG = NetworkSpec(blocks=(ConvBlock(6, 3, batch_norm=True, pool_type="avg"),
                             ConvBlock(8, 5, strides=2, padding="same", batch_norm=True)), dense_units=12, dropout=0.3)


def randomised(spec: NetworkSpec, seed: int) -> keras.Model:
    """`build_model(spec)` with random weights everywhere, batch norm's moving statistics included."""
    model = build_model(spec)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        arrays = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):  # gamma, beta, moving mean, moving variance
            shape = arrays[0].shape
            arrays = [rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.3, shape), rng.normal(0, 0.3, shape),
                      rng.uniform(0.2, 2.0, shape)]
        else:
            arrays = [rng.normal(0, 0.3, a.shape) for a in arrays]
        layer.set_weights([a.astype(np.float32) for a in arrays])
    return model


def saved(model: keras.Model, tmp_path: Path, name: str = "model.keras") -> Path:
    path = tmp_path / name
    model.save(path)
    return path


def assert_same_as_keras(network: Network, model: keras.Model, images: np.ndarray) -> None:
    ours_maps, ours_probs = network.maps_and_probs(images)
    keras_maps, keras_probs = forward_all(activation_model(model), images[..., None])
    assert [m.shape for m in ours_maps] == [m.shape for m in keras_maps]
    for ours, theirs in zip(ours_maps, keras_maps):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(theirs).max())))
    np.testing.assert_allclose(ours_probs, keras_probs, atol=1e-5)
    assert ours_probs.dtype == np.float32 and all(m.dtype == np.float32 for m in ours_maps)


@pytest.mark.parametrize("spec", [BOOK, PRESETS["no_pooling"], BN_AVG], ids=["book", "no_pooling", "bn_avg_same_stride"])
def test_weights_read_from_the_archive_are_keras_s_and_the_numpy_network_computes_what_keras_does(spec, tmp_path):
    model = randomised(spec, seed=1)
    weights = read_weights(saved(model, tmp_path), spec)
    assert list(weights) == [layer.name for layer in model.layers if layer.weights]  # in order, nothing else
    for layer in model.layers:
        if layer.weights:
            for ours, theirs in zip(weights[layer.name], layer.get_weights(), strict=True):
                np.testing.assert_array_equal(ours, theirs)
                assert not ours.flags.writeable  # shared by every session
    images = np.random.default_rng(2).random((5, 28, 28)).astype(np.float32)
    assert_same_as_keras(Network(spec, weights), model, images)


def test_layers_by_hand():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(pool2d(x, "MaxPooling2D")[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(pool2d(x, "AveragePooling2D")[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    assert pool2d(np.zeros((1, 5, 5, 2)), "MaxPooling2D").shape == (1, 2, 2, 2)  # the odd row and column dropped
    ones = np.ones((3, 3, 1, 1), np.float32)
    out = conv2d(x, ones, np.array([-80.0], np.float32), 1, "valid")  # window sums 45, 54, 81, 90; minus 80; ReLU
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 0], [1, 10]])
    assert conv2d(x, ones, np.zeros(1, np.float32), 2, "same").shape == (1, 2, 2, 1)


def test_around_gives_a_layer_s_input_and_output(tmp_path):
    model = randomised(BOOK, seed=3)
    network = Network(BOOK, read_weights(saved(model, tmp_path), BOOK))
    image = np.random.default_rng(4).random((28, 28)).astype(np.float32)
    first_in, first_out = network.around("conv2d", image)
    np.testing.assert_array_equal(first_in[0, :, :, 0], image)
    pooled, conv = network.around("conv2d_1", image)
    assert pooled.shape == (1, 13, 13, 32) and conv.shape == (1, 11, 11, 64)
    np.testing.assert_allclose(pooled, network.around("max_pooling2d", image)[1])
    np.testing.assert_array_equal(network.kernels(), model.get_layer("conv2d").get_weights()[0])
    with pytest.raises(KeyError):
        network.around("conv2d_9", image)


def test_weight_shapes_follow_the_network():
    shapes = weight_shapes(BOOK)
    assert shapes == {"conv2d": ((3, 3, 1, 32), (32,)), "conv2d_1": ((3, 3, 32, 64), (64,)),
                      "conv2d_2": ((3, 3, 64, 64), (64,)), "dense": ((576, 64), (64,)), "dense_1": ((64, 10), (10,))}
    assert sum(int(np.prod(s)) for arrays in shapes.values() for s in arrays) == 93_322  # the book's parameter count
    assert weight_shapes(BN_AVG)["batch_normalization"] == ((6,),) * 4
    with pytest.raises(ValueError):
        Network(BOOK, {"conv2d": (np.zeros((3, 3, 1, 32), np.float32),)})  # weights that do not fit


# --- hostile or damaged weights files -----------------------------------------------------------------------


def with_weights(tmp_path: Path, source: Path, h5_bytes: bytes, name: str = "forged.keras") -> Path:
    """A copy of archive `source` whose weights file is `h5_bytes`."""
    target = tmp_path / name
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, h5_bytes if info.filename == WEIGHTS_NAME else old.read(info))
    return target


def h5_of(build) -> bytes:
    """An HDF5 file made by `build(file)`, as bytes."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        build(h5)
    return buffer.getvalue()


def book_weights_into(h5: h5py.File, model: keras.Model, skip: str = "", **changes) -> None:
    for layer in model.layers:
        group = h5.create_group(f"layers/{layer.name}/vars")
        if layer.name == skip:
            continue
        for i, array in enumerate(layer.get_weights()):
            group.create_dataset(str(i), data=changes.get(f"{layer.name}/{i}", array))


@pytest.fixture(scope="module")
def book_archive(tmp_path_factory) -> tuple[keras.Model, Path]:
    model = randomised(BOOK, seed=5)
    return model, saved(model, tmp_path_factory.mktemp("book"))


def test_a_hand_written_weights_file_of_the_right_layout_reads_back(book_archive, tmp_path):
    model, source = book_archive
    path = with_weights(tmp_path, source, h5_of(lambda h5: book_weights_into(h5, model)))
    np.testing.assert_array_equal(read_weights(path, BOOK)["dense"][0], model.get_layer("dense").get_weights()[0])


@pytest.mark.parametrize("forge, message", [
    (lambda h5, m: book_weights_into(h5, m, skip="conv2d_1"), "conv2d_1 has 0 weight arrays"),
    (lambda h5, m: book_weights_into(h5, m, **{"dense/0": np.zeros((64, 64), np.float32)}), r"\(64, 64\)"),
    (lambda h5, m: book_weights_into(h5, m, **{"conv2d/0": np.zeros((3, 3, 1, 32), np.float64)}), "float64"),
    (lambda h5, m: (book_weights_into(h5, m), h5["layers/flatten/vars"].create_dataset("0", data=np.zeros(3))),
     "layers the network does not have"),
    (lambda h5, m: h5.create_dataset("layers", data=np.zeros(3)), "holds no layers"),
], ids=["missing layer", "wrong shape", "wrong type", "extra layer", "not a group"])
def test_weights_that_do_not_fit_the_network_are_refused(book_archive, tmp_path, forge, message):
    model, source = book_archive
    path = with_weights(tmp_path, source, h5_of(lambda h5: forge(h5, model)))
    with pytest.raises(ArchiveError, match=message):
        read_weights(path, BOOK)


def test_weights_kept_in_another_file_are_never_read(book_archive, tmp_path):
    """HDF5 can point a dataset at raw bytes in any file on the server (external storage)."""
    model, source = book_archive
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(32, dtype=np.float32).tobytes())

    def forge(h5):
        book_weights_into(h5, model, skip="conv2d")
        group = h5["layers/conv2d/vars"]
        group.create_dataset("0", shape=(3, 3, 1, 32), dtype=np.float32, external=[(str(secret), 0, 3 * 3 * 32 * 4)])
        group.create_dataset("1", data=np.zeros(32, np.float32))

    path = with_weights(tmp_path, source, h5_of(forge))
    with pytest.raises(ArchiveError, match="outside the archive"):
        read_weights(path, BOOK)


def test_an_oversized_or_broken_weights_file_is_refused_unread(book_archive, tmp_path):
    _, source = book_archive
    padding = b"\0" * 3_000_000  # more than the book network's 93,322 floats and HDF5's overhead
    with pytest.raises(ArchiveError, match="more than the network needs"):
        read_weights(with_weights(tmp_path, source, padding, "big.keras"), BOOK)
    with pytest.raises(ArchiveError, match="cannot be read"):
        read_weights(with_weights(tmp_path, source, b"not hdf5 at all", "junk.keras"), BOOK)
    with pytest.raises(ArchiveError, match="not a zip"):
        read_weights(tmp_path / "missing.keras", BOOK)
    other = NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16)), dense_units=0)
    with pytest.raises(ArchiveError):
        read_weights(source, other)  # a sound archive of another network


# --- Grad-CAM without TensorFlow: the backward pass through the head -----------------------------------------


def assert_same_grad_cam(network: Network, model: keras.Model, image: np.ndarray) -> None:
    ours = gradcam.of_network(network, image)
    theirs = analysis.grad_cam(model, network.spec, image)
    assert (ours.class_index, ours.layer_name) == (theirs.class_index, theirs.layer_name)
    np.testing.assert_allclose(ours.probabilities, theirs.probabilities, atol=1e-5)
    np.testing.assert_allclose(ours.coarse, theirs.coarse, atol=1e-4)
    np.testing.assert_allclose(ours.heatmap, theirs.heatmap, atol=1e-4)
    other = (ours.class_index + 3) % 10
    np.testing.assert_allclose(gradcam.of_network(network, image, other).coarse,
                               analysis.grad_cam(model, network.spec, image, other).coarse, atol=1e-4)


@pytest.mark.parametrize("spec", [BOOK, BN_AVG, NetworkSpec(blocks=(ConvBlock(4), ConvBlock(6, pool=True)), head="global_avg")],
                         ids=["book", "bn_avg_dense_dropout", "pool_then_gap"])
def test_grad_cam_by_hand_equals_tensorflow_s(spec, tmp_path):
    model = randomised(spec, seed=6)
    network = Network(spec, read_weights(saved(model, tmp_path), spec))
    image = np.random.default_rng(7).random((28, 28)).astype(np.float32)
    assert_same_grad_cam(network, model, image)


# --- random networks of every kind: forward pass and Grad-CAM against Keras ---------------------------------


@st.composite
def app_specs(draw):
    """Small networks of every kind `build_model` makes: strides, padding, pooling kinds, batch norm, heads."""
    blocks = tuple(
        ConvBlock(
            filters=draw(st.integers(1, 8)),
            kernel_size=draw(st.sampled_from(KERNEL_SIZES)),
            strides=draw(st.sampled_from((1, 2))),
            padding=draw(st.sampled_from(("valid", "same"))),
            pool=draw(st.booleans()),
            pool_type=draw(st.sampled_from(("max", "avg"))),
            batch_norm=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(1, 4)))
    )
    spec = NetworkSpec(blocks=blocks, head=draw(st.sampled_from(("flatten", "global_avg"))),
                       dense_units=draw(st.sampled_from((0, 5))), dropout=draw(st.sampled_from((0.0, 0.3))))
    assume(not problems(spec))
    return spec


@pytest.mark.slow  # 25 Keras models saved and read back, and their gradients: ~12 s
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(spec=app_specs(), seed=st.integers(0, 1000))
def test_random_networks_computed_with_numpy_match_keras_forward_and_grad_cam(spec, seed, tmp_path):
    model = randomised(spec, seed)
    network = Network(spec, read_weights(saved(model, tmp_path, f"m{seed}.keras"), spec))
    images = np.random.default_rng(seed).random((3, 28, 28)).astype(np.float32)
    assert_same_as_keras(network, model, images)
    assert_same_grad_cam(network, model, (images[0] * 255).astype(np.uint8))  # a uint8 digit, as uploads come
