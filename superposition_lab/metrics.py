"""Measurements on toy-model weights (TMS "Demonstrating Superposition", "The Geometry of Superposition").

Every function takes W of shape (I, H, F) — feature i's direction W_i is column i — and returns a
tensor with the instance axis first. The SAE measurements live in `superposition_lab.sae_metrics`;
`relative_reconstruction_bias` is also reachable from here, where the public API names it.
"""

from __future__ import annotations

import torch

from superposition_lab.sae_metrics import relative_reconstruction_bias

__all__ = [
    "feature_norms",
    "represented",
    "n_represented",
    "frobenius_sq",
    "gram",
    "interference",
    "max_interference",
    "dimensionality",
    "dimensionality_sum",
    "dstar",
    "relative_reconstruction_bias",
    "offdiag_mass",
    "REPRESENTED_THRESHOLD",
]

REPRESENTED_THRESHOLD = 0.5  # a feature is "represented" when ‖W_i‖ > 0.5 (TMS figures' cut-off)
_EPS = 1e-12


def _check(W: torch.Tensor) -> None:
    if W.ndim != 3:
        raise ValueError(f"W must be (instances, hidden, features), got shape {tuple(W.shape)}")


def feature_norms(W: torch.Tensor) -> torch.Tensor:
    """‖W_i‖ per feature, (I, F)."""
    _check(W)
    return W.norm(dim=1)


def represented(W: torch.Tensor, threshold: float = REPRESENTED_THRESHOLD) -> torch.Tensor:
    """Boolean mask (I, F): features whose direction has norm above `threshold`."""
    return feature_norms(W) > threshold


def n_represented(W: torch.Tensor, threshold: float = REPRESENTED_THRESHOLD) -> torch.Tensor:
    """How many features each instance represents, (I,)."""
    return represented(W, threshold).sum(dim=-1)


def frobenius_sq(W: torch.Tensor) -> torch.Tensor:
    """‖W‖_F² per instance, (I,) — roughly "how many features the model has learned"."""
    _check(W)
    return (W**2).sum(dim=(1, 2))


def gram(W: torch.Tensor) -> torch.Tensor:
    """WᵀW per instance, (I, F, F): diagonal = ‖W_i‖², off-diagonal = W_i·W_j."""
    _check(W)
    return torch.bmm(W.transpose(1, 2), W)  # (I, F, H) @ (I, H, F)


def _projections_sq(W: torch.Tensor) -> torch.Tensor:
    """(Ŵ_i·W_j)² for all i, j, (I, F, F); row i is zero where W_i = 0."""
    norms = feature_norms(W)  # (I, F)
    unit = W / norms.clamp_min(_EPS)[:, None, :]  # (I, H, F)
    return torch.bmm(unit.transpose(1, 2), W) ** 2  # (I, F, F)


def interference(W: torch.Tensor) -> torch.Tensor:
    """Σ_{j≠i} (Ŵ_i·W_j)² per feature, (I, F): how much other features project onto feature i."""
    proj = _projections_sq(W)
    return proj.sum(dim=-1) - torch.diagonal(proj, dim1=1, dim2=2)


def max_interference(W: torch.Tensor, threshold: float = REPRESENTED_THRESHOLD) -> torch.Tensor:
    """Largest interference Σ_{j≠i}(Ŵ_i·W_j)² among represented features (‖W_i‖ > threshold), (I,).

    Unrepresented features are left out: their direction Ŵ_i is meaningless when W_i ≈ 0.
    """
    inter = torch.where(represented(W, threshold), interference(W), torch.zeros_like(W[:, 0, :]))
    return inter.max(dim=-1).values


def dimensionality(W: torch.Tensor) -> torch.Tensor:
    """Feature dimensionality D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)² (j = i included), (I, F).

    TMS "Feature Dimensionality": the fraction of a dimension feature i gets — 1 for a dedicated
    dimension, 1/2 for an antipodal pair, 2/5 in a pentagon. Zero for a feature with W_i = 0.
    """
    proj = _projections_sq(W)
    norms_sq = feature_norms(W) ** 2
    denom = proj.sum(dim=-1)
    return torch.where(denom > _EPS, norms_sq / denom.clamp_min(_EPS), torch.zeros_like(denom))


def dstar(W: torch.Tensor) -> torch.Tensor:
    """Dimensions per feature D* = m / ‖W‖_F², (I,) (TMS "Feature Dimensionality")."""
    return W.shape[1] / frobenius_sq(W)


def dimensionality_sum(W: torch.Tensor) -> torch.Tensor:
    """Σ_i D_i per instance, (I,) — TMS "Feature Dimensionality": about m when features are packed
    efficiently. Always ≤ rank(W) ≤ m, with equality when every W_i lies in an eigenspace of W Wᵀ
    (e.g. any tight frame; see analytic.polytopes)."""
    return dimensionality(W).sum(dim=-1)


def offdiag_mass(W: torch.Tensor) -> torch.Tensor:
    """Σ_{i≠j} (W_i·W_j)² per instance, (I,): the squared off-diagonal mass of WᵀW.

    The TDS article ("Results Analysis") reads superposition off the off-diagonal elements of WᵀW:
    0 when features sit on orthogonal directions (or are dropped); an antipodal pair of unit vectors
    adds 2. Computed as ‖WᵀW‖_F² − Σ_i ‖W_i‖⁴ = ‖WWᵀ‖_F² − Σ_i ‖W_i‖⁴ (the H×H form is cheaper).
    """
    _check(W)
    WWt = torch.bmm(W, W.transpose(1, 2))  # (I, H, F) @ (I, F, H) → (I, H, H)
    return (WWt**2).sum(dim=(1, 2)) - (feature_norms(W) ** 4).sum(dim=-1)
