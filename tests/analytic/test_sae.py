"""L1 SAE soft thresholding and shrinkage on orthogonal toy data (SAE overview; arXiv:2404.16014)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.optimize import minimize_scalar
from scipy.stats import special_ortho_group

from analytic import sae

SETTINGS = settings(deadline=None, derandomize=True, max_examples=30)
seeds = st.integers(0, 2**32 - 1)
lams = st.floats(0.0, 4.0)
ranges = st.tuples(st.floats(0.0, 1.0), st.floats(0.05, 2.0)).map(lambda t: (t[0], t[0] + t[1]))


def orthonormal(m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n orthonormal feature directions in R^m as columns, (m, n)."""
    return special_ortho_group.rvs(m, random_state=rng)[:, :n]


def encode_decode(X: np.ndarray, D: np.ndarray, lam: float) -> np.ndarray:
    """The L1 SAE with aligned atoms: f = ReLU(Dᵀx − λ/2), x̂ = D f (b_dec = 0, unit atoms)."""
    f = np.maximum(X @ D - lam / 2, 0.0)  # (B, n)
    return f, f @ D.T  # (B, n), (B, m)


def ratio_se(num: np.ndarray, den: np.ndarray) -> float:
    """Delta-method standard error of Σnum/Σden from per-sample terms."""
    r = num.sum() / den.sum()
    return float(np.std(num - r * den) / (np.sqrt(num.size) * den.mean()))


def mean_se(v: np.ndarray) -> float:
    return float(np.std(v) / np.sqrt(v.size))


# 1) The optimal code is the soft threshold (a − λ/2)₊ for loss (a − f)² + λ f.


@SETTINGS
@given(a=st.floats(-1.0, 3.0), lam=lams)
def test_code_minimises_the_per_sample_loss(a, lam):
    def loss(f):
        return (a - f) ** 2 + lam * f

    res = minimize_scalar(loss, bounds=(0.0, max(a, 0.0) + 1.0), method="bounded", options={"xatol": 1e-10})
    f = float(sae.l1_optimal_code(a, lam))
    assert f == max(a - lam / 2, 0.0)
    assert abs(f - res.x) < 1e-6
    assert loss(f) <= res.fun + 1e-12


def test_code_is_vectorised_and_rejects_negative_lambda():
    np.testing.assert_allclose(sae.l1_optimal_code([0.1, 0.5, 1.0], 0.4), [0.0, 0.3, 0.8])
    with pytest.raises(ValueError):
        sae.l1_optimal_code(1.0, -0.1)


# 2) Closed forms: the U[0, 1] formulas, and numeric integration for any U[lo, hi].


@pytest.mark.parametrize("lam", [0.0, 0.1, 0.5, 1.0, 1.7, 2.0, 2.5])
def test_uniform_unit_interval_formulas(lam):
    t = min(lam / 2, 1.0)
    gamma = 2 * (2 - lam) / (4 + lam) if lam <= 2 else 0.0
    np.testing.assert_allclose(sae.l1_gamma_uniform(lam), gamma, atol=1e-12)
    np.testing.assert_allclose(sae.l1_expected_l0(lam), 1 - t, atol=1e-12)
    np.testing.assert_allclose(sae.l1_expected_mse(lam), t**2 - 2 * t**3 / 3, atol=1e-12)


def integrate(g, lo: float, hi: float, kink: float | None = None) -> float:
    """E[g(a)] for a ~ U[lo, hi], splitting the integral at the threshold where g has a kink/jump."""
    cuts = [lo] + ([kink] if kink is not None and lo < kink < hi else []) + [hi]
    total = sum(quad(g, u, v, epsabs=1e-13, epsrel=1e-11)[0] for u, v in zip(cuts, cuts[1:]))
    return total / (hi - lo)


@SETTINGS
@given(lam=lams, r=ranges)
def test_closed_forms_match_numeric_integration(lam, r):
    lo, hi = r
    t = lam / 2

    def f(a):
        return max(a - t, 0.0)

    l0 = integrate(lambda a: float(a > t), lo, hi, t)
    mse = integrate(lambda a: (a - f(a)) ** 2, lo, hi, t)
    loss = integrate(lambda a: (a - f(a)) ** 2 + lam * f(a), lo, hi, t)
    np.testing.assert_allclose(sae.l1_expected_l0(lam, lo, hi), l0, atol=1e-9)
    np.testing.assert_allclose(sae.l1_expected_mse(lam, lo, hi), mse, atol=1e-9)
    np.testing.assert_allclose(sae.l1_expected_loss(lam, lo, hi), loss, atol=1e-9)
    den = integrate(lambda a: a * f(a), lo, hi, t)
    assume(den > 1e-6)  # γ is 0/0 when the code is (almost) never active
    np.testing.assert_allclose(
        sae.l1_gamma_uniform(lam, lo, hi), integrate(lambda a: f(a) ** 2, lo, hi, t) / den, rtol=1e-6
    )


