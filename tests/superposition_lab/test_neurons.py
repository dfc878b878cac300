"""Neuron measurements on hand-made weights, and the nulls that calibrate their thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from superposition_lab import neurons


def _W() -> torch.Tensor:
    # neuron 0: feature 0 only; neuron 1: features 1 and 2 equally; neuron 2: weak; neuron 3: negative only
    return torch.tensor([[[1.0, 0.0, -0.3], [0.0, 0.8, 0.8], [0.2, 0.1, 0.0], [-1.0, -1.0, 0.0]]])


def test_purity_count_and_top_feature() -> None:
    W = _W()
    assert torch.allclose(neurons.neuron_purity(W)[0, :2], torch.tensor([1.0, 0.5]))
    assert torch.allclose(neurons.neuron_feature_count(W)[0, :2], torch.tensor([1.0, 2.0]))
    assert neurons.neuron_top_feature(W)[0, 0] == 0
    assert neurons.neuron_purity(W)[0, 3] == 0  # no positive weight: responds to nothing


def test_alive_mono_and_poly_counts() -> None:
    W = _W()
    assert neurons.alive_neurons(W).tolist() == [[True, True, False, False]]
    assert neurons.n_monosemantic(W).item() == 1 and neurons.n_polysemantic(W).item() == 1


def test_without_hidden_relu_both_signs_count() -> None:
    W = _W()
    # h = Wx: neuron 0 moves with feature 2 too (purity 1/(1 + 0.09)); neuron 3 responds to 0 and 1 equally
    purity = neurons.neuron_purity(W, hidden_relu=False)[0]
    assert torch.allclose(purity, torch.tensor([1 / 1.09, 0.5, 0.8, 0.5]))
    assert neurons.alive_neurons(W, hidden_relu=False).tolist() == [[True, True, False, True]]
    assert neurons.n_monosemantic(W, hidden_relu=False).item() == 1
    assert neurons.n_polysemantic(W, hidden_relu=False).item() == 2
    # a sign flip of a row is the same model without a hidden ReLU: nothing changes
    assert torch.equal(neurons.neuron_purity(-W, hidden_relu=False), neurons.neuron_purity(W, hidden_relu=False))


def test_monosemantic_features() -> None:
    W = _W()
    assert neurons.monosemantic_features(W).tolist() == [[True, False, False]]
    # two monosemantic neurons on the same feature mark it once; a polysemantic one marks nothing
    W2 = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.9, 0.1], [0.7, 0.0, 0.7]]])
    assert neurons.monosemantic_features(W2).tolist() == [[False, True, False]]


def test_feature_count_of_k_equal_features() -> None:
    for k in range(1, 6):
        W = torch.zeros(1, 1, 8)
        W[0, 0, :k] = 0.7
        assert neurons.neuron_feature_count(W).item() == pytest.approx(k)
        assert neurons.neuron_purity(W).item() == pytest.approx(1 / k)


def test_purity_threshold_against_random_nulls() -> None:
    """The numbers quoted in neurons.py: how often a random neuron counts as monosemantic."""
    g = np.random.default_rng(0)
    G = torch.from_numpy(g.standard_normal((200_000, 1, 10)))
    relu_rate = (neurons.neuron_purity(G) >= neurons.MONOSEMANTIC_PURITY).double().mean().item()
    abs_rate = (neurons.neuron_purity(G, hidden_relu=False) >= neurons.MONOSEMANTIC_PURITY).double().mean().item()
    assert relu_rate == pytest.approx(0.064, abs=0.003) and abs_rate < 5e-4
    # the dense optimum without a privileged basis, W = R[I | 0] with R a random rotation of R^5
    R = torch.from_numpy(ortho_group.rvs(5, size=20_000, random_state=1))
    W = torch.cat([R, torch.zeros(20_000, 5, 5, dtype=R.dtype)], dim=-1)
    mono = neurons.n_monosemantic(W, hidden_relu=False).double()
    assert mono.mean().item() == pytest.approx(0.094, abs=0.01) and mono.max().item() < 5


def test_alive_threshold_against_xavier_init() -> None:
    """An untrained Xavier layer (std √(2/15) for n = 10, m = 5) is mostly 'alive': the threshold
    separates used from decayed neurons of a trained model, not random from trained ones."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(100_000, 1, 10, generator=g, dtype=torch.float64) * (2 / 15) ** 0.5
    assert neurons.alive_neurons(W).double().mean().item() == pytest.approx(0.59, abs=0.01)


def test_rejects_wrong_rank() -> None:
    with pytest.raises(ValueError, match="instances, neurons, features"):
        neurons.neuron_purity(torch.ones(3, 4))
