"""Metrics on hand-built configurations (TMS "Feature Dimensionality")."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superposition_lab import metrics


def _batch(*Ws: list[list[float]]) -> torch.Tensor:
    return torch.tensor(Ws, dtype=torch.float64)


def test_dedicated_and_antipodal() -> None:
    # features 0,1 antipodal in dim 0; feature 2 dedicated in dim 1; feature 3 unlearned
    W = _batch([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    assert metrics.feature_norms(W)[0].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert metrics.represented(W)[0].tolist() == [True, True, True, False]
    assert metrics.n_represented(W).item() == 3
    assert metrics.frobenius_sq(W).item() == 3.0
    assert metrics.interference(W)[0].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert metrics.dimensionality(W)[0].tolist() == [0.5, 0.5, 1.0, 0.0]
    assert metrics.dstar(W).item() == pytest.approx(2 / 3)
    assert metrics.max_interference(W).item() == 1.0
    assert metrics.gram(W)[0, 0, 1].item() == -1.0


def test_pentagon_dimensionality_is_two_fifths() -> None:
    angles = torch.arange(5, dtype=torch.float64) * 2 * math.pi / 5
    W = torch.stack([angles.cos(), angles.sin()])[None]  # (1, 2, 5)
    assert torch.allclose(metrics.dimensionality(W), torch.full((1, 5), 0.4, dtype=torch.float64))
    assert metrics.dstar(W).item() == pytest.approx(0.4)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), scale=st.floats(0.1, 10.0))
def test_dimensionality_is_rotation_and_scale_invariant(seed: int, scale: float) -> None:
    g = torch.Generator().manual_seed(seed)
    W = torch.randn((2, 3, 6), generator=g, dtype=torch.float64)
    Q, _ = torch.linalg.qr(torch.randn((3, 3), generator=g, dtype=torch.float64))
    assert torch.allclose(metrics.dimensionality(scale * Q @ W), metrics.dimensionality(W), atol=1e-9)
    # Σ_i D_i never exceeds the number of dimensions
    assert (metrics.dimensionality(W).sum(-1) <= 3 + 1e-9).all()


def test_shape_guard() -> None:
    with pytest.raises(ValueError, match="instances, hidden, features"):
        metrics.dimensionality(torch.zeros(3, 4))


def test_relative_reconstruction_bias_from_the_public_metrics_module() -> None:
    """DESIGN's public API: superposition_lab.metrics.relative_reconstruction_bias(x, x_hat) — x̂ = c·x gives γ = c."""
    x = torch.randn((2, 100, 4), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(metrics.relative_reconstruction_bias(x, 0.8 * x), torch.full((2,), 0.8))


def test_offdiag_mass_by_hand() -> None:
    # an antipodal pair adds 2·(−1)² = 2; a dedicated feature and an unlearned one add nothing
    W = _batch([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    assert metrics.offdiag_mass(W).item() == pytest.approx(2.0)
    # orthogonal features: no off-diagonal mass, whatever their norms
    assert metrics.offdiag_mass(_batch([[2.0, 0.0], [0.0, 0.5]])).item() == pytest.approx(0.0)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), h=st.integers(1, 4), f=st.integers(1, 7))
def test_offdiag_mass_is_the_gram_matrix_off_its_diagonal(seed: int, h: int, f: int) -> None:
    """Σ_{i≠j} (WᵀW)_ij² from the H×H form equals the F×F Gram matrix with its diagonal removed."""
    W = torch.randn((2, h, f), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    G = metrics.gram(W)
    direct = (G**2).sum(dim=(1, 2)) - (torch.diagonal(G, dim1=1, dim2=2) ** 2).sum(dim=-1)
    assert torch.allclose(metrics.offdiag_mass(W), direct, atol=1e-9)
    assert (metrics.offdiag_mass(W) >= -1e-9).all()
