"""The toy kind's data: each feature's density at a grid point, and the sampler that draws it.

Shared by the kind (verify/experiments/toy.py), which trains on it, and by metrics that draw fresh
inputs from the same distribution (per-feature reconstruction error, the adversarial attack), so a
metric never re-derives the distribution its model was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from superposition_lab.data import AnticorrelatedSets, CorrelatedSets, Sampler, SparseUniform, feature_sets

__all__ = ["point_density", "densities", "toy_sampler"]


def point_density(config: Any, point: dict[str, float]) -> np.ndarray:
    """Density 1 − S of every feature at one grid point, (F,): the point's sparsity, and the last
    feature's own density where `perturbed_density` is set ("Perturbing a Single Feature"; a config
    without that field, such as the absolute-value kind's, has none)."""
    sparsity = point.get("sparsity", config.sparsity)
    row = np.full(config.n_features, 1.0 - float(sparsity))
    perturbed = point.get("perturbed_density", getattr(config, "perturbed_density", None))
    if perturbed is not None:
        row[-1] = perturbed
    return row


def densities(config: Any, points: list[dict[str, float]]) -> np.ndarray:
    """`point_density` at each grid point, (P, F)."""
    return np.array([point_density(config, p) for p in points])


def toy_sampler(config: Any, density: torch.Tensor) -> Sampler:
    """The data distribution for density (I, F): independent features, or correlated / anticorrelated
    sets, where a set's features share one density (its first member's)."""
    if config.data == "independent":
        return SparseUniform(density)
    index = feature_sets(config.n_features, config.set_size, config.n_sets)
    first_member = torch.from_numpy(np.unique(index.numpy(), return_index=True)[1])  # (G,)
    cls = CorrelatedSets if config.data == "correlated" else AnticorrelatedSets
    return cls(density[:, first_member.to(density.device)], index.to(density.device))
