"""Projections, ablations and Grad-CAM of the last feature map, on tiny networks trained for one epoch."""

from __future__ import annotations

import csv
import io

import keras
import numpy as np
import pytest

from dashboard.inspection import analysis, final_maps, gradcam, projection
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import BOOK, ConvBlock, NetworkSpec
from dashboard.training.model import activation_model, build_model, forward_all
from dashboard.training.train_settings import TrainSettings
from dashboard.training.trainer import train
from dashboard.views import downloads
from tests.marks import trains

QUICK = TrainSettings(epochs=1, batch_size=32, train_size=3000, learning_rate=3e-3)
N_TEST = 400
# Small networks with each kind of head the builder makes: flatten → dense, flatten → softmax,
# global average → dense, and a 1×1 last map.
SMALL = {
    "flatten-dense": NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16), ConvBlock(16, pool=False)), dense_units=16),
    "flatten-softmax": NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16)), dense_units=0),
    "gap-dense-dropout": NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16)), head="global_avg", dense_units=16, dropout=0.3),
    "one-by-one": NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16), ConvBlock(16)), dense_units=16),
}


@pytest.fixture(scope="module")
def data():
    return load_mnist("embedded")


@pytest.fixture(scope="module")
def test_set(data):
    idx = final_maps.sample_indices(len(data.x_test), N_TEST)
    return data.x_test[idx], data.y_test[idx].astype(np.int64)


@pytest.fixture(scope="module")
@trains
def trained(data):
    """{name: trained model} for the small networks (one epoch on 2,700 images each)."""
    return {name: train(spec, QUICK, data).model for name, spec in SMALL.items()}


@pytest.fixture(scope="module")
@trains
def book_model():
    keras.utils.set_random_seed(0)
    return build_model(BOOK)  # untrained: shapes and exactness do not need training


# --- features and layers -------------------------------------------------------------------


def test_final_map_of_the_book_is_conv2d_2_with_576_numbers(book_model, test_set):
    images, _ = test_set
    assert analysis.final_map_layer(book_model) == "conv2d_2"
    assert analysis.last_conv_layer(book_model) == "conv2d_2"
    maps = analysis.final_map_features(book_model, images[:50], batch_size=16)
    assert maps.shape == (50, 3, 3, 64) and maps.dtype == np.float32
    assert final_maps.flatten_features(maps).shape == (50, 576)
    # The same numbers the activation model gives for conv2d_2.
    outputs, _ = forward_all(activation_model(book_model), images[:50].astype(np.float32)[..., None] / 255)
    expected = outputs[-1]  # the activation model's maps end with the last conv, conv2d_2
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-5)


def test_head_on_the_final_map_reproduces_the_model(book_model, test_set):
    images, _ = test_set
    maps = analysis.final_map_features(book_model, images[:40])
    head = analysis.layers_after(book_model, "conv2d_2")
    assert [layer.name for layer in head] == ["flatten", "dense", "dense_1"]
    direct = np.asarray(book_model(images[:40].astype(np.float32)[..., None] / 255, training=False))
    np.testing.assert_allclose(analysis.run_head(head, maps), direct, rtol=1e-5, atol=1e-6)


def test_sample_indices_are_fixed_distinct_and_bounded():
    a, b = final_maps.sample_indices(1000, 200), final_maps.sample_indices(1000, 200)
    np.testing.assert_array_equal(a, b)
    assert len(set(a.tolist())) == 200 and a.min() >= 0 and a.max() < 1000
    assert len(final_maps.sample_indices(50, 200)) == 50
    assert not np.array_equal(a, final_maps.sample_indices(1000, 200, seed=1))


