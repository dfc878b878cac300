"""analytic.relu_output: the exact sparsity-pattern expansion against Monte Carlo and hand cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analytic import relu_output


def _monte_carlo(W, b, imp, sparsity, seed, n_samples=400_000):
    g = torch.Generator().manual_seed(seed)
    W, b, imp = (torch.as_tensor(a, dtype=torch.float64) for a in (W, b, imp))
    n = W.shape[1]
    x = torch.rand((n_samples, n), generator=g, dtype=torch.float64)
    x = x * (torch.rand((n_samples, n), generator=g, dtype=torch.float64) >= torch.as_tensor(sparsity))
    out = torch.relu(x @ W.T @ W + b)
    per = ((x - out) ** 2 * imp).sum(-1)
    return per.mean().item(), per.std().item() / n_samples**0.5


@settings(max_examples=8, deadline=None, derandomize=True)
@given(n=st.integers(1, 5), m=st.integers(1, 3), sparsity=st.floats(0.0, 0.95), seed=st.integers(0, 10**6))
def test_exact_loss_matches_monte_carlo(n: int, m: int, sparsity: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(m, n)) / np.sqrt(m)
    b = rng.normal(size=n) * 0.5
    imp = rng.uniform(0.1, 1.0, size=n)
    mean, se = _monte_carlo(W, b, imp, sparsity, seed)
    assert abs(relu_output.expected_loss(W, b, imp, sparsity) - mean) <= 5 * se


def test_per_feature_sparsity_matches_monte_carlo() -> None:
    rng = np.random.default_rng(3)
    W, b, imp = rng.normal(size=(2, 4)), rng.normal(size=4) * 0.3, rng.uniform(0.2, 1, 4)
    sparsity = np.array([0.1, 0.5, 0.8, 0.95])
    mean, se = _monte_carlo(W, b, imp, sparsity, 0)
    assert abs(relu_output.expected_loss(W, b, imp, sparsity) - mean) <= 5 * se


def test_hand_cases() -> None:
    # L_0 = Σ I_i ReLU(b_i)²: only positive biases leak when every feature is off
    W, b, imp = np.zeros((1, 3)), np.array([0.5, -1.0, 0.2]), np.array([1.0, 2.0, 3.0])
    assert relu_output.pattern_loss(W, b, imp, ()) == pytest.approx(0.25 + 3 * 0.04)
    # antipodal pair W = [1, −1], b = 0: loss (1 + r)p²/6 in TMS's 2-in-1 analysis (r = 1, p = 1/2)
    antipodal = relu_output.expected_loss(np.array([[1.0, -1.0]]), np.zeros(2), np.ones(2), 0.5)
    assert antipodal == pytest.approx(2 * 0.25 / 6)
    # an unrepresented feature with zero bias costs E[x²] = p/3
    assert relu_output.expected_loss(np.zeros((1, 1)), np.zeros(1), np.ones(1), 0.4) == pytest.approx(0.6 / 3)
    # a dedicated feature (W = 1, b = 0) is reconstructed exactly
    assert relu_output.expected_loss(np.ones((1, 1)), np.zeros(1), np.ones(1), 0.4) == pytest.approx(0.0, abs=1e-15)


def test_terms_sum_to_the_loss_and_tiny_weights_are_stable() -> None:
    rng = np.random.default_rng(1)
    W, b, imp = rng.normal(size=(2, 4)), rng.normal(size=4), np.ones(4)
    terms = relu_output.pattern_terms(W, b, imp, 0.7)
    assert terms.shape == (5,) and terms.sum() == pytest.approx(relu_output.expected_loss(W, b, imp, 0.7))
    W_small = W.copy()
    W_small[:, 0] = 1e-9  # near-zero coefficients must not blow up the divided differences
    a = relu_output.expected_loss(W_small, b, imp, 0.7)
    W_small[:, 0] = 0.0
    assert a == pytest.approx(relu_output.expected_loss(W_small, b, imp, 0.7), rel=1e-6)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="n_features=13"):
        relu_output.expected_loss(np.zeros((2, 13)), np.zeros(13), np.ones(13), 0.5)
    with pytest.raises(ValueError, match="sparsity"):
        relu_output.expected_loss(np.zeros((2, 3)), np.zeros(3), np.ones(3), 1.5)


def test_small_self_overlap_keeps_precision() -> None:
    """Regression: G_ii ≈ 8e-7 once lost ~4e-4 to cancellation in the cross moment (quadrature: 0.106676)."""
    W = np.array([[-8.71376029e-04, -9.99520823e-01]])
    loss = relu_output.expected_loss(W, np.array([0.39771764, 0.00135241]), np.array([1.0, 3.0]), 0.2)
    assert loss == pytest.approx(0.106676, abs=2e-6)


def test_regular_polygon_optimum_is_a_minimum_of_the_exact_loss() -> None:
    """The pentagon's optimal (‖W_i‖, b_i) at density 0.05: every small step in norm or bias costs loss,
    and the optimum beats the paper's printed relation ‖W_i‖ = 1/(1 − b_i) at the same bias."""
    best = relu_output.regular_polygon_optimum(5, 0.95)
    assert 1.1 < best.norm < 1.2 and -0.3 < best.bias < -0.2
    angles = 2 * np.pi * np.arange(5) / 5
    ring = np.stack([np.cos(angles), np.sin(angles)])

    def loss(a: float, beta: float) -> float:
        return relu_output.expected_loss(a * ring, np.full(5, beta), np.ones(5), 0.95)

    assert loss(best.norm, best.bias) == pytest.approx(best.loss, rel=1e-9)
    for da, db in ((0.01, 0), (-0.01, 0), (0, 0.01), (0, -0.01)):
        assert loss(best.norm + da, best.bias + db) > best.loss
    assert loss(1 / (1 - best.bias), best.bias) > best.loss + 1e-4
