"""Uniform feature configurations and their dimensionalities.

Source: Toy Models of Superposition (Elhage et al. 2022), "The Geometry of Superposition" —
"Feature Dimensionality" and "Uniform Superposition". Features with equal importance and sparsity
arrange themselves as uniform polytopes, and each feature's dimensionality

    D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²        (j = i included)

sits on a few fractions: 1 (dedicated dimension), 3/4 (tetrahedron), 2/3 (triangle), 1/2 (digon,
an antipodal pair), 2/5 (pentagon), 3/8 (square antiprism). Larger configurations are "tegum
products": factors embedded in orthogonal subspaces, so no interference crosses factors and each
feature keeps the dimensionality of its factor.

Why these fractions. For unit columns, Σ_j (Ŵ_i·W_j)² = Ŵ_iᵀ (W Wᵀ) Ŵ_i. All the configurations here
are tight frames (W Wᵀ = (k/m)·Id for k unit vectors in m dims), so every D_i = m/k. More generally,
by Cauchy–Schwarz D_i ≤ W_iᵀ (W Wᵀ)⁺ W_i, and summing gives Σ_i D_i ≤ rank(W) ≤ m, with equality
exactly when every W_i lies in an eigenspace of W Wᵀ — the precise form of "the D_i add up to m
when features are packed efficiently".

Conventions: W has shape (m, k) — m hidden dimensions, k features, feature i is column W[:, i]
(the lab stores (instances, m, k); `dimensionality` accepts any leading batch axes).
"""

from __future__ import annotations

from fractions import Fraction

import attrs
import numpy as np
import scipy.linalg

__all__ = [
    "Polytope",
    "KNOWN",
    "configuration",
    "expected_dimensionality",
    "match",
    "simplex",
    "regular_polygon",
    "square_antiprism",
    "tegum_product",
    "dimensionality",
    "project_out",
    "simplex_dimensionality",
    "simplex_cosine",
]

# a column with ‖W_i‖² ≤ this counts as "not learned" (D_i = 0), as in superposition_lab/metrics.py
_UNLEARNED_NORM_SQ = 1e-12


@attrs.frozen
class Polytope:
    """A uniform configuration: k unit feature vectors in m dims, each with dimensionality D."""

    name: str
    n_features: int  # k
    n_dims: int  # m
    dimensionality: Fraction  # D_i, the same for every feature (= m/k for a tight frame)


# 1) The building blocks: the regular simplex, the regular polygon, the square antiprism.


def simplex(n: int) -> np.ndarray:
    """The regular simplex with n vertices, (n − 1, n): the basis vectors e_1..e_n of R^n projected
    orthogonally to (1, …, 1), normalised, and written in an orthonormal basis of that hyperplane.

    e_i − 1/n has norm² (n − 1)/n and inner products −1/n, so the unit columns have all pairwise
    cosines −1/(n − 1) and D_i = (n − 1)/n. n = 2 is the digon, 3 the triangle, 4 the tetrahedron.
    """
    if n < 2:
        raise ValueError(f"a simplex needs n >= 2 vertices, got {n}")
    # Helmert basis of the hyperplane ⊥ (1,…,1): row k−1 is (1,…,1, −k, 0,…,0)/√(k(k+1)), k ones.
    basis = np.zeros((n - 1, n))
    for k in range(1, n):
        basis[k - 1, :k] = 1.0
        basis[k - 1, k] = -float(k)
        basis[k - 1] /= np.sqrt(k * (k + 1))
    # basis @ (e_i − 1/n) = basis[:, i] because basis ⊥ (1,…,1); then scale the columns to unit norm.
    return basis / np.sqrt((n - 1) / n)


def regular_polygon(k: int) -> np.ndarray:
    """k unit vectors in 2-D at angles 2πj/k, (2, k). A tight frame for k ≥ 3, so D_i = 2/k."""
    if k < 1:
        raise ValueError(f"a polygon needs k >= 1 vertices, got {k}")
    angles = 2.0 * np.pi * np.arange(k) / k
    return np.stack([np.cos(angles), np.sin(angles)])


def square_antiprism(height: float = 1.0 / np.sqrt(3.0)) -> np.ndarray:
    """8 unit vectors in 3-D, (3, 8): a square at z = +h and one turned by 45° at z = −h.

    With r² = 1 − h², every feature has Σ_j (Ŵ_i·W_j)² = 4r⁴ + 8h⁴ ≥ 8/3, so D_i ≤ 3/8 with
    equality only at h² = 1/3 (the tight frame) — the default. Other antiprisms fall short: the
    equal-edge one (h² = 1/(1 + 2√2)) has D ≈ 0.366, the 8-point Thomson solution (h² ≈ 0.314)
    D ≈ 0.3744; the 3/8 the TMS plot shows is the tight one.
    """
    if not 0.0 < height < 1.0:
        raise ValueError(f"height must lie in (0, 1), got {height}")
    r = np.sqrt(1.0 - height**2)
    angles = np.concatenate([np.arange(4) * np.pi / 2, np.arange(4) * np.pi / 2 + np.pi / 4])
    z = np.concatenate([np.full(4, height), np.full(4, -height)])
    return np.stack([r * np.cos(angles), r * np.sin(angles), z])


# 2) The named configurations of "Uniform Superposition" and the table recognition uses.