# --- ablations -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SMALL), ids=list(SMALL))
def test_fast_ablation_equals_running_the_head_on_zeroed_maps(name, trained, test_set):
    images, labels = test_set
    model = trained[name]
    maps = analysis.final_map_features(model, images)
    result = analysis.ablate(model, maps, labels)
    head = analysis.layers_after(model, analysis.final_map_layer(model))
    without, alone = analysis._ablate_direct(head, maps, labels, "position")
    channel_without, _ = analysis._ablate_direct(head, maps, labels, "channel")
    one_image = 1 / len(labels) + 1e-9  # float rounding may flip a near-tie
    np.testing.assert_allclose(result.zero_one.ravel(), without, atol=one_image)
    np.testing.assert_allclose(result.keep_one.ravel(), alone, atol=one_image)
    np.testing.assert_allclose(result.channel_accuracy, channel_without, atol=one_image)
    direct = (analysis.run_head(head, maps).argmax(axis=1) == labels).mean()
    assert result.baseline == pytest.approx(direct)


# Global averaging learns slowly: one epoch leaves it near chance, so it is left out here.
@pytest.mark.parametrize("name", ["flatten-dense", "flatten-softmax", "one-by-one"])
def test_trained_networks_beat_chance_and_zeroing_everything_gives_one_constant_answer(name, trained, test_set):
    images, labels = test_set
    model = trained[name]
    maps = analysis.final_map_features(model, images)
    result = analysis.ablate(model, maps, labels)
    assert result.baseline > 0.45, "one epoch is enough to be far above chance"
    head = analysis.layers_after(model, analysis.final_map_layer(model))
    blank = analysis.run_head(head, np.zeros_like(maps)).argmax(axis=1)
    assert len(set(blank.tolist())) == 1, "with every position zeroed all images look the same"
    accuracy = analysis.masked_accuracy(head, maps, labels, np.zeros((1, 1, 1, 1), np.float32))
    assert accuracy == pytest.approx(np.mean(labels == blank[0]))
    assert accuracy < 0.2, "about chance (10%) on a balanced test set"


def test_ablation_shapes_order_and_bounds(trained, test_set):
    images, labels = test_set
    model = trained["flatten-dense"]
    maps = analysis.final_map_features(model, images)
    result = analysis.ablate(model, maps, labels)
    _, h, w, c = maps.shape
    assert result.zero_one.shape == result.keep_one.shape == (h, w)
    assert result.channel_accuracy.shape == (c,) and sorted(result.channel_order.tolist()) == list(range(c))
    ordered = result.channel_accuracy[result.channel_order]
    assert np.all(np.diff(ordered) >= 0), "most harmful channel first"
    assert np.all((result.zero_one >= 0) & (result.zero_one <= 1)) and result.n_images == N_TEST
    # Keeping one position of several loses more than zeroing one: the others carry the rest.
    assert result.keep_one.mean() < result.zero_one.mean()


def test_a_one_by_one_map_has_a_single_position_that_carries_everything(trained, test_set):
    images, labels = test_set
    model = trained["one-by-one"]
    maps = analysis.final_map_features(model, images)
    assert maps.shape[1:3] == (1, 1)
    result = analysis.ablate(model, maps, labels)
    assert result.keep_one[0, 0] == pytest.approx(result.baseline)  # keeping it is keeping all
    assert result.zero_one[0, 0] < 0.2  # zeroing it leaves nothing


# --- projections ---------------------------------------------------------------------------


