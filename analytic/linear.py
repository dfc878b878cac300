"""Closed forms for the tied linear toy model x' = WᵀWx + b.

Source: Toy Models of Superposition (Elhage et al. 2022), "Demonstrating Superposition" and
"Mathematical Understanding": the linear model behaves like PCA — it represents the m most
important features on orthogonal directions and drops the rest, at every sparsity.

Data: feature x_i is 0 with probability S (sparsity), otherwise U[0, 1]; density p = 1 − S.
Loss: Σ_i I_i E[(x_i − x'_i)²] (summed over features, expectation over data).

Derivation. With independent features the covariance is Var(x)·Id, Var(x) = E[x²] − E[x]² =
p/3 − p²/4. For M = WᵀW of rank ≤ m and the optimal bias (the mean of the residual), the loss is
Var(x)·Σ_i I_i ‖(Id − M)_i‖²; the best symmetric PSD rank-m M is the projection onto the m
coordinates with the largest importance, which leaves Var(x)·Σ of the n − m smallest importances.
"""

from __future__ import annotations

import numpy as np

__all__ = ["feature_variance", "top_m", "optimal_loss"]


def feature_variance(sparsity: float | np.ndarray) -> float | np.ndarray:
    """Var(x_i) = p/3 − p²/4 for x_i = 0 w.p. S, else U[0, 1] (p = 1 − S)."""
    p = 1.0 - np.asarray(sparsity, dtype=float)
    return p / 3.0 - p**2 / 4.0


def top_m(importance: np.ndarray, n_hidden: int) -> np.ndarray:
    """Boolean mask (n,) of the features the optimal linear model represents: the top-m by importance.

    Ties are broken by feature index (stable sort), so with equal importances the answer is not
    unique; callers that compare sets should use strictly ordered importances.
    """
    importance = np.asarray(importance, dtype=float)
    if importance.ndim != 1:
        raise ValueError(f"importance must be 1-D (n_features,), got shape {importance.shape}")
    order = np.argsort(-importance, kind="stable")
    mask = np.zeros(importance.shape, dtype=bool)
    mask[order[: min(n_hidden, importance.size)]] = True
    return mask


def optimal_loss(importance: np.ndarray, n_hidden: int, sparsity: float | np.ndarray) -> float:
    """Optimal expected loss of the tied linear model: Var(x)·Σ of the n − m smallest importances.

    `sparsity` may be a scalar S or a per-feature array (n,), in which case each dropped feature
    costs I_i·Var(x_i) with its own density (the top-m are then chosen by I_i·Var(x_i), which is what
    the weighted-PCA argument maximises).
    """
    importance = np.asarray(importance, dtype=float)
    var = np.broadcast_to(feature_variance(sparsity), importance.shape)
    weighted = importance * var
    kept = top_m(weighted, n_hidden)
    return float(weighted[~kept].sum())