_BUILDERS = {
    "dedicated": lambda: np.ones((1, 1)),
    "digon": lambda: simplex(2),
    "triangle": lambda: simplex(3),
    "tetrahedron": lambda: simplex(4),
    "pentagon": lambda: regular_polygon(5),
    "square_antiprism": square_antiprism,
}

KNOWN: dict[str, Polytope] = {
    p.name: p
    for p in [
        Polytope("dedicated", 1, 1, Fraction(1)),
        Polytope("digon", 2, 1, Fraction(1, 2)),
        Polytope("triangle", 3, 2, Fraction(2, 3)),
        Polytope("tetrahedron", 4, 3, Fraction(3, 4)),
        Polytope("pentagon", 5, 2, Fraction(2, 5)),
        Polytope("square_antiprism", 8, 3, Fraction(3, 8)),
    ]
}


def _known(name: str) -> Polytope:
    if name not in KNOWN:
        raise ValueError(f"unknown configuration {name!r}; known: {', '.join(KNOWN)}")
    return KNOWN[name]


def configuration(name: str) -> np.ndarray:
    """The named uniform configuration W, (m, k), with unit-norm feature columns."""
    return _BUILDERS[_known(name).name]()


def expected_dimensionality(name: str) -> Fraction:
    """D_i of every feature of the named configuration (e.g. Fraction(2, 5) for "pentagon")."""
    return _known(name).dimensionality


def match(n_features: int, dim: float, tol: float = 0.03) -> Polytope | None:
    """The known polytope with this many features and a dimensionality within `tol`, else None.

    The key is (size, D) because the TMS plots name clusters by D alone and tegum factors by size;
    note D cannot tell apart two tight frames of the same (k, m) (a cube also has D = 3/8).
    """
    for p in KNOWN.values():
        if p.n_features == n_features and abs(float(p.dimensionality) - dim) <= tol:
            return p
    return None


# 3) Tegum products and the dimensionality itself.


def tegum_product(*Ws: np.ndarray) -> np.ndarray:
    """Direct sum of configurations: block-diagonal (Σ m, Σ k), each factor in its own subspace.

    Features of different factors are orthogonal, so every feature keeps its factor's D_i.
    """
    if not Ws:
        raise ValueError("tegum_product needs at least one factor")
    for W in Ws:
        if np.ndim(W) != 2:
            raise ValueError(f"each factor must be 2-D (m, k), got shape {np.shape(W)}")
    return scipy.linalg.block_diag(*[np.asarray(W, dtype=float) for W in Ws])


def dimensionality(W: np.ndarray) -> np.ndarray:
    """D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)² for each feature column, (..., k); 0 where W_i = 0.

    Reference numpy version of superposition_lab.metrics.dimensionality. Invariant under rotations
    of the hidden space, a global rescaling and sign flips of columns; rescaling column j changes
    every D_i with Ŵ_i·W_j ≠ 0.
    """
    W = np.asarray(W, dtype=float)
    if W.ndim < 2:
        raise ValueError(f"W must be (..., m, k), got shape {W.shape}")
    norms_sq = np.einsum("...mi,...mi->...i", W, W)  # (..., k)
    gram = np.einsum("...mi,...mj->...ij", W, W)  # (..., k, k): W_i·W_j
    alive = norms_sq > _UNLEARNED_NORM_SQ
    # Σ_j (Ŵ_i·W_j)² = Σ_j (W_i·W_j)² / ‖W_i‖²
    denom = (gram**2).sum(axis=-1) / np.where(alive, norms_sq, 1.0)
    return np.where(alive, norms_sq / np.where(alive, denom, 1.0), 0.0)


# 4) "Aside: Polytopes and Low-Rank Matrices": the configuration that leaves out one direction.


def project_out(direction: np.ndarray) -> np.ndarray:
    """The n basis vectors e_1..e_n of R^n projected orthogonally to `direction`, written in an
    orthonormal basis of the hyperplane ⊥ direction: (n − 1, n), and WᵀW = Id − v vᵀ/‖v‖².

    TMS: "starting with n basis vectors and projecting them to a space orthogonal to the given
    vectors" — the most identity-like WᵀW that does not represent `direction`. For the dense
    direction (1, …, 1) this is the regular simplex (`simplex(n)` up to a rotation and a scale);
    any other direction gives features of unequal norms and unequal angles.
    """
    v = np.asarray(direction, dtype=float)
    if v.ndim != 1 or v.size < 2 or not np.any(v):
        raise ValueError(f"direction must be a non-zero vector of length >= 2, got {v!r}")
    n = v.size
    # complete v/‖v‖ to an orthonormal basis of R^n; the other n − 1 columns span v⊥
    Q, _ = np.linalg.qr(np.column_stack([v / np.linalg.norm(v), np.eye(n)[:, : n - 1]]))
    basis = Q[:, 1:].T  # (n − 1, n): rows orthonormal and ⊥ v
    return basis  # column i = coordinates of the projection of e_i


def simplex_dimensionality(n: int) -> Fraction:
    """D_i of every vertex of the regular simplex with n vertices: (n − 1)/n."""
    if n < 2:
        raise ValueError(f"a simplex needs n >= 2 vertices, got {n}")
    return Fraction(n - 1, n)


def simplex_cosine(n: int) -> Fraction:
    """The cosine between any two vertices of the regular simplex with n vertices: −1/(n − 1)."""
    if n < 2:
        raise ValueError(f"a simplex needs n >= 2 vertices, got {n}")
    return Fraction(-1, n - 1)