def test_pca_of_the_final_map_separates_digits_better_than_pixels(trained, test_set):
    images, labels = test_set
    maps = analysis.final_map_features(trained["flatten-dense"], images)

    def nearest_neighbour_agreement(coords: np.ndarray) -> float:
        d = ((coords[:, None] - coords[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        return float((labels[d.argmin(axis=1)] == labels).mean())

    learned = nearest_neighbour_agreement(projection.pca_2d(final_maps.flatten_features(maps)).coords)
    pixels = nearest_neighbour_agreement(projection.pca_2d(images.reshape(len(images), -1) / 255).coords)
    assert learned > pixels


# --- Grad-CAM ------------------------------------------------------------------------------


def test_grad_cam_shape_range_and_class(trained, data, tmp_path):
    spec = SMALL["flatten-dense"]
    # Grad-CAM must work on a model loaded from .keras, as the app loads them.
    path = tmp_path / "model.keras"
    trained["flatten-dense"].save(path)
    model = keras.saving.load_model(path, compile=False)
    image = data.x_test[0]
    cam = analysis.grad_cam(model, spec, image)
    assert cam.heatmap.shape == (28, 28) and cam.heatmap.dtype == np.float32
    assert cam.heatmap.min() >= 0 and cam.heatmap.max() <= 1
    assert cam.coarse.shape == (3, 3) and cam.layer_name == "conv2d_2"
    assert cam.coarse.max() in (0.0, 1.0)  # normalised by its maximum
    probs = np.asarray(model(image[None, ..., None].astype(np.float32) / 255, training=False))[0]
    assert cam.class_index == int(probs.argmax())
    np.testing.assert_allclose(cam.probabilities, probs, rtol=1e-4, atol=1e-6)
    other = analysis.grad_cam(model, spec, image.astype(np.float32) / 255, class_index=(cam.class_index + 1) % 10)
    assert other.class_index == (cam.class_index + 1) % 10
    assert not np.allclose(other.coarse, cam.coarse), "another class has other evidence"


def test_grad_cam_of_a_one_by_one_map_is_flat(trained, data):
    model = trained["one-by-one"]  # its last conv is 3×3; the pooling after it is 1×1
    layer = analysis.final_map_layer(model)
    cam = analysis.grad_cam(model, SMALL["one-by-one"], data.x_test[3], layer_name=layer)
    assert cam.layer_name == layer == "max_pooling2d_2" and cam.coarse.shape == (1, 1)
    assert np.ptp(cam.heatmap) == 0, "one position: nothing to localise"


@pytest.mark.parametrize("shape", [(27, 28), (2, 28, 28), (28, 28, 3)], ids=["short", "batch", "rgb"])
def test_grad_cam_rejects_other_shapes(book_model, shape):
    with pytest.raises(ValueError, match="28×28"):
        analysis.grad_cam(book_model, BOOK, np.zeros(shape, np.float32))


def test_place_on_input_puts_each_unit_at_its_window_centre():
    # conv2d_2 of the book: 3×3 units whose windows are centred on pixels 8.5, 12.5, 16.5.
    coarse = np.zeros((3, 3), np.float32)
    coarse[0, 0] = 1.0
    heat = gradcam.place_on_input(coarse, BOOK, "conv2d_2")
    assert heat.shape == (28, 28)
    assert np.all(heat[:9, :9] == 1.0), "up to the first centre: the first unit's value"
    assert np.all(heat[13:, :] == 0.0) and np.all(heat[:, 13:] == 0.0), "past the second centre: nothing"
    assert heat[10, 8] == pytest.approx(1 - 1.5 / 4)  # linear between centres 8.5 and 12.5


# --- downloads -------------------------------------------------------------


def test_summary_and_history_csv_read_back():
    rows = [
        {"name": "conv2d", "type": "Conv2D", "output_shape": [None, 26, 26, 32], "params": 320, "receptive_field": 3, "jump": 1},
        {"name": "flatten", "type": "Flatten", "output_shape": [None, 576], "params": 0, "receptive_field": 26, "jump": None},
    ]
    table = list(csv.reader(io.StringIO(downloads.summary_csv(rows))))
    assert table[0] == ["layer", "type", "output_shape", "params", "receptive_field", "jump"]
    assert table[1] == ["conv2d", "Conv2D", "(None, 26, 26, 32)", "320", "3", "1"]
    assert table[2][-1] == "" and table[-1][:4] == ["total", "", "", "320"]
    history = {"loss": [0.5, 0.25], "val_accuracy": [0.9, 0.95]}
    table = list(csv.DictReader(io.StringIO(downloads.history_csv(history))))
    assert [row["epoch"] for row in table] == ["1", "2"]
    assert [float(row["val_accuracy"]) for row in table] == [0.9, 0.95]
    ragged = list(csv.DictReader(io.StringIO(downloads.history_csv({"loss": [0.1 + 0.2, 0.5], "lr": [0.001]}))))
    assert float(ragged[0]["loss"]) == 0.1 + 0.2 and ragged[1]["lr"] == ""  # full precision; missing is blank
