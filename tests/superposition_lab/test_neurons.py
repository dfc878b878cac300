"""Neuron measurements on hand-made weights."""

from __future__ import annotations

import pytest
import torch

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


def test_rejects_wrong_rank() -> None:
    with pytest.raises(ValueError, match="instances, neurons, features"):
        neurons.neuron_purity(torch.ones(3, 4))
