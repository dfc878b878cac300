"""Exact expected loss of the ReLU output toy model x' = ReLU(WᵀWx + b).

Source: Toy Models of Superposition (Elhage et al. 2022), "Mathematical Understanding" — the loss
splits over sparsity patterns: L = Σ_k p^k S^(n−k) L_k, where L_k sums the loss of every input with
exactly k active features. L_0 = Σ_i I_i ReLU(b_i)² (all features off: only the bias leaks), and for
1-sparse inputs ReLU makes negative interference free.

Data: x_i = 0 with probability S_i (sparsity), else u_i ~ U[0, 1]; features independent.
Loss: Σ_i I_i E[(x_i − x'_i)²] (summed over features).

Each term is computed exactly, with no quadrature. For an active set A the pre-activation of
output i is z_i = b_i + Σ_{j∈A} G_ij u_j with G = WᵀW, an affine function of independent uniforms,
and the only integrals needed are of the form

    E[(c + Σ_j a_j u_j)₊^q] = q!/(q+k)! · Σ_{T⊆[k]} (−1)^(k−|T|) (c + Σ_{j∈T} a_j)₊^(q+k) / Π_j a_j

(k repeated divided differences of the antiderivative of (·)₊^q), plus the cross moment
E[u_i (z_i)₊], which one integration by parts in u_i reduces to the same form. Cost grows as n·3^n,
so this is for small n (the phase-diagram and property-test sizes).
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np
from scipy import optimize

__all__ = [
    "expected_loss",
    "pattern_terms",
    "pattern_loss",
    "MAX_FEATURES",
    "PolygonOptimum",
    "regular_polygon_optimum",
]

MAX_FEATURES = 12
# Coefficients below _TINY_COEFF are replaced by their mean (error O(a²)); the cross moment divides by
# a_i², so below _TINY_CROSS_COEFF it uses its first-order expansion instead (error O(a_i²) ≈ 1e-8,
# where the exact formula would lose ~eps/a_i² to cancellation).
_TINY_COEFF = 1e-6
_TINY_CROSS_COEFF = 1e-4


def _positive_power(x: np.ndarray, e: int) -> np.ndarray:
    """(x)₊^e elementwise, with (x)₊^0 = 1[x > 0]."""
    return np.where(x > 0, np.abs(x) ** e, 0.0)


@functools.cache
def _corners(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The 2^k corners T ⊆ [k] of the unit cube as 0/1 rows (2^k, k) and their signs (−1)^(k−|T|)."""
    masks = np.array(list(itertools.product((0, 1), repeat=k)), dtype=float)
    signs = (-1.0) ** (k - masks.sum(axis=1))
    masks.flags.writeable = signs.flags.writeable = False  # shared by every call: read-only
    return masks, signs


def _positive_part_moment(c: float, a: np.ndarray, q: int) -> float:
    """E[(c + Σ_j a_j u_j)₊^q] for independent u_j ~ U[0, 1], exactly (divided differences)."""
    a = np.asarray(a, dtype=float)
    tiny = np.abs(a) < _TINY_COEFF
    c = c + 0.5 * float(a[tiny].sum())
    a = a[~tiny]
    k = a.size
    if k == 0:
        return float(_positive_power(np.asarray(c), q))
    masks, signs = _corners(k)
    corners = _positive_power(c + masks @ a, q + k)
    scale = math.factorial(q) / math.factorial(q + k) / float(np.prod(a))
    return float(scale * (signs @ corners))


def _cross_moment(c: float, a_rest: np.ndarray, a_i: float) -> float:
    """E[u_i · (c + Σ_j a_rest_j u_j + a_i u_i)₊] for independent uniforms.

    With R = c + Σ_j a_rest_j u_j, integrating by parts in u_i:
    ∫₀¹ u (R + a u)₊ du = (R + a)₊² / (2a) − [(R + a)₊³ − R₊³] / (6a²).
    """
    if abs(a_i) < _TINY_CROSS_COEFF:
        # first order in a_i: ½ E[R₊] + a_i/3 · P(R > 0)
        return 0.5 * _positive_part_moment(c, a_rest, 1) + a_i / 3.0 * _positive_part_moment(c, a_rest, 0)
    first = _positive_part_moment(c + a_i, a_rest, 2) / (2.0 * a_i)
    second = (_positive_part_moment(c + a_i, a_rest, 3) - _positive_part_moment(c, a_rest, 3)) / (6.0 * a_i**2)
    return first - second


def _pattern_loss(G: np.ndarray, b: np.ndarray, importance: np.ndarray, active: tuple[int, ...]) -> float:
    """Σ_i I_i E[(x_i − ReLU(z_i))² | exactly the features in `active` are on]."""
    total = 0.0
    act = list(active)
    for i in range(b.size):
        a = G[i, act]
        relu_sq = _positive_part_moment(b[i], a, 2)  # E[ReLU(z_i)²]
        if i in active:
            pos = act.index(i)
            cross = _cross_moment(b[i], np.delete(a, pos), a[pos])  # E[u_i ReLU(z_i)]
            total += importance[i] * (1.0 / 3.0 - 2.0 * cross + relu_sq)
        else:
            total += importance[i] * relu_sq
    return total


