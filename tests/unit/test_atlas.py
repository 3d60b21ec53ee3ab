"""The channel atlas: top windows against a brute-force scan, crops, gradient ascent, one channel on a digit."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dashboard.inspection import channel_atlas
from dashboard.mnist.data import load_mnist, to_model_input
from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec, geometry
from dashboard.store.cache import ModelCache
from dashboard.training.model import build_model

SHIPPED_BOOK = "5ac6e14cdfcf409e"  # model_cache/shipped: the book network, book preset, full MNIST


def geo_of(spec: NetworkSpec, name: str):
    return next(g for g in geometry(spec) if g.name == name)


@pytest.fixture(scope="module")
def small():
    """A small random-weight network (seeded) and 60 test images of the embedded subset."""
    keras.utils.set_random_seed(3)
    spec = NetworkSpec(blocks=(ConvBlock(6), ConvBlock(5, kernel_size=5, padding="same")), dense_units=8)
    return spec, build_model(spec), load_mnist("auto").x_test[:60]


def brute_force(maps: np.ndarray, k: int):
    """For each channel: the k images with the highest per-image maximum (ties: lower index), scanned one by one."""
    n, h, w, c = maps.shape
    out = []
    for ch in range(c):
        best = []
        for i in range(n):
            flat = maps[i, :, :, ch].reshape(-1)
            j = int(np.argmax(flat))  # first maximum in row-major order
            best.append((-float(flat[j]), i, divmod(j, w)))
        best.sort(key=lambda t: (t[0], t[1]))
        out.append(best[:k])
    return out


@pytest.mark.parametrize("layer", ["conv2d", "conv2d_1"])
@pytest.mark.parametrize("chunk", [7, 500])
def test_top_windows_match_a_brute_force_scan(small, layer, chunk):
    spec, model, images = small
    body = channel_atlas.layer_output_model(model, layer)
    geo = geo_of(spec, layer)
    found = channel_atlas.top_windows(body, images, geo, k=9, chunk=chunk)
    maps = np.asarray(body(to_model_input(images)))
    expected = brute_force(maps, 9)
    assert found.scores.shape == (maps.shape[-1], 9) and found.crops.shape == (maps.shape[-1], 9, geo.receptive_field, geo.receptive_field)
    for ch, rows in enumerate(expected):
        np.testing.assert_allclose(found.scores[ch], [-s for s, _, _ in rows], rtol=1e-5, atol=1e-6)
        assert found.images[ch].tolist() == [i for _, i, _ in rows]
        assert [tuple(p) for p in found.positions[ch].tolist()] == [pos for _, _, pos in rows]
        # Each score is the channel's activation at that image and position.
        for score, i, (r, q) in zip(found.scores[ch], found.images[ch], found.positions[ch]):
            assert maps[i, r, q, ch] == pytest.approx(score, rel=1e-5, abs=1e-6)


def test_crops_are_the_receptive_field_of_the_chosen_position(small):
    spec, model, images = small
    geo = geo_of(spec, "conv2d_1")  # 'same' padding: windows reach past the border
    found = channel_atlas.top_windows(channel_atlas.layer_output_model(model, "conv2d_1"), images, geo, k=4)
    rf = geo.receptive_field
    pixels = images.astype(np.float32) / 255.0
    for ch in range(found.scores.shape[0]):
        for crop, i, (r, q) in zip(found.crops[ch], found.images[ch], found.positions[ch]):
            top, left, bottom, right = geo.window(r, q)  # clipped to the image
            t0, l0 = channel_atlas.window_origin(geo, r, q)
            inside = crop[top - t0 : bottom - t0 + 1, left - l0 : right - l0 + 1]
            np.testing.assert_array_equal(inside, pixels[i, top : bottom + 1, left : right + 1])
            assert crop.sum() == pytest.approx(inside.sum())  # outside the image: zeros
            assert crop.shape == (rf, rf)


def test_window_origin_equals_the_geometry_window_away_from_borders():
    for g in [g for g in geometry(BOOK) + geometry(PRESETS["no_pooling"]) if g.size is not None]:
        for r in range(g.size):
            top, left, bottom, right = g.window(r, r)
            if bottom - top + 1 == g.receptive_field:
                assert channel_atlas.window_origin(g, r, r) == (top, left)


@pytest.fixture(scope="module")
def book_model():
    return ModelCache().load_model(SHIPPED_BOOK)


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["conv2d_2", "conv2d_1"])
def test_gradient_ascent_raises_each_channel_well_above_grey(book_model, layer):
    patterns = channel_atlas.preferred_patterns(book_model, layer)
    body = channel_atlas.layer_output_model(book_model, layer)
    channels = book_model.get_layer(layer).filters
    assert patterns.shape == (channels, 28, 28) and patterns.min() >= 0.0 and patterns.max() <= 1.0
    on_pattern = channel_atlas.channel_means(body, patterns)
    on_grey = channel_atlas.channel_means(body, np.full_like(patterns, channel_atlas.GREY))
    # Channels like their own pattern more than grey, typically far more: every channel of the
    # last layer; in conv2d_1 a few nearly dead channels may barely move.
    raised = on_pattern > on_grey + 0.01
    assert raised.mean() >= (1.0 if layer == "conv2d_2" else 0.9), np.flatnonzero(~raised)
    assert np.median(on_pattern) > 5 * np.median(on_grey) + 0.1
    # …and more than another channel's pattern: the patterns are specific.
    maps = np.asarray(body.predict_on_batch(patterns[..., None])).mean(axis=(1, 2))  # (pattern, channel)
    assert np.mean(np.argmax(maps, axis=0) == np.arange(channels)) > 0.5


@pytest.mark.slow
def test_book_atlas_of_the_last_layer(book_model):
    images = load_mnist("auto").x_test[:300]
    result = channel_atlas.build_atlas(book_model, "conv2d_2", geo_of(BOOK, "conv2d_2"), images)
    assert result.channels == 64 and result.n_images == 300
    assert result.windows.crops.shape == (64, 9, 18, 18)
    assert np.all(np.diff(result.windows.scores, axis=1) <= 0)  # strongest first
    with pytest.raises(ValueError):
        channel_atlas.build_atlas(book_model, "conv2d_2", geo_of(BOOK, "conv2d_1"), images)


def test_channel_overlay_puts_each_unit_at_its_window_centre():
    geo = geo_of(BOOK, "conv2d_2")  # 3×3, centres at 8.5 + 4i
    channel_map = np.arange(9, dtype=np.float32).reshape(3, 3)
    overlay = channel_atlas.channel_overlay(channel_map, geo)
    assert overlay.shape == (28, 28)
    for r in range(3):
        for q in range(3):
            centre = int(geo.start + r * geo.jump), int(geo.start + q * geo.jump)
            assert overlay[centre] == channel_map[r, q]
    assert overlay[0, 0] == 0 and overlay[27, 27] == 8


def test_strongest_positions_are_sorted_and_positive():
    m = np.array([[0.0, 3.0], [2.0, -1.0]])
    assert channel_atlas.strongest_positions(m, k=3) == [(0, 1, 3.0), (1, 0, 2.0)]
    assert channel_atlas.strongest_positions(np.zeros((3, 3))) == []


def test_conv_layers_only(small):
    _, model, _ = small
    with pytest.raises(ValueError):
        channel_atlas.layer_output_model(model, "max_pooling2d")


def test_the_strongest_channel_is_the_one_with_the_highest_activation_anywhere():
    maps = np.zeros((3, 3, 5), dtype=np.float32)
    maps[2, 1, 3], maps[0, 0, 1] = 0.7, 0.5
    assert channel_atlas.strongest_channel(maps) == 3
    assert channel_atlas.strongest_channel(np.zeros((2, 2, 4))) == 0  # nothing fires: the first channel
