"""Metrics of correlated and anticorrelated feature sets for the `toy` experiment (TMS "The Geometry
of Superposition": "Correlated and Anticorrelated Features", "Local Almost-Orthogonal Bases").

Features come in sets (`data = "correlated" | "anticorrelated"`, `set_size`, `n_sets`); these metrics
compare the interference and cosines of features within a set with those across sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from superposition_lab.geometry import PROJECTION_TOL
from verify.experiments.geometry_metrics import axis_values, represented_mask
from verify.kind import Metric, Outcome

__all__ = ["set_metrics", "COLLAPSED_COS"]

# A set has collapsed onto its principal component when its features' mean cosine is at least this
# (TMS "Collapsing of Correlated Features"; the threshold tms.correlated-collapse uses): side by side
# on a hexagon a pair sits at cos ≈ 0.3–0.5, collapsed it sits at cos → 1.
COLLAPSED_COS = 0.99


def _set_masks(c: Any) -> tuple[np.ndarray, np.ndarray]:
    """same (F, F): i ≠ j in one set; sets (G', F): membership of each set with ≥ 2 features."""
    idx = c.set_index()
    same = idx[:, None] == idx[None, :]
    np.fill_diagonal(same, False)
    labels, counts = np.unique(idx, return_counts=True)
    sets = idx[None, :] == labels[counts >= 2][:, None]
    return same, sets


def _projections_sq(o: Outcome) -> np.ndarray:
    """(Ŵ_i·W_j)², (P, S, F, F); rows of unrepresented features are zero."""
    W = o.arrays["W"]
    norms = np.linalg.norm(W, axis=2)  # (P, S, F)
    unit = W / np.where(norms > 1e-12, norms, 1.0)[:, :, None, :]
    proj = np.einsum("psha,pshb->psab", unit, W) ** 2
    return np.where(represented_mask(o)[..., None], proj, 0.0)


def _interference_within(o: Outcome, c: Any) -> np.ndarray:
    same, _ = _set_masks(c)
    return (_projections_sq(o) * same).sum(-1).max(-1)  # (P, S)


def _interference_across(o: Outcome, c: Any) -> np.ndarray:
    same, _ = _set_masks(c)
    other = ~same & ~np.eye(len(same), dtype=bool)
    return (_projections_sq(o) * other).sum(-1).max(-1)  # (P, S)


def _set_cosines(o: Outcome, c: Any) -> np.ndarray:
    """Mean cosine between the features of each set (sets of ≥ 2), (P, S, G'); unrepresented
    features count as cosine 0 with everything."""
    W = o.arrays["W"]
    norms = np.linalg.norm(W, axis=2)
    unit = np.where(represented_mask(o)[:, :, None, :], W / np.where(norms > 1e-12, norms, 1.0)[:, :, None, :], 0.0)
    cos = np.einsum("psha,pshb->psab", unit, unit)  # (P, S, F, F)
    _, sets = _set_masks(c)
    out = []
    for member in sets:
        pair = member[:, None] & member[None, :] & ~np.eye(len(member), dtype=bool)
        out.append((cos * pair).sum((-1, -2)) / pair.sum())
    return np.stack(out, axis=-1) if out else np.zeros(W.shape[:2] + (0,))


def _sets_orthogonal(o: Outcome, c: Any) -> np.ndarray:
    """TMS "Organization of Correlated and Anticorrelated Features": "models prefer to represent
    correlated features in orthogonal dimensions" — 1 where every feature of every set is represented
    and each two features of one set have |cos| ≤ PROJECTION_TOL (within ≈ 6° of a right angle), else 0,
    (P, S). An unrepresented set member has no direction, so it never counts as orthogonal."""
    W = o.arrays["W"]
    rep = represented_mask(o)  # (P, S, F)
    norms = np.linalg.norm(W, axis=2)
    unit = W / np.where(norms > 1e-12, norms, 1.0)[:, :, None, :]
    cos = np.abs(np.einsum("psha,pshb->psab", unit, unit))  # (P, S, F, F)
    same, sets = _set_masks(c)
    members = sets.any(axis=0)  # (F,): features in a set of ≥ 2
    all_there = rep[..., members].all(axis=-1)
    flat = np.where(same, cos, 0.0).max(axis=(-1, -2)) <= PROJECTION_TOL
    return (all_there & flat).astype(float)


def _n_collapsed(o: Outcome, c: Any) -> np.ndarray:
    return (_set_cosines(o, c) >= COLLAPSED_COS).sum(axis=-1).astype(float)  # (P, S)


def _collapsed_by_density(o: Outcome, c: Any) -> np.ndarray:
    """n_collapsed_sets (P, S) with the grid points ordered from sparse to dense."""
    return _n_collapsed(o, c)[np.argsort(-axis_values(o, "sparsity"))]


def _intermediate_counts(o: Outcome, c: Any) -> np.ndarray:
    counts = _collapsed_by_density(o, c)
    n_sets = _set_masks(c)[1].shape[0]
    inside = [len({x for x in counts[:, s] if 0 < x < n_sets}) for s in range(counts.shape[1])]
    return np.broadcast_to(np.array(inside, dtype=float), counts.shape).copy()


set_metrics: dict[str, Metric] = {
    "within_set_interference": Metric(
        _interference_within, "largest Σ_{j in i's set, j≠i}(Ŵ_i·W_j)² over represented i"
    ),
    "across_set_interference": Metric(
        _interference_across, "largest Σ_{j outside i's set}(Ŵ_i·W_j)² over represented i"
    ),
    "set_cosines": Metric(_set_cosines, "mean cosine between the features of each set of ≥ 2 (one value per set)"),
    "sets_orthogonal": Metric(
        _sets_orthogonal,
        "1 when every feature of every set is represented and every two features of one set have |cos| ≤ 0.1, else 0",
    ),
    "n_collapsed_sets": Metric(
        _n_collapsed,
        "sets (of ≥ 2) whose mean within-set cosine is ≥ 0.99 (collapsed onto their sum)",
    ),
    "collapse_intermediate_counts": Metric(
        _intermediate_counts,
        "how many distinct values strictly between 0 and the number of sets n_collapsed_sets takes along the "
        "sweep (sweep-wide)",
        sweep_wide=True,
    ),
}