@SETTINGS
@given(lam=st.floats(0.01, 1.9), shift=st.floats(-0.3, 0.3))
def test_threshold_lambda_over_two_minimises_the_expected_loss(lam, shift):
    # any other encoder bias −t' does worse on average: the closed-form loss is the optimum
    t2 = min(max(lam / 2 + shift, 0.0), 1.0)
    other = integrate(lambda a: (a - max(a - t2, 0.0)) ** 2 + lam * max(a - t2, 0.0), 0.0, 1.0, t2)
    assert sae.l1_expected_loss(lam) <= other + 1e-12


def test_density_scales_l0_and_mse_and_cancels_in_gamma():
    for p in (1.0, 0.3, 0.01):
        np.testing.assert_allclose(sae.l1_expected_l0(0.6, density=p), p * sae.l1_expected_l0(0.6))
        np.testing.assert_allclose(sae.l1_expected_mse(0.6, density=p), p * sae.l1_expected_mse(0.6))
        np.testing.assert_allclose(sae.l1_expected_loss(0.6, density=p), p * sae.l1_expected_loss(0.6))


# 3) Shrinkage γ: what it means and how it moves with λ.


@SETTINGS
@given(c=st.floats(0.01, 10.0), seed=seeds)
def test_gamma_of_a_rescaled_reconstruction_is_the_scale(c, seed):
    x = np.random.default_rng(seed).normal(size=(64, 5))
    np.testing.assert_allclose(sae.relative_reconstruction_bias(x, c * x), c, rtol=1e-12)


def test_gamma_edge_cases():
    x = np.ones((4, 3))
    assert np.isnan(sae.relative_reconstruction_bias(x, np.zeros_like(x)))
    with pytest.raises(ValueError):
        sae.relative_reconstruction_bias(x, x[:, :2])
    assert sae.l1_gamma_uniform(2.0) == 0.0 and sae.l1_gamma_uniform(5.0) == 0.0


@SETTINGS
@given(lam1=st.floats(0.0, 4.0), lam2=st.floats(0.0, 4.0), r=ranges)
def test_gamma_decreases_with_lambda(lam1, lam2, r):
    lo, hi = r
    lam1, lam2 = sorted((lam1, lam2))
    assume(lam2 - lam1 > 1e-3 and lam1 / 2 < hi)
    assert sae.l1_gamma_uniform(lam1, lo, hi) > sae.l1_gamma_uniform(lam2, lo, hi)
    assert sae.l1_expected_l0(lam1, lo, hi) >= sae.l1_expected_l0(lam2, lo, hi)
    assert sae.l1_expected_mse(lam1, lo, hi) < sae.l1_expected_mse(lam2, lo, hi)


@SETTINGS
@given(r=ranges)
def test_gamma_tends_to_one_as_lambda_vanishes(r):
    lo, hi = r
    np.testing.assert_allclose(sae.l1_gamma_uniform(0.0, lo, hi), 1.0, atol=1e-12)
    np.testing.assert_allclose(sae.l1_gamma_uniform(1e-7, lo, hi), 1.0, atol=1e-5)
    gammas = sae.l1_gamma_uniform(np.geomspace(1e-6, 1e-1, 6), lo, hi)
    assert np.all(np.diff(np.abs(1 - gammas)) > 0)
    # for U[0, 1]: 1 − γ = 3λ/(4 + λ) ≈ 3λ/4
    np.testing.assert_allclose(1 - sae.l1_gamma_uniform(1e-4), 3e-4 / 4, rtol=1e-3)


# 4) Monte Carlo of an actual SAE forward pass on the toy data.


@pytest.mark.parametrize(
    "lam, lo, hi, density", [(0.2, 0.0, 1.0, 1.0), (0.8, 0.0, 1.0, 0.25), (1.5, 0.0, 1.0, 1.0), (0.6, 0.5, 1.5, 0.1)]
)
def test_one_sparse_monte_carlo(lam, lo, hi, density):
    rng = np.random.default_rng(0)
    B, m, n = 200_000, 6, 4
    D = orthonormal(m, n, rng)
    a = rng.uniform(lo, hi, size=B) * (rng.random(B) < density)  # inactive samples are x = 0
    which = rng.integers(0, n, size=B)
    X = a[:, None] * D[:, which].T  # (B, m): one feature at a time
    f, X_hat = encode_decode(X, D, lam)
    np.testing.assert_allclose(f[np.arange(B), which], sae.l1_optimal_code(a, lam), atol=1e-12)

    num, den = (X_hat**2).sum(1), (X * X_hat).sum(1)
    gamma = sae.relative_reconstruction_bias(X, X_hat)
    assert abs(gamma - sae.l1_gamma_uniform(lam, lo, hi)) < 4 * ratio_se(num, den)
    l0, sq = (f > 0).sum(1), ((X - X_hat) ** 2).sum(1)
    assert abs(l0.mean() - sae.l1_expected_l0(lam, lo, hi, density)) < 4 * mean_se(l0)
    assert abs(sq.mean() - sae.l1_expected_mse(lam, lo, hi, density)) < 4 * mean_se(sq)
    loss = sq + lam * f.sum(1)
    assert abs(loss.mean() - sae.l1_expected_loss(lam, lo, hi, density)) < 4 * mean_se(loss)
    assert gamma < 1


