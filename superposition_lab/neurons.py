"""Measurements on neurons: the basis directions of a privileged hidden layer (TMS "Superposition in a
Privileged Basis", "Computation in Superposition").

A neuron k of a layer h = ReLU(W x + …) responds to feature i when W_ki > 0: only then does feature i
alone switch the neuron on. A neuron is monosemantic when one feature carries (almost) all of its
positive input weight, polysemantic when several do. Every function takes W of shape (I, H, F) —
row k of an instance's (H, F) matrix is neuron k's input weights — and returns the instance axis first.
"""

from __future__ import annotations

import torch

__all__ = [
    "ALIVE_THRESHOLD",
    "MONOSEMANTIC_PURITY",
    "neuron_strength",
    "neuron_purity",
    "neuron_feature_count",
    "neuron_top_feature",
    "alive_neurons",
    "n_monosemantic",
    "n_polysemantic",
]

ALIVE_THRESHOLD = 0.5  # a neuron counts when its largest positive input weight exceeds this (cf. ‖W_i‖ > 0.5)
MONOSEMANTIC_PURITY = 0.9  # share of the positive squared input weight its top feature must carry
_EPS = 1e-12


def _positive_sq(W: torch.Tensor) -> torch.Tensor:
    if W.ndim != 3:
        raise ValueError(f"W must be (instances, neurons, features), got shape {tuple(W.shape)}")
    return torch.relu(W).square()


def neuron_strength(W: torch.Tensor) -> torch.Tensor:
    """Largest positive input weight of each neuron, max_i (W_ki)₊, (I, H)."""
    return torch.relu(W).amax(dim=-1)


def neuron_purity(W: torch.Tensor) -> torch.Tensor:
    """Share of neuron k's positive squared input weight that its top feature carries,
    max_i (W_ki)₊² / Σ_i (W_ki)₊², (I, H): 1 for a monosemantic neuron, 1/k for k equal features."""
    w = _positive_sq(W)
    return w.amax(dim=-1) / w.sum(dim=-1).clamp_min(_EPS)


def neuron_feature_count(W: torch.Tensor) -> torch.Tensor:
    """Effective number of features a neuron responds to: the participation ratio
    (Σ_i w_i)² / Σ_i w_i² of w_i = (W_ki)₊², (I, H). 1 when monosemantic, k for k equal features."""
    w = _positive_sq(W)
    return w.sum(dim=-1).square() / w.square().sum(dim=-1).clamp_min(_EPS)


def neuron_top_feature(W: torch.Tensor) -> torch.Tensor:
    """Index of the feature with the largest positive weight into each neuron, (I, H)."""
    return torch.relu(W).argmax(dim=-1)


def alive_neurons(W: torch.Tensor, threshold: float = ALIVE_THRESHOLD) -> torch.Tensor:
    """Mask (I, H) of neurons some feature drives strongly: max_i (W_ki)₊ > threshold."""
    return neuron_strength(W) > threshold


def n_monosemantic(
    W: torch.Tensor, purity: float = MONOSEMANTIC_PURITY, threshold: float = ALIVE_THRESHOLD
) -> torch.Tensor:
    """Number of alive neurons whose top feature carries ≥ `purity` of their positive weight, (I,)."""
    return (alive_neurons(W, threshold) & (neuron_purity(W) >= purity)).sum(dim=-1)


def n_polysemantic(
    W: torch.Tensor, purity: float = MONOSEMANTIC_PURITY, threshold: float = ALIVE_THRESHOLD
) -> torch.Tensor:
    """Number of alive neurons whose top feature carries < `purity` of their positive weight, (I,)."""
    return (alive_neurons(W, threshold) & (neuron_purity(W) < purity)).sum(dim=-1)
