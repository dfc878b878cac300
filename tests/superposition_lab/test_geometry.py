"""Tegum factors and polytope recognition (TMS "The Geometry of Superposition")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

from analytic import polytopes
from superposition_lab import geometry, metrics

SETTINGS = settings(deadline=None, derandomize=True, max_examples=20)
SHAPES = ["digon", "triangle", "tetrahedron", "pentagon", "square_antiprism", "dedicated"]
seeds = st.integers(0, 2**32 - 1)


def rotate(W: np.ndarray, seed: int, scale: float = 1.0, flips: bool = True) -> np.ndarray:
    """A random rotation of the hidden space, a global scale and random sign flips of columns."""
    g = np.random.default_rng(seed)
    m = W.shape[0]
    Q = np.ones((1, 1)) if m == 1 else special_ortho_group.rvs(m, random_state=g)
    signs = g.choice([-1.0, 1.0], size=W.shape[1]) if flips else 1.0
    return scale * (Q @ W) * signs


def lab_dimensionality(W: np.ndarray) -> np.ndarray:
    return metrics.dimensionality(torch.from_numpy(W)[None])[0].numpy()


# 1) D_i does not see rotations, global scale or sign flips, and names the right polytope.


@SETTINGS
@given(st.sampled_from(SHAPES), seeds, st.floats(0.6, 3.0))
def test_rotated_scaled_polytopes_keep_their_dimensionality(name, seed, scale):
    W = rotate(polytopes.configuration(name), seed, scale)
    expected = float(polytopes.expected_dimensionality(name))
    np.testing.assert_allclose(lab_dimensionality(W), expected, atol=1e-9)
    np.testing.assert_allclose(polytopes.dimensionality(W), expected, atol=1e-9)
    (factor,) = geometry.recognize(W, threshold=0.5 * scale)
    assert factor.polytope == name
    assert factor.size == polytopes.KNOWN[name].n_features and factor.n_dims == polytopes.KNOWN[name].n_dims


@SETTINGS
@given(st.integers(1, 4), seeds)
def test_antipodal_pairs_in_one_space_are_separate_digons(n_pairs, seed):
    # n pairs along orthogonal axes: the "D* = 1/2" configuration
    W = polytopes.tegum_product(*[polytopes.configuration("digon")] * n_pairs)
    W = rotate(W, seed)
    factors = geometry.recognize(W)
    assert [f.polytope for f in factors] == ["digon"] * n_pairs
    np.testing.assert_allclose(lab_dimensionality(W), 0.5, atol=1e-9)
    assert metrics.dstar(torch.from_numpy(W)[None]).item() == pytest.approx(0.5)


# 2) Tegum products split into their factors.


@SETTINGS
@given(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=4), seeds)
def test_tegum_products_split_into_their_factors(names, seed):
    W = rotate(polytopes.tegum_product(*[polytopes.configuration(n) for n in names]), seed)
    factors = geometry.recognize(W)
    assert sorted(f.polytope for f in factors) == sorted(names)
    # the factors partition the features, each in its own block of columns
    sizes = [polytopes.KNOWN[n].n_features for n in names]
    starts = np.cumsum([0] + sizes[:-1])
    blocks = sorted(tuple(range(s, s + k)) for s, k in zip(starts, sizes))
    assert sorted(f.features for f in factors) == blocks
    assert sum(f.n_dims for f in factors) == W.shape[0]
    # Σ D_i = m for a tegum product of tight frames
    assert metrics.dimensionality_sum(torch.from_numpy(W)[None]).item() == pytest.approx(W.shape[0])


def test_unrepresented_features_belong_to_no_factor():
    W = polytopes.tegum_product(polytopes.configuration("triangle"), np.zeros((1, 2)))
    W[:, 3] = [0.0, 0.0, 0.1]  # a stray small weight: not represented
    assert geometry.tegum_factors(W) == [(0, 1, 2)]
    assert not geometry.interference_graph(W)[3].any()


def test_a_non_uniform_factor_is_left_unnamed():
    # three unit vectors at 0°, 60° and 180°: connected, but D_i differ (not a triangle)
    a = np.radians([0.0, 60.0, 180.0])
    (factor,) = geometry.recognize(np.stack([np.cos(a), np.sin(a)]))
    assert factor.size == 3 and factor.polytope is None and factor.spread > 0.1


def test_polytope_counts():
    W = polytopes.tegum_product(*(polytopes.configuration(name) for name in ("pentagon", "digon", "digon")))
    assert geometry.polytope_counts(W) == {"pentagon": 1, "digon": 2}


def test_recognize_accepts_torch_and_rejects_batches():
    W = torch.from_numpy(polytopes.configuration("tetrahedron"))
    assert geometry.recognize(W)[0].polytope == "tetrahedron"
    with pytest.raises(ValueError, match="one model"):
        geometry.recognize(np.zeros((2, 3, 4)))


# 3) Two hidden dimensions.


@pytest.mark.parametrize("k", [2, 3, 5, 6])
def test_regular_polygon_gaps(k):
    W = rotate(polytopes.regular_polygon(k), 7, flips=False)
    np.testing.assert_allclose(geometry.angular_gaps(W), 360.0 / k, atol=1e-9)


def test_angular_gaps_respect_the_mask_and_add_to_360():
    W = polytopes.regular_polygon(6)
    gaps = geometry.angular_gaps(W, mask=np.array([1, 1, 0, 1, 0, 0], dtype=bool))
    assert gaps.tolist() == pytest.approx([60.0, 120.0, 180.0])
    assert geometry.angular_gaps(W, mask=np.zeros(6, dtype=bool)).size == 0
    with pytest.raises(ValueError, match="2-D"):
        geometry.angles_2d(np.ones((3, 4)))


# 4) Σ D_i ≤ rank(W) ≤ m, with equality for tight frames only.


@SETTINGS
@given(st.integers(2, 5), st.integers(2, 12), seeds)
def test_dimensionality_sum_is_at_most_the_rank(m, n, seed):
    W = np.random.default_rng(seed).standard_normal((m, n))
    total = metrics.dimensionality_sum(torch.from_numpy(W)[None]).item()
    assert total <= np.linalg.matrix_rank(W) + 1e-9


def test_dimensionality_sum_short_of_m_for_a_non_tight_frame():
    W = np.array([[1.0, 0.0, 0.8], [0.0, 1.0, 0.6]])  # three unit vectors, not a tight frame
    assert metrics.dimensionality_sum(torch.from_numpy(W)[None]).item() < 1.9


# 5) The onset of superposition: which features are superposed, their antipodes, TMS's layout.


def test_superposed_features_and_their_antipodes():
    # features 0, 1 dedicated, 2 and 3 an antipodal pair, 4 not represented
    W = polytopes.tegum_product(*(polytopes.configuration(n) for n in ("dedicated", "dedicated", "digon")))
    W = np.concatenate([W, np.full((3, 1), 0.1)], axis=1)
    assert geometry.superposed(W).tolist() == [False, False, True, True, False]
    low = geometry.most_negative_partner(W)
    np.testing.assert_allclose(low[:4], [0.0, 0.0, -1.0, -1.0], atol=1e-12)
    assert np.isnan(low[4])
    assert np.isnan(geometry.most_negative_partner(np.eye(2)[:, :1])).all()  # no partner at all


@SETTINGS
@given(st.integers(1, 4), seeds, st.floats(0.6, 3.0))
def test_antipodal_pairs_stay_antipodal_under_rotation_and_scale(n_pairs, seed, scale):
    W = rotate(polytopes.tegum_product(*[polytopes.configuration("digon")] * n_pairs), seed, scale, flips=False)
    assert geometry.superposed(W, threshold=0.5 * scale).all()
    np.testing.assert_allclose(geometry.most_negative_partner(W, threshold=0.5 * scale), -1.0, atol=1e-9)


def test_onset_layout():
    # k = 4 features in m = 3: one antipodal pair (features 2, 3), two dedicated dimensions
    assert geometry.onset_layout(8, 3, 4).tolist() == [2, 2, 1, 1, 0, 0, 0, 0]
    assert geometry.onset_layout(8, 3, 6).tolist() == [1] * 6 + [0, 0]
    for k in (3, 7):
        with pytest.raises(ValueError, match="antipodal pairs fit"):
            geometry.onset_layout(8, 3, k)
