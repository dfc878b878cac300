"""analytic.linear against Monte Carlo and the trained linear model."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analytic import linear


def test_variance_formula() -> None:
    assert linear.feature_variance(0.0) == 1 / 3 - 1 / 4
    assert np.isclose(linear.feature_variance(0.9), 0.1 / 3 - 0.01 / 4)


def test_top_m_and_optimal_loss_by_hand() -> None:
    imp = np.array([0.2, 1.0, 0.5, 0.1])
    assert linear.top_m(imp, 2).tolist() == [False, True, True, False]
    var = 1 / 12
    assert np.isclose(linear.optimal_loss(imp, 2, 0.0), var * (0.2 + 0.1))
    assert linear.optimal_loss(imp, 4, 0.3) == 0.0


@settings(max_examples=8, deadline=None, derandomize=True)
@given(n=st.integers(2, 6), m=st.integers(1, 5), sparsity=st.floats(0.0, 0.95), seed=st.integers(0, 10**6))
def test_optimum_matches_monte_carlo_of_the_projection(n: int, m: int, sparsity: float, seed: int) -> None:
    """The top-m projection with mean-bias reaches the closed-form loss (Monte Carlo, seeded)."""
    g = torch.Generator().manual_seed(seed)
    imp = torch.rand(n, generator=g, dtype=torch.float64) + 0.05
    keep = torch.from_numpy(linear.top_m(imp.numpy(), m))
    N = 200_000
    x = torch.rand((N, n), generator=g, dtype=torch.float64) * (
        torch.rand((N, n), generator=g, dtype=torch.float64) > sparsity
    )
    x_hat = torch.where(keep, x, torch.full_like(x, (1 - sparsity) / 2))  # dropped features: their mean
    per = ((x - x_hat) ** 2 * imp).sum(-1)
    se = per.std().item() / N**0.5
    expected = linear.optimal_loss(imp.numpy(), m, sparsity)
    assert abs(per.mean().item() - expected) <= 5 * se + 1e-12


def test_optimal_bias_by_hand() -> None:
    # kept features (top-2 by importance): bias 0; dropped ones: their mean p/2
    imp = np.array([0.2, 1.0, 0.5, 0.1])
    assert linear.optimal_bias(imp, 2, 0.4).tolist() == [0.3, 0.0, 0.0, 0.3]
    # the TDS setup: the five smallest biases are the five most important features
    b = linear.optimal_bias(np.linspace(1.0, 0.1, 40), 5, 0.9)
    assert set(np.argsort(b, kind="stable")[:5].tolist()) == {0, 1, 2, 3, 4}


def test_optimal_bias_is_the_mean_residual_of_the_projection() -> None:
    """b* = E[x] − P·E[x] for P the projection onto the kept coordinates (per-feature sparsity too)."""
    imp = np.array([1.0, 0.9, 0.8, 0.7])
    sparsity = np.array([0.0, 0.95, 0.5, 0.5])  # feature 1 is rare: I·Var ranks it last
    kept = linear.top_m(imp * linear.feature_variance(sparsity), 2)
    mean = (1.0 - sparsity) / 2.0
    P = np.diag(kept.astype(float))
    assert np.allclose(linear.optimal_bias(imp, 2, sparsity), mean - P @ mean)


def test_optimal_offdiag_mass_is_zero_unless_tied() -> None:
    assert linear.optimal_offdiag_mass(np.linspace(1.0, 0.1, 40), 5) == 0.0
    assert np.isnan(linear.optimal_offdiag_mass(np.array([1.0, 0.5, 0.5, 0.1]), 2))  # tie at the m-th place
    assert linear.optimal_offdiag_mass(np.array([1.0, 0.5, 0.5, 0.1]), 3) == 0.0  # tie inside the kept set


@settings(max_examples=20, deadline=None, derandomize=True)
@given(n=st.integers(2, 8), m=st.integers(1, 7), seed=st.integers(0, 10**6))
def test_no_linear_model_explains_more_than_m_features(n: int, m: int, seed: int) -> None:
    """Σ_i (1 − e_i) = n − ‖Id − WᵀW‖_F² ≤ m for any W of rank ≤ m (e_i with the optimal bias)."""
    m = min(m, n)
    W = np.random.default_rng(seed).standard_normal((m, n)) * 0.7
    explained = n - np.sum((np.eye(n) - W.T @ W) ** 2)
    assert explained <= linear.max_explained_features(m) + 1e-9
    # the top-m projection reaches it exactly
    P = np.diag(linear.top_m(np.arange(n, 0, -1.0), m).astype(float))
    assert np.isclose(n - np.sum((np.eye(n) - P) ** 2), linear.max_explained_features(m))
