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

__all__ = [
    "feature_variance",
    "top_m",
    "optimal_loss",
    "optimal_bias",
    "optimal_offdiag_mass",
    "max_explained_features",
]


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


def optimal_bias(importance: np.ndarray, n_hidden: int, sparsity: float | np.ndarray) -> np.ndarray:
    """The optimal linear model's bias b, (n,): 0 on the represented features, E[x_i] = p_i/2 elsewhere.

    With WᵀW = P the projection onto the kept coordinates, the best b is the mean residual
    E[x] − P·E[x]: zero where P keeps the coordinate, the feature's mean where it drops it. (The TDS
    article's "for linear models, the biases are smallest for the top five features".)
    """
    importance = np.asarray(importance, dtype=float)
    density = np.broadcast_to(1.0 - np.asarray(sparsity, dtype=float), importance.shape)
    kept = top_m(importance * feature_variance(1.0 - density), n_hidden)
    return np.where(kept, 0.0, density / 2.0)


def optimal_offdiag_mass(importance: np.ndarray, n_hidden: int) -> float:
    """Σ_{i≠j} (WᵀW)_ij² of the optimal linear model: 0 when the m-th and (m+1)-th importances differ.

    The optimum WᵀW is the projection onto the top-m coordinates, diag(1, …, 1, 0, …, 0): W itself is
    only fixed up to a rotation of R^m (W → QW), which leaves WᵀW unchanged. Off-diagonal entries
    appear only where importances tie at the m-th place (any projection onto a subspace of the tied
    coordinates is then optimal); with a tie this returns NaN (not unique).
    """
    importance = np.sort(np.asarray(importance, dtype=float))[::-1]
    if n_hidden < importance.size and importance[n_hidden - 1] == importance[n_hidden]:
        return float("nan")
    return 0.0


def max_explained_features(n_hidden: int) -> float:
    """The most variance, in features' worth Σ_i (1 − e_i), e_i = E[(x_i − x'_i)²]/Var(x_i), that any
    tied linear model reconstructs from independent features: m.

    With optimal bias, e_i = ‖(Id − WᵀW)_i‖² (row i), so Σ_i e_i = ‖Id − WᵀW‖_F² ≥ n − m, since WᵀW has
    rank ≤ m and the best rank-m approximation of Id leaves n − m singular values 1; a suboptimal
    bias only adds error. So Σ_i (1 − e_i) ≤ m at every sparsity and importance.
    """
    return float(n_hidden)
