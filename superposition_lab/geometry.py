"""Feature geometry: tegum factors and the polytopes they form.

Source: Toy Models of Superposition (Elhage et al. 2022), "The Geometry of Superposition" —
"Feature Dimensionality" and "Why these geometric structures?". Features embedded in orthogonal
subspaces cannot interfere, so a configuration splits into *tegum factors*: the connected
components of the interference graph, where features i and j are joined when either projects
onto the other ("two subgraphs are disconnected if and only if they are in different tegum
factors"). Each factor of k features spanning d dimensions is then named by its size and its
features' dimensionality D_i: a digon (2 features, D = 1/2), triangle (3, 2/3), tetrahedron
(4, 3/4), pentagon (5, 2/5), square antiprism (8, 3/8), or a dedicated dimension (1, 1).

Functions here work on one model, W of shape (H, F) — feature i's direction is column i — given
as a numpy array or a torch tensor; `superposition_lab.metrics` holds the batched (I, H, F) ones.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
import numpy as np
import scipy.sparse.csgraph

from analytic import polytopes
from superposition_lab.metrics import REPRESENTED_THRESHOLD

__all__ = [
    "Factor",
    "PROJECTION_TOL",
    "interference_graph",
    "tegum_factors",
    "recognize",
    "polytope_counts",
    "angles_2d",
    "angular_gaps",
    "superposed",
    "most_negative_partner",
    "onset_layout",
]

# Features i, j share a factor when |Ŵ_i·W_j| or |Ŵ_j·W_i| exceeds this. A trained model's
# "orthogonal" features sit at |Ŵ_i·W_j| ≲ 0.02; an antipodal partner projects ≈ 1, a pentagon
# neighbour ≈ 0.3 — so 0.1 separates "no interference" from "a factor-mate" with room on both sides.
PROJECTION_TOL = 0.1


@attrs.frozen
class Factor:
    """One tegum factor: its features, the dimensions they span, their D_i, its polytope name."""

    features: tuple[int, ...]
    n_dims: int  # numerical rank of the factor's columns
    dimensionality: float  # mean D_i over the factor's features
    spread: float  # max − min D_i: ≈ 0 for a uniform polytope
    polytope: str | None  # analytic.polytopes.KNOWN name, or None if the (size, D) pair is unknown

    @property
    def size(self) -> int:
        return len(self.features)


def _as_numpy(W: Any) -> np.ndarray:
    W = W.detach().cpu().numpy() if hasattr(W, "detach") else np.asarray(W)
    W = W.astype(float)
    if W.ndim != 2:
        raise ValueError(f"W must be (hidden, features) for one model, got shape {W.shape}")
    return W


def interference_graph(W: Any, threshold: float = REPRESENTED_THRESHOLD, tol: float = PROJECTION_TOL) -> np.ndarray:
    """Adjacency (F, F) of represented features (‖W_i‖ > threshold) that project onto each other.

    Edge i–j iff |Ŵ_i·W_j| > tol or |Ŵ_j·W_i| > tol; unrepresented features have no edges.
    """
    W = _as_numpy(W)
    norms = np.linalg.norm(W, axis=0)  # (F,)
    alive = norms > threshold
    proj = np.abs((W / np.where(alive, norms, 1.0)).T @ W)  # (F, F): |Ŵ_i·W_j|
    adj = (proj > tol) | (proj.T > tol)  # noqa: SIM300 — proj.T is the transpose, not a constant
    adj &= alive[:, None] & alive[None, :]
    np.fill_diagonal(adj, False)
    return adj


def tegum_factors(
    W: Any, threshold: float = REPRESENTED_THRESHOLD, tol: float = PROJECTION_TOL
) -> list[tuple[int, ...]]:
    """The represented features grouped into connected components of the interference graph,
    each sorted, largest factor first (ties by first feature)."""
    W = _as_numpy(W)
    alive = np.linalg.norm(W, axis=0) > threshold
    adj = interference_graph(W, threshold, tol)
    _, label = scipy.sparse.csgraph.connected_components(adj, directed=False)
    groups: dict[int, list[int]] = {}
    for i in np.flatnonzero(alive):
        groups.setdefault(int(label[i]), []).append(int(i))
    return sorted((tuple(g) for g in groups.values()), key=lambda g: (-len(g), g))


def recognize(
    W: Any, threshold: float = REPRESENTED_THRESHOLD, tol: float = PROJECTION_TOL, dim_tol: float = 0.03
) -> list[Factor]:
    """Every tegum factor of W, named by (size, mean D_i) when both match a known polytope.

    dim_tol is the band around the polytope's D (0.03: the spread of trained D_i in the TMS
    calibration); a factor whose D_i spread exceeds 2·dim_tol is non-uniform and left unnamed.
    """
    W = _as_numpy(W)
    D = polytopes.dimensionality(W)  # (F,)
    out = []
    for feats in tegum_factors(W, threshold, tol):
        idx = list(feats)
        d = D[idx]
        sv = np.linalg.svd(W[:, idx], compute_uv=False)
        rank = int((sv > 1e-6 * max(sv.max(), 1e-12)).sum())
        spread = float(d.max() - d.min())
        p = polytopes.match(len(idx), float(d.mean()), dim_tol) if spread <= 2 * dim_tol else None
        out.append(Factor(feats, rank, float(d.mean()), spread, p.name if p else None))
    return out


def polytope_counts(W: Any, **kw: Any) -> Counter:
    """How many factors of each kind W has: Counter({"digon": 3, "pentagon": 1, None: 1, …})."""
    return Counter(f.polytope for f in recognize(W, **kw))


# ---------------------------------------------------------------- two hidden dimensions


def angles_2d(W: Any) -> np.ndarray:
    """Angle of each feature direction in degrees, in [0, 360), (F,); needs H = 2."""
    W = _as_numpy(W)
    if W.shape[0] != 2:
        raise ValueError(f"angles need a 2-D hidden space, got H = {W.shape[0]}")
    return np.degrees(np.arctan2(W[1], W[0])) % 360.0


def angular_gaps(W: Any, mask: np.ndarray | None = None) -> np.ndarray:
    """Gaps in degrees between angularly consecutive features (those in `mask`), ascending, (k,).

    The k gaps of k features add up to 360°; a regular k-gon has every gap 360°/k. One feature
    has the single gap 360°, none gives an empty array.
    """
    ang = angles_2d(W)
    if mask is not None:
        ang = ang[np.asarray(mask, dtype=bool)]
    if ang.size == 0:
        return ang
    a = np.sort(ang)
    return np.sort(np.diff(np.concatenate([a, [a[0] + 360.0]])))


# ---------------------------------------------------------------- the onset of superposition


def superposed(W: Any, threshold: float = REPRESENTED_THRESHOLD, tol: float = PROJECTION_TOL) -> np.ndarray:
    """Mask (F,) of represented features that share a tegum factor with another feature — "in
    superposition" (TMS "Demonstrating Superposition": represented "by having them not be
    orthogonal to each other"); a represented feature outside this mask has a dedicated dimension."""
    return np.asarray(interference_graph(W, threshold, tol).any(axis=1))


