"""The one image tiler (`dashboard.charts.tiles`): feature maps, kernels, thumbnails, mistakes, atlas mosaics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.charts import tiles


def ramp(h: int, w: int, c: int) -> np.ndarray:
    """Maps whose every value is distinct and positive: channel k holds k*1000 + position + 1."""
    base = np.arange(h * w, dtype=np.float32).reshape(h, w, 1) + 1
    return base + 1000 * np.arange(c, dtype=np.float32)


def reference_tile(images: np.ndarray, columns: int, gap: int) -> np.ndarray:
    """The obvious loop: each image copied into its cell of a NaN canvas."""
    n, h, w = images.shape
    cols = min(columns, n)
    rows = -(-n // cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[k]
    return out


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 20), h=st.integers(1, 9), w=st.integers(1, 9),
    columns=st.integers(1, 12), gap=st.integers(0, 3),
)
def test_tile_equals_the_obvious_loop(n, h, w, columns, gap):
    images = np.random.default_rng(n * 100 + h).random((n, h, w)).astype(np.float32)
    tiled = tiles.tile(images, columns, gap)
    np.testing.assert_array_equal(tiled, reference_tile(images, columns, gap))
    assert tiled.shape == tiles.tiled_shape(h, w, n, columns, gap)
    for k in (0, n - 1):
        r, q = tiles.tile_origin(k, h, w, min(columns, n), gap)
        np.testing.assert_array_equal(tiled[r : r + h, q : q + w], images[k])


def test_digits_in_a_grid_of_three_with_gaps_and_empty_last_cells():
    images = np.stack([np.full((28, 28), i, np.uint8) for i in range(7)])
    canvas = tiles.tile(images, 3, gap=2)
    step = 28 + 2
    assert canvas.shape == (3 * step - 2, 3 * step - 2)
    assert canvas[step + 5, 2 * step + 5] == 5  # image 5: row 1, column 2
    assert np.isnan(canvas[28, 0]) and np.isnan(canvas[0, 28])  # the gaps
    assert np.isnan(canvas[2 * step, 2 * step])  # the empty last cells


def test_no_images_give_one_empty_tile():
    assert np.isnan(tiles.tile(np.zeros((0, 28, 28)), 10)).all()
    assert tiles.tile(np.zeros((0, 28, 28)), 10).shape == (28, 28)


@pytest.mark.parametrize(
    "h,w,c,columns,expected",
    [
        (26, 26, 32, 8, (4 * 26 + 3, 8 * 26 + 7)),  # book conv2d: 4 rows of 8
        (3, 3, 64, 8, (8 * 3 + 7, 8 * 3 + 7)),  # book conv2d_2
        (22, 22, 64, 8, (8 * 22 + 7, 8 * 22 + 7)),  # no_pooling's last map
        (5, 5, 3, 2, (2 * 5 + 1, 2 * 5 + 1)),  # a ragged grid: the 4th cell stays empty
        (1, 1, 64, 16, (4 + 3, 16 + 15)),  # a 1×1 map
        (7, 4, 1, 8, (7, 4)),  # one channel, no separators at all
    ],
    ids=["book_conv1", "book_last", "no_pooling_last", "ragged", "one_by_one", "single"],
)
def test_tiled_maps_shape(h, w, c, columns, expected):
    tiled = tiles.tile_maps(ramp(h, w, c), columns)
    assert tiled.shape == expected == tiles.tiled_shape(h, w, c, columns)
    assert tiled.dtype == np.float32


def test_each_channel_sits_at_its_origin_and_gaps_are_nan():
    h, w, c, columns = 4, 3, 5, 2
    data = ramp(h, w, c)
    tiled = tiles.tile_maps(data, columns, normalize=None)
    for k in range(c):
        r, q = tiles.tile_origin(k, h, w, columns)
        np.testing.assert_array_equal(tiled[r : r + h, q : q + w], data[:, :, k])
    assert np.isnan(tiled[h, :]).all() and np.isnan(tiled[:, w]).all()  # the separators
    r, q = tiles.tile_origin(5, h, w, columns)  # the empty sixth cell
    assert np.isnan(tiled[r : r + h, q : q + w]).all()
    assert np.isfinite(tiled).sum() == h * w * c


def test_channel_normalisation_scales_each_map_to_one_and_keeps_zeros():
    data = ramp(3, 3, 4)
    data[:, :, 2] = 0.0  # a dead channel
    tiled = tiles.tile_maps(data, 4, normalize="channel")
    for k in range(4):
        r, q = tiles.tile_origin(k, 3, 3, 4)
        assert tiled[r : r + 3, q : q + 3].max() == pytest.approx(0.0 if k == 2 else 1.0)
    layer = tiles.tile_maps(data, 4, normalize="layer")
    assert np.nanmax(layer) == pytest.approx(1.0)
    assert np.nanmax(layer[:3, :3]) < 0.01  # channel 0 is tiny next to channel 3


def test_tile_index_names_every_pixel():
    index = tiles.tile_index(3, 3, 10, 4)
    assert index.shape == tiles.tiled_shape(3, 3, 10, 4)
    assert sorted(set(index.ravel())) == [-1, *range(10)]
    r, q = tiles.tile_origin(7, 3, 3, 4)
    assert (index[r : r + 3, q : q + 3] == 7).all() and (index == 7).sum() == 9


def test_kernels_keep_their_sign_and_scale():
    weights = np.random.default_rng(0).normal(size=(3, 3, 1, 32)).astype(np.float32)
    tiled = tiles.tile_kernels(weights, 8)
    assert tiled.shape == (4 * 3 + 3, 8 * 3 + 7)
    r, q = tiles.tile_origin(9, 3, 3, 8)
    np.testing.assert_array_equal(tiled[r : r + 3, q : q + 3], weights[:, :, 0, 9])


@pytest.mark.parametrize("bad", [np.zeros((3, 3)), np.zeros((1, 3, 3, 2))], ids=["2d", "4d"])
def test_tile_refuses_wrong_shapes(bad):
    with pytest.raises(ValueError):
        tiles.tile_maps(bad)
    with pytest.raises(ValueError):
        tiles.tile(bad)


@pytest.mark.parametrize("c,expected", [(1, 1), (3, 3), (8, 4), (32, 8), (64, 8), (128, 16)])
def test_default_columns(c, expected):
    assert tiles.default_columns(c) == expected


def test_the_three_charts_of_many_images_use_the_one_tiler():
    from dashboard.charts.inside import thumbnails_chart
    from dashboard.charts.training import GAP, LABEL_BAND, mistakes_figure

    images = np.random.default_rng(1).integers(0, 256, (12, 28, 28)).astype(np.uint8)
    mistakes = mistakes_figure(images, [1] * 12, [7] * 12, cols=5)
    cells = np.full((12, 28 + LABEL_BAND, 28), np.nan)  # each digit with a band for its label under it
    cells[:, :28] = images
    np.testing.assert_array_equal(np.asarray(mistakes.data[0].z, dtype=float), reference_tile(cells, 5, GAP))
    thumbs = thumbnails_chart(images, [str(i) for i in range(12)], cols=6)
    banded = np.full((12, 28 + 22, 28), np.nan)  # the thumbnails' captions sit in a band too
    banded[:, :28] = images / 255.0
    np.testing.assert_allclose(np.asarray(thumbs.data[0].z, dtype=float), reference_tile(banded, 6, 2), atol=1e-6)
    # Each caption sits in its digit's band: below the digit, above the next row.
    for k, note in enumerate(thumbs.layout.annotations):
        assert note.y == (k // 6) * 52 + 28 and note.text == str(k)