def test_many_orthogonal_features_factorise():
    # features fire independently and together; with orthonormal directions the code of each is
    # still its own soft threshold, L0 and MSE add over features, and γ is the one-feature γ
    rng = np.random.default_rng(1)
    B, m, n, p, lam = 100_000, 8, 5, 0.3, 0.5
    D = orthonormal(m, n, rng)
    A = rng.uniform(0.0, 1.0, size=(B, n)) * (rng.random((B, n)) < p)
    X = A @ D.T
    f, X_hat = encode_decode(X, D, lam)
    np.testing.assert_allclose(f, sae.l1_optimal_code(A, lam), atol=1e-12)
    num, den = (X_hat**2).sum(1), (X * X_hat).sum(1)
    gamma = sae.relative_reconstruction_bias(X, X_hat)
    assert abs(gamma - sae.l1_gamma_uniform(lam)) < 4 * ratio_se(num, den)
    l0, sq = (f > 0).sum(1), ((X - X_hat) ** 2).sum(1)
    assert abs(l0.mean() - n * sae.l1_expected_l0(lam, density=p)) < 4 * mean_se(l0)
    assert abs(sq.mean() - n * sae.l1_expected_mse(lam, density=p)) < 4 * mean_se(sq)


# 5) A learned decoder bias: the optimum moves b_dec along the features (c* > 0).


def per_feature_objective(c: float, lam: float, p: float, lo: float, hi: float) -> float:
    """(1 − p)c² + p E[ℓ(a − c)] with ℓ(a') = min_f (a' − f)² + λ f, by quadrature."""
    t = lam / 2

    def ell(a):  # ℓ(a − c)
        return (a - c) ** 2 if a - c < t else lam * (a - c) - t**2

    return (1 - p) * c**2 + p * integrate(ell, lo, hi, c + t)


@SETTINGS
@given(lam=st.floats(0.0, 2.5), p=st.floats(0.01, 1.0), r=ranges)
def test_decoder_bias_minimises_the_per_feature_loss(lam, p, r):
    lo, hi = r
    c = float(sae.l1_decoder_bias(lam, p, lo, hi))
    assert 0.0 <= c <= hi
    best = per_feature_objective(c, lam, p, lo, hi)
    for other in (c - 1e-3, c + 1e-3, 0.0, 0.5 * c, min(hi, 2 * c + 0.01)):
        assert best <= per_feature_objective(other, lam, p, lo, hi) + 1e-10
    np.testing.assert_allclose(sae.l1_expected_loss_learned_bias(lam, p, lo, hi), best, atol=1e-9)
    assert best <= sae.l1_expected_loss(lam, lo, hi, p) + 1e-12  # the bias can only help


def test_decoder_bias_limits():
    assert sae.l1_decoder_bias(0.0, 0.1) == 0.0  # nothing to gain without a penalty
    np.testing.assert_allclose(sae.l1_gamma_learned_bias(0.0, 0.1), 1.0)
    c = sae.l1_decoder_bias([0.05, 0.1, 0.2, 0.4, 0.8], 0.1)
    assert np.all(np.diff(c) > 0)
    np.testing.assert_allclose(c, [0.0027, 0.0054, 0.0104, 0.0195, 0.0340], atol=1e-4)
    np.testing.assert_allclose(sae.l1_decoder_bias(0.5, 1.0), 0.4571, atol=1e-4)
    # sparse features: close to the b_dec = 0 forms
    np.testing.assert_allclose(sae.l1_gamma_learned_bias(0.2, 0.01), sae.l1_gamma_uniform(0.2), atol=2e-3)


@pytest.mark.parametrize("lam, lo, hi, p", [(0.4, 0.0, 1.0, 0.1), (0.8, 0.0, 1.0, 0.3), (0.6, 0.5, 1.5, 0.2)])
def test_learned_bias_monte_carlo(lam, lo, hi, p):
    # independent features on orthonormal directions, b_dec = c*·Σd_i, encoder b_enc = −(c* + λ/2)
    rng = np.random.default_rng(2)
    B, m, n = 200_000, 6, 3
    D = orthonormal(m, n, rng)
    A = rng.uniform(lo, hi, size=(B, n)) * (rng.random((B, n)) < p)
    X = A @ D.T
    c = float(sae.l1_decoder_bias(lam, p, lo, hi))
    b_dec = c * D.sum(axis=1)
    f = np.maximum((X - b_dec) @ D - lam / 2, 0.0)
    X_hat = f @ D.T + b_dec
    num, den = (X_hat**2).sum(1), (X * X_hat).sum(1)
    gamma = sae.relative_reconstruction_bias(X, X_hat)
    assert abs(gamma - sae.l1_gamma_learned_bias(lam, p, lo, hi)) < 4 * ratio_se(num, den)
    l0, sq = (f > 0).sum(1), ((X - X_hat) ** 2).sum(1)
    assert abs(l0.mean() - n * sae.l1_expected_l0_learned_bias(lam, p, lo, hi)) < 4 * mean_se(l0)
    assert abs(sq.mean() - n * sae.l1_expected_mse_learned_bias(lam, p, lo, hi)) < 4 * mean_se(sq)
