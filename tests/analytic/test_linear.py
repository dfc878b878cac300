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