def most_negative_partner(W: Any, threshold: float = REPRESENTED_THRESHOLD) -> np.ndarray:
    """For each represented feature, the smallest cosine between Ŵ_i and another represented Ŵ_j, (F,).

    −1 for a feature in an antipodal pair (W_j = −c·W_i, TMS "Demonstrating Superposition");
    NaN for unrepresented features and for a feature with no represented partner.
    """
    W = _as_numpy(W)
    norms = np.linalg.norm(W, axis=0)  # (F,)
    alive = norms > threshold
    unit = W / np.where(alive, norms, 1.0)
    cos = unit.T @ unit  # (F, F)
    cos[~(alive[:, None] & alive[None, :])] = np.inf
    np.fill_diagonal(cos, np.inf)
    low = cos.min(axis=1)
    return np.where(np.isfinite(low), low, np.nan)


def onset_layout(n_features: int, n_hidden: int, n_represented: int) -> np.ndarray:
    """Status per feature, (F,), that TMS describes at the onset of superposition for features
    sorted by importance: 2 = dedicated dimension, 1 = in an antipodal pair, 0 = not represented.

    "It starts with less important features [...] Initially this involves arranging them in
    antipodal pairs" (TMS "Demonstrating Superposition"): k > m represented features in m dimensions
    as antipodal pairs take k − m pairs, one dimension each, so the 2m − k most important features
    keep dedicated dimensions and the next 2(k − m) pair up; the rest are not represented.
    """
    if not n_hidden < n_represented <= min(n_features, 2 * n_hidden):
        raise ValueError(f"antipodal pairs fit m < k ≤ min(n, 2m) features (got k={n_represented}, m={n_hidden})")
    status = np.zeros(n_features, dtype=int)
    dedicated = 2 * n_hidden - n_represented
    status[:dedicated] = 2
    status[dedicated:n_represented] = 1
    return status