def _check_inputs(W, b, importance, sparsity):
    W = np.asarray(W, dtype=float)
    if W.ndim != 2:
        raise ValueError(f"W must be (n_hidden, n_features) for one model, got shape {W.shape}")
    n = W.shape[1]
    if n > MAX_FEATURES:
        raise ValueError(f"exact expansion costs n·3^n; n_features={n} > {MAX_FEATURES} is too large")
    b = np.broadcast_to(np.asarray(b, dtype=float), (n,))
    importance = np.broadcast_to(np.asarray(importance, dtype=float), (n,))
    sparsity = np.broadcast_to(np.asarray(sparsity, dtype=float), (n,))
    if np.any((sparsity < 0) | (sparsity > 1)):
        raise ValueError("sparsity must lie in [0, 1]")
    return W, b, importance, sparsity


def pattern_terms(W: np.ndarray, b: np.ndarray, importance: np.ndarray, sparsity: float | np.ndarray) -> np.ndarray:
    """Probability-weighted loss by number of active features: T_k = Σ_{|A|=k} P(A)·L(A), shape (n+1,).

    For a common sparsity S this is p^k S^(n−k) L_k of the paper, with T_0 = S^n Σ_i I_i ReLU(b_i)².
    W is one model's (n_hidden, n_features) matrix; W_i (feature i's direction) is column i.
    """
    W, b, importance, sparsity = _check_inputs(W, b, importance, sparsity)
    n = W.shape[1]
    G = W.T @ W  # (F, F)
    density = 1.0 - sparsity
    terms = np.zeros(n + 1)
    for k in range(n + 1):
        for active in itertools.combinations(range(n), k):
            on = np.zeros(n, dtype=bool)
            on[list(active)] = True
            prob = float(np.prod(np.where(on, density, sparsity)))
            if prob == 0.0:
                continue
            terms[k] += prob * _pattern_loss(G, b, importance, active)
    return terms


def pattern_loss(W: np.ndarray, b: np.ndarray, importance: np.ndarray, active: tuple[int, ...] = ()) -> float:
    """Expected loss given that exactly the features in `active` are on (their values U[0, 1]).

    With no feature active this is L_0 = Σ_i I_i ReLU(b_i)²: only the bias leaks into the output.
    """
    W, b, importance, _ = _check_inputs(W, b, importance, 0.0)
    return _pattern_loss(W.T @ W, b, importance, tuple(active))


def expected_loss(W: np.ndarray, b: np.ndarray, importance: np.ndarray, sparsity: float | np.ndarray) -> float:
    """Exact E[Σ_i I_i (x_i − ReLU(WᵀWx + b)_i)²] for one model (W (n_hidden, n_features), b (n,))."""
    return float(pattern_terms(W, b, importance, sparsity).sum())


class PolygonOptimum(NamedTuple):
    """The best regular k-gon in 2D for uniform features: every ‖W_i‖ = norm, every b_i = bias."""

    norm: float
    bias: float
    loss: float


@functools.lru_cache(maxsize=256)
def regular_polygon_optimum(k: int, sparsity: float) -> PolygonOptimum:
    """The exact optimum of the symmetric k-gon: W_i = a·(cos 2πi/k, sin 2πi/k), b_i = β, importance 1,
    minimised over (a, β) on the exact expected loss (TMS "The Geometry of Superposition": uniform
    features in 2D form a regular polygon; this is the size and bias it should have at density 1 − S).

    The loss is smooth in (a, β) away from a = 0; L-BFGS-B from (a, β) = (1.1, −0.2) (near the
    optimum at every density where the pentagon is stable) and from (1, 0) keeps the better.
    """
    if k < 2 or k > MAX_FEATURES:
        raise ValueError(f"k must lie in [2, {MAX_FEATURES}], got {k}")
    angles = 2.0 * np.pi * np.arange(k) / k
    ring = np.stack([np.cos(angles), np.sin(angles)])  # (2, k)
    ones = np.ones(k)

    def loss(x: np.ndarray) -> float:
        return expected_loss(x[0] * ring, x[1] * ones, ones, sparsity)

    best = min(
        (
            optimize.minimize(loss, start, method="L-BFGS-B", options={"ftol": 1e-13, "gtol": 1e-9})
            for start in ((1.1, -0.2), (1.0, 0.0))
        ),
        key=lambda r: r.fun,
    )
    return PolygonOptimum(norm=abs(float(best.x[0])), bias=float(best.x[1]), loss=float(best.fun))
