"""The `polytope` experiment: a configuration built in closed form, measured like a trained model.

TMS "Aside: Polytopes and Low-Rank Matrices": projecting the n basis vectors of R^n orthogonally
to one direction gives the most identity-like WᵀW that does not represent that direction; for the
dense direction (1, …, 1) it is the regular simplex ("the minimal possible superposition"), with
every D_i = (n − 1)/n and every cosine −1/(n − 1). Nothing is trained: the configuration comes
from `analytic.polytopes.project_out`, is optionally turned by a random rotation and scaled (D_i
and angles must not notice), and is measured with the lab's own metrics. Meant to be driven by a
hypothesis [property] over n and the seed.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np
import torch
from attrs import validators as v

from analytic import polytopes
from superposition_lab import metrics
from verify.kind import ExperimentKind, Metric, Outcome, RunContext
from verify.registry import EXPERIMENTS

__all__ = ["PolytopeConfig", "POLYTOPE"]


@attrs.frozen
class PolytopeConfig:
    n: int = attrs.field(default=3, validator=[v.ge(2), v.le(64)])  # basis vectors e_1..e_n of R^n
    # the direction W does not represent: ones = (1, …, 1); ramp = (1, 2, …, n); random = Gaussian
    direction: str = attrs.field(default="ones", validator=v.in_(("ones", "ramp", "random")))
    rotate: bool = True  # turn the hidden space by a random rotation and scale W by a random factor
    seed: int = 0


def _direction(config: PolytopeConfig, g: np.random.Generator) -> np.ndarray:
    if config.direction == "ones":
        return np.ones(config.n)
    if config.direction == "ramp":
        return np.arange(1.0, config.n + 1.0)
    return g.standard_normal(config.n)


def run_polytope(config: PolytopeConfig, ctx: RunContext) -> Outcome:
    start = time.perf_counter()
    g = np.random.default_rng(config.seed)
    W = polytopes.project_out(_direction(config, g))  # (n − 1, n)
    if config.rotate:
        Q, R = np.linalg.qr(g.standard_normal((config.n - 1, config.n - 1)))
        Q *= np.sign(np.diag(R))  # a uniformly random rotation (Haar)
        W = g.uniform(0.5, 2.0) * Q @ W
    return Outcome(
        points=[{}], arrays={"W": W[None, None]}, info={"seconds": time.perf_counter() - start, "device": "cpu"}
    )


def _dimensionality(o: Outcome, _: Any) -> np.ndarray:
    W = torch.from_numpy(o.arrays["W"][0])  # (1, H, F)
    return metrics.dimensionality(W).numpy()[None]  # (1, 1, F)


def _cosines(o: Outcome, _: Any) -> np.ndarray:
    W = o.arrays["W"][0, 0]  # (H, F)
    unit = W / np.linalg.norm(W, axis=0)
    cos = unit.T @ unit
    return cos[~np.eye(len(cos), dtype=bool)][None, None]  # (1, 1, F(F − 1))


def _codimension(o: Outcome, _: Any) -> np.ndarray:
    W = o.arrays["W"][0, 0]
    return np.array([[W.shape[1] - np.linalg.matrix_rank(W)]])


POLYTOPE = ExperimentKind(
    name="polytope",
    config=PolytopeConfig,
    run=run_polytope,
    metrics={
        "dimensionality": Metric(_dimensionality, "D_i = ‖W_i‖²/Σ_j(Ŵ_i·W_j)² per feature (the lab's metric)"),
        "pairwise_cosines": Metric(_cosines, "cos(W_i, W_j) for every ordered pair i ≠ j"),
        "codimension": Metric(_codimension, "n − rank(W): how many directions of R^n W leaves out"),
    },
    doc="a configuration from projecting basis vectors ⊥ one direction (the regular simplex for (1,…,1))",
)

EXPERIMENTS.register(POLYTOPE.name, POLYTOPE)
