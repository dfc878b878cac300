"""Metrics of correlated and anticorrelated feature sets for the `toy` experiment (TMS "The Geometry
of Superposition": "Correlated and Anticorrelated Features", "Local Almost-Orthogonal Bases").

Features come in sets (`data = "correlated" | "anticorrelated"`, `set_size`, `n_sets`); these metrics
compare the interference and cosines of features within a set with those across sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from verify.experiments.geometry_metrics import represented_mask
from verify.kind import Metric, Outcome

__all__ = ["set_metrics"]


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


set_metrics: dict[str, Metric] = {
    "within_set_interference": Metric(
        _interference_within, "largest Σ_{j in i's set, j≠i}(Ŵ_i·W_j)² over represented i"
    ),
    "across_set_interference": Metric(
        _interference_across, "largest Σ_{j outside i's set}(Ŵ_i·W_j)² over represented i"
    ),
    "set_cosines": Metric(_set_cosines, "mean cosine between the features of each set of ≥ 2 (one value per set)"),
}
