"""Uniform configurations and feature dimensionality (TMS "The Geometry of Superposition")."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

from analytic import polytopes

SETTINGS = settings(deadline=None, derandomize=True, max_examples=25)
NAMES = sorted(polytopes.KNOWN)
seeds = st.integers(0, 2**32 - 1)


def cosines(W: np.ndarray) -> np.ndarray:
    unit = W / np.linalg.norm(W, axis=0)
    return unit.T @ unit


def rotation(m: int, seed: int) -> np.ndarray:
    if m == 1:
        return np.ones((1, 1))
    return special_ortho_group.rvs(m, random_state=np.random.default_rng(seed))


# 1) The named configurations are what TMS says they are.


@pytest.mark.parametrize("name", NAMES)
def test_configuration_shape_norms_and_dimensionality(name):
    W, poly = polytopes.configuration(name), polytopes.KNOWN[name]
    assert W.shape == (poly.n_dims, poly.n_features)
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(polytopes.dimensionality(W), float(poly.dimensionality), atol=1e-12)
    assert polytopes.expected_dimensionality(name) == poly.dimensionality
    # every one is a tight frame, which is why D_i = m/k
    assert poly.dimensionality == Fraction(poly.n_dims, poly.n_features)
    tight = poly.n_features / poly.n_dims * np.eye(poly.n_dims)
    np.testing.assert_allclose(W @ W.T, tight, atol=1e-12)


def test_the_fractions_tms_names():
    got = {name: polytopes.expected_dimensionality(name) for name in NAMES}
    assert got == {
        "dedicated": 1,
        "digon": Fraction(1, 2),
        "triangle": Fraction(2, 3),
        "tetrahedron": Fraction(3, 4),
        "pentagon": Fraction(2, 5),
        "square_antiprism": Fraction(3, 8),
    }


@pytest.mark.parametrize("name, cos", [("digon", -1.0), ("triangle", -0.5), ("tetrahedron", -1 / 3)])
def test_simplex_configurations_have_equal_angles(name, cos):
    C = cosines(polytopes.configuration(name))
    off = C[~np.eye(C.shape[0], dtype=bool)]
    np.testing.assert_allclose(off, cos, atol=1e-12)


def test_pentagon_neighbours_are_72_degrees_apart():
    C = cosines(polytopes.configuration("pentagon"))
    for i in range(5):
        np.testing.assert_allclose(C[i, (i + 1) % 5], np.cos(2 * np.pi / 5), atol=1e-12)
        np.testing.assert_allclose(C[i, (i + 2) % 5], np.cos(4 * np.pi / 5), atol=1e-12)


def test_square_antiprism_cosines():
    # each vertex: 2 square neighbours (h² = 1/3), the opposite corner (−1/3), and two vertices of
    # the other square at ±45° ((√2 − 1)/3) and two at ±135° (−(√2 + 1)/3)
    C = cosines(polytopes.configuration("square_antiprism"))
    expected = sorted(
        [
            1.0,
            1 / 3,
            1 / 3,
            -1 / 3,
            (np.sqrt(2) - 1) / 3,
            (np.sqrt(2) - 1) / 3,
            -(np.sqrt(2) + 1) / 3,
            -(np.sqrt(2) + 1) / 3,
        ]
    )
    for row in C:
        np.testing.assert_allclose(np.sort(row), expected, atol=1e-12)


@SETTINGS
@given(h2=st.floats(0.02, 0.98))
def test_antiprism_dimensionality_peaks_at_three_eighths_only_when_tight(h2):
    D = polytopes.dimensionality(polytopes.square_antiprism(np.sqrt(h2)))
    np.testing.assert_allclose(D, 1 / (4 * (1 - h2) ** 2 + 8 * h2**2), rtol=1e-12)
    assert np.all(D <= 3 / 8 + 1e-12)
    if abs(h2 - 1 / 3) > 0.05:
        assert np.all(D < 3 / 8 - 1e-3)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="pentagon"):
        polytopes.configuration("hexagon")


def test_match_names_clusters_by_size_and_dimensionality():
    assert polytopes.match(5, 0.41).name == "pentagon"
    assert polytopes.match(2, 0.5).name == "digon"
    assert polytopes.match(5, 0.5) is None  # right size, wrong D
    assert polytopes.match(3, 2 / 3 + 0.05, tol=0.03) is None


# 2) The regular simplex as the projection of the basis ⊥ (1, …, 1).


@pytest.mark.parametrize("n", range(2, 11))
def test_simplex(n):
    W = polytopes.simplex(n)
    assert W.shape == (n - 1, n)
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), 1.0, atol=1e-12)
    C = cosines(W)
    np.testing.assert_allclose(C[~np.eye(n, dtype=bool)], -1 / (n - 1), atol=1e-12)
    np.testing.assert_allclose(polytopes.dimensionality(W), (n - 1) / n, atol=1e-12)
    # it is the projection, written in another orthonormal basis: same Gram matrix as the
    # normalised columns e_i − 1/n of R^n
    projected = (np.eye(n) - 1 / n) / np.sqrt((n - 1) / n)
    np.testing.assert_allclose(W.T @ W, projected.T @ projected, atol=1e-12)


# 3) What dimensionality is invariant under, and what it is not.


@SETTINGS
@given(name=st.sampled_from(NAMES), seed=seeds, scale=st.floats(1e-3, 1e3))
def test_rotation_and_global_scale_leave_dimensionality_unchanged(name, seed, scale):
    W = polytopes.configuration(name)
    R = rotation(W.shape[0], seed)
    np.testing.assert_allclose(polytopes.dimensionality(scale * R @ W), polytopes.dimensionality(W), rtol=1e-9)


@SETTINGS
@given(name=st.sampled_from(NAMES), seed=seeds)
def test_sign_flips_and_permutations(name, seed):
    W = polytopes.configuration(name)
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=W.shape[1])
    perm = rng.permutation(W.shape[1])
    np.testing.assert_allclose(
        polytopes.dimensionality((W * signs)[:, perm]), polytopes.dimensionality(W)[perm], rtol=1e-12
    )


@SETTINGS
@given(c1=st.floats(0.01, 100.0), c2=st.floats(0.01, 100.0))
def test_rescaled_antipodal_pair_shares_one_dimension_unequally(c1, c2):
    # a digon with norms c1, c2: D_1 = c1²/(c1² + c2²), D_2 = c2²/(c1² + c2²) — not 1/2 unless
    # c1 = c2 — and D_1 + D_2 = 1 always.
    D = polytopes.dimensionality(polytopes.configuration("digon") * [c1, c2])
    np.testing.assert_allclose(D, np.array([c1**2, c2**2]) / (c1**2 + c2**2), rtol=1e-12)
    np.testing.assert_allclose(D.sum(), 1.0, rtol=1e-12)


@SETTINGS
@given(name=st.sampled_from(NAMES), seed=seeds)
def test_per_column_scaling_matches_the_gram_formula(name, seed):
    # D_i = c_i² / Σ_j c_j² cos²_ij for columns rescaled by c: it depends on the scales whenever
    # features interfere, so no per-column invariance beyond this is claimed
    W = polytopes.configuration(name)
    c = np.random.default_rng(seed).uniform(0.1, 3.0, size=W.shape[1])
    C2 = cosines(W) ** 2
    np.testing.assert_allclose(polytopes.dimensionality(W * c), c**2 / (C2 @ c**2), rtol=1e-10)


@SETTINGS
@given(m=st.integers(1, 6), k=st.integers(1, 12), seed=seeds)
def test_sum_of_dimensionalities_is_at_most_the_rank(m, k, seed):
    # Σ D_i ≤ rank(W) for any W (Cauchy–Schwarz against (W Wᵀ)⁺); each D_i lies in [0, 1]
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(m, k)) * rng.uniform(0.0, 2.0, size=k)
    W[:, rng.random(k) < 0.2] = 0.0  # some features not learned
    D = polytopes.dimensionality(W)
    assert np.all((D >= 0) & (D <= 1 + 1e-12))
    assert D.sum() <= np.linalg.matrix_rank(W) + 1e-9


def test_zero_column_has_zero_dimensionality_and_does_not_disturb_others():
    W = np.hstack([polytopes.configuration("triangle"), np.zeros((2, 1))])
    np.testing.assert_allclose(polytopes.dimensionality(W), [2 / 3, 2 / 3, 2 / 3, 0.0], atol=1e-12)


def test_dimensionality_is_batched_over_leading_axes():
    W = np.stack([polytopes.configuration("pentagon"), 2.0 * polytopes.configuration("pentagon")])
    assert polytopes.dimensionality(W).shape == (2, 5)
    np.testing.assert_allclose(polytopes.dimensionality(W), 0.4, atol=1e-12)


# 4) Tegum products: factors in orthogonal subspaces keep their own dimensionality.


@SETTINGS
@given(names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=4), seed=seeds)
def test_tegum_product_keeps_each_factor(names, seed):
    factors = [polytopes.configuration(n) for n in names]
    W = polytopes.tegum_product(*factors)
    m = sum(f.shape[0] for f in factors)
    assert W.shape == (m, sum(f.shape[1] for f in factors))
    W = rotation(m, seed) @ W  # the product is only defined up to rotation
    expected = np.concatenate(
        [np.full(polytopes.KNOWN[n].n_features, float(polytopes.KNOWN[n].dimensionality)) for n in names]
    )
    np.testing.assert_allclose(polytopes.dimensionality(W), expected, atol=1e-10)
    # every factor is a full tight frame, so the D_i add up to the total number of dims
    np.testing.assert_allclose(polytopes.dimensionality(W).sum(), m, atol=1e-9)


def test_tegum_of_digons_is_the_cross_polytope_and_a_non_full_factor_falls_short():
    octahedron = polytopes.tegum_product(*[polytopes.configuration("digon")] * 3)
    np.testing.assert_allclose(octahedron @ octahedron.T, 2 * np.eye(3))
    # a factor that does not fill its subspace (two features at 60° in 2-D) keeps Σ D_i < its dims
    wedge = np.array([[1.0, 0.5], [0.0, np.sqrt(3) / 2]])
    D = polytopes.dimensionality(polytopes.tegum_product(wedge, polytopes.configuration("digon")))
    np.testing.assert_allclose(D, [0.8, 0.8, 0.5, 0.5], atol=1e-12)
    assert D[:2].sum() < 2


# 5) Leaving out one direction ("Aside: Polytopes and Low-Rank Matrices").


@SETTINGS
@given(n=st.integers(2, 12), seed=seeds)
def test_leaving_out_the_dense_direction_gives_the_regular_simplex(n, seed):
    W = polytopes.project_out(np.ones(n))
    assert W.shape == (n - 1, n)
    np.testing.assert_allclose(W.T @ W, np.eye(n) - 1.0 / n, atol=1e-12)
    np.testing.assert_allclose(polytopes.dimensionality(W), float(polytopes.simplex_dimensionality(n)), atol=1e-12)
    C = cosines(rotation(n - 1, seed) @ W)
    np.testing.assert_allclose(C[~np.eye(n, dtype=bool)], float(polytopes.simplex_cosine(n)), atol=1e-12)
    # simplex(n) is the same configuration up to a rotation and a scale: equal Gram up to scale
    S = polytopes.simplex(n)
    np.testing.assert_allclose(S.T @ S, (W.T @ W) * n / (n - 1), atol=1e-12)


@SETTINGS
@given(v=st.lists(st.floats(-3, 3), min_size=2, max_size=8).filter(lambda v: np.linalg.norm(v) > 0.1))
def test_project_out_is_the_projection_orthogonal_to_any_direction(v):
    v = np.array(v)
    W = polytopes.project_out(v)
    np.testing.assert_allclose(W.T @ W, np.eye(len(v)) - np.outer(v, v) / (v @ v), atol=1e-10)
    np.testing.assert_allclose(W @ v, 0.0, atol=1e-10)


def test_leaving_out_another_direction_is_not_uniform():
    D = polytopes.dimensionality(polytopes.project_out(np.arange(1.0, 5.0)))
    assert D.max() - D.min() > 0.1
    assert (polytopes.simplex_dimensionality(3), polytopes.simplex_cosine(4)) == (Fraction(2, 3), Fraction(-1, 3))
    with pytest.raises(ValueError):
        polytopes.project_out(np.zeros(3))
