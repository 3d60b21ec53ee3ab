"""PCA and t-SNE in numpy (`dashboard.inspection.projection`): exact where small, randomized where large, against numpy's SVD."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.inspection import projection


@pytest.mark.parametrize(
    "shape", [(300, 40), (30, 500), (12, 1), (2, 3)], ids=["tall", "wide-gram", "one-feature", "two-images"]
)
def test_pca_matches_the_svd_of_centred_data(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape) * np.linspace(4, 1, shape[1])
    result = projection.pca_2d(x)
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    k = min(2, len(s))
    assert result.coords.shape == (shape[0], 2)
    np.testing.assert_allclose(np.abs(result.coords[:, :k]), np.abs(u[:, :k] * s[:k]), rtol=1e-4, atol=1e-4)
    ratios = s**2 / np.sum(s**2)
    np.testing.assert_allclose(result.explained[: len(ratios)], ratios, atol=1e-8)
    assert np.all(np.diff(result.explained) <= 1e-12), "explained variance in decreasing order"
    assert result.explained.sum() == pytest.approx(1.0)


def test_pca_is_deterministic_and_rejects_a_single_image():
    x = np.random.default_rng(1).normal(size=(50, 8))
    np.testing.assert_allclose(projection.pca_2d(x).coords, projection.pca_2d(x[::-1]).coords[::-1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        projection.pca_2d(x[:1])


def test_tsne_keeps_separate_clusters_apart():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 30)
    x = rng.normal(0, 8, (5, 20))[labels] + rng.normal(0, 1, (150, 20))
    y = projection.tsne_2d(x, perplexity=15, iterations=250)
    assert y.shape == (150, 2) and np.isfinite(y).all()
    d = ((y[:, None] - y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).mean() > 0.95


def realistic_maps(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Non-negative features with a decaying spectrum, like ReLU maps: a few strong directions."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 30)) * np.geomspace(10, 0.1, 30)
    return np.maximum(latent @ rng.normal(size=(30, d)) + rng.normal(0, 0.3, (n, d)), 0.0).astype(np.float32)


@pytest.mark.parametrize("shape", [(2000, 576), (300, 3000)], ids=["book-last-map", "wide-no-pooling"])
def test_randomized_components_match_the_exact_ones(shape):
    x = realistic_maps(*shape)
    assert min(shape) > projection.EXACT_RANK  # the randomized route
    coords, explained = projection.principal_components(x, 2)
    centred = x.astype(np.float64) - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(coords), np.abs(u[:, :2] * s[:2]), rtol=1e-4, atol=1e-3 * s[0] / np.sqrt(len(x)))
    ratios = s**2 / np.sum(s**2)
    np.testing.assert_allclose(explained[:5], ratios[:5], atol=1e-6)
    np.testing.assert_allclose(explained[:10], ratios[:10], rtol=1e-3)
    assert len(explained) == projection.SHARES + projection.OVERSAMPLE and explained.sum() <= 1.0 + 1e-9
