"""Reconstruction metrics for the `toy` experiment: per-feature error and off-diagonal mass of WᵀW (the TDS article).

The TDS article ("Superposition: What Makes it Difficult to Explain Neural Network", Results
Analysis) compares the tied linear model with the ReLU model h = ReLU(Wx), x' = ReLU(Wᵀh + b) on
n = 40 features of importance 1 → 0.1, m = 5, at S = 0.1, 0.5, 0.9. It reads three things off the
trained models: how well each reconstructs (against the linear model), the biases b, and the
off-diagonal elements of WᵀW. The measurements here put numbers on each:

- `linear_optimum_ratio`: the loss over the closed-form optimum of the linear model
  (analytic.linear.optimal_loss) — below 1 means the model beats every linear model;
- `feature_error` / `explained_features`: each feature's reconstruction error relative to its
  variance, and the features' worth of variance reconstructed, Σ_i (1 − e_i), which no linear model
  can push above m (analytic.linear.max_explained_features);
- `offdiag_mass` / `offdiag_growth`: Σ_{i≠j} (W_i·W_j)², and its growth along the sparsity sweep;
- `top_m_smallest_bias` / `mean_bias_ratio`: whether the m smallest biases belong to the m most
  important features, and the mean bias against the linear optimum's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from analytic import linear
from superposition_lab import adversarial, metrics
from superposition_lab.models import MODELS
from verify.experiments.toy_data import densities, point_density, toy_sampler
from verify.kind import Metric, Outcome, at_point

__all__ = [
    "reconstruction_metrics",
    "reconstruction_plots",
    "linear_optimum_ratio",
    "feature_error",
    "explained_features",
    "offdiag_mass",
    "offdiag_growth",
    "top_m_smallest_bias",
    "mean_bias_ratio",
]

ERROR_SAMPLES = 2**17  # Monte Carlo draws per (point, seed) for the per-feature error
_CHUNK = 2**13  # draws per batch, to bound memory (I · chunk · F floats)


def linear_optimum_ratio(outcome: Outcome, config: Any) -> np.ndarray:
    """Loss / the linear model's optimal loss at the same grid point, (P, S).

    analytic.linear.optimal_loss is the lowest loss ANY tied linear model reaches (TMS "Demonstrating
    Superposition"); a ratio below 1 means the model reconstructs better than every linear model.
    """
    loss = outcome.arrays["loss"]  # (P, S)
    optimum = [_linear_optimum(at_point(config, point)) for point in outcome.points]
    return loss / np.array(optimum)[:, None]


def _linear_optimum(c: Any) -> float:
    if c.perturbed_density is None:
        return linear.optimal_loss(c.importance.vector(c.n_features), c.n_hidden, c.sparsity)
    sparsity = np.full(c.n_features, c.sparsity)
    sparsity[-1] = 1.0 - c.perturbed_density
    return linear.optimal_loss(c.importance.vector(c.n_features), c.n_hidden, sparsity)


def feature_error(outcome: Outcome, config: Any) -> np.ndarray:
    """e_i = E[(x_i − x'_i)²] / Var(x_i) per feature, (P, S, F), by Monte Carlo (ERROR_SAMPLES draws).

    1 is the error of predicting x_i by its mean — what the linear optimum does for every feature
    outside the top m (TDS "Results Analysis": linear models "mainly capture features with the highest
    feature importance"); 0 is a perfect reconstruction. Var(x_i) is estimated from the same draws.
    """
    W = torch.from_numpy(outcome.arrays["W"])  # (P, S, H, F)
    b = torch.from_numpy(outcome.arrays["b"])  # (P, S, F)
    P, S, H, F = W.shape
    W, b = W.reshape(P * S, H, F), b.reshape(P * S, F)
    density = np.repeat(densities(config, outcome.points), S, axis=0)
    sampler = toy_sampler(config, torch.tensor(density, dtype=torch.float64))
    cls = MODELS[config.model]
    gen = torch.Generator().manual_seed(config.seed + 3)
    sq_err = torch.zeros(P * S, F, dtype=torch.float64)
    x_sum = torch.zeros(P * S, F, dtype=torch.float64)
    x_sq = torch.zeros(P * S, F, dtype=torch.float64)
    for _ in range(ERROR_SAMPLES // _CHUNK):
        x = sampler.sample(_CHUNK, gen).double()  # (I, B, F)
        out = adversarial.output(W, b, x, output_relu=bool(cls.output_relu), hidden_relu=cls.hidden_relu)
        sq_err += ((x - out) ** 2).sum(dim=1)
        x_sum += x.sum(dim=1)
        x_sq += (x**2).sum(dim=1)
    n = ERROR_SAMPLES
    var = x_sq / n - (x_sum / n) ** 2  # (I, F)
    return (sq_err / n / var).numpy().reshape(P, S, F)


def explained_features(outcome: Outcome, config: Any) -> np.ndarray:
    """Σ_i (1 − e_i), (P, S): how many features' worth of variance the model reconstructs.

    For any linear model with optimal bias Σ_i e_i = ‖Id − WᵀW‖_F² ≥ n − m (WᵀW has rank ≤ m), so this is
    ≤ m (analytic.linear.max_explained_features); above m, the model spreads its m dimensions over more
    features than it has — the TDS article's "ReLU models could focus on less important features".
    """
    return (1.0 - feature_error(outcome, config)).sum(axis=-1)


def _on_W(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Outcome, Any], np.ndarray]:
    """Lift a metric on W (I, H, F) to the Outcome's (P, S, H, F) layout."""

    def metric(outcome: Outcome, _: Any) -> np.ndarray:
        W = outcome.arrays["W"]
        P, S = W.shape[:2]
        return fn(torch.from_numpy(W.reshape(P * S, *W.shape[2:]))).numpy().reshape(P, S)

    return metric


offdiag_mass = _on_W(metrics.offdiag_mass)


def offdiag_growth(outcome: Outcome, config: Any) -> np.ndarray:
    """offdiag_mass at the largest sparsity / at the smallest, per seed (sweep-wide), (P, S).

    TDS "Results Analysis": "when the sparsity value is high as 0.9, the off-diagonal elements become
    much bigger compared to the case when sparsity is 0.1". NaN without a sparsity axis.
    """
    mass = offdiag_mass(outcome, config)  # (P, S)
    if any("sparsity" not in point for point in outcome.points):
        return np.full(mass.shape, np.nan)
    xs = np.array([point["sparsity"] for point in outcome.points])
    if len(set(xs.tolist())) < 2:
        return np.full(mass.shape, np.nan)
    lo, hi = int(np.argmin(xs)), int(np.argmax(xs))
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 (no mass anywhere) is NaN: no evidence
        return np.broadcast_to(mass[hi] / mass[lo], mass.shape).copy()


def top_m_smallest_bias(outcome: Outcome, config: Any) -> np.ndarray:
    """Fraction of the m smallest biases b_i that belong to the m most important features, (P, S).

    TDS "Results Analysis": "for linear models, the biases are smallest for the top five features";
    the linear optimum has b_i = 0 on the top m and E[x_i] = p/2 > 0 elsewhere, so 1. Biases in a
    random order give m/n on average.
    """
    b = outcome.arrays["b"]  # (P, S, F)
    m = config.n_hidden
    top = linear.top_m(config.importance.vector(config.n_features), m)  # (F,)
    smallest = np.argsort(b, axis=-1, kind="stable")[..., :m]  # (P, S, m)
    return top[smallest].mean(axis=-1)


def mean_bias_ratio(outcome: Outcome, config: Any) -> np.ndarray:
    """Mean b_i over the linear optimum's mean bias at the same point (analytic.linear.optimal_bias), (P, S).

    TDS "Results Analysis": the ReLU model's biases "are generally reduced more" than the linear
    model's. 1 for the linear optimum; below 1, smaller biases.
    """
    b = outcome.arrays["b"]  # (P, S, F)
    ref = []
    for point in outcome.points:
        c = at_point(config, point)
        sparsity = 1.0 - point_density(c, {})
        ref.append(linear.optimal_bias(c.importance.vector(c.n_features), c.n_hidden, sparsity).mean())
    return b.mean(axis=-1) / np.array(ref)[:, None]


reconstruction_metrics: dict[str, Metric] = {
    "linear_optimum_ratio": Metric(
        linear_optimum_ratio, "loss / the closed-form optimum of the tied linear model (< 1: beats every linear model)"
    ),
    "feature_error": Metric(
        feature_error, "e_i = E[(x_i − x'_i)²]/Var(x_i) per feature (1: no better than its mean; Monte Carlo)"
    ),
    "explained_features": Metric(
        explained_features, "Σ_i (1 − e_i): features' worth of variance reconstructed (≤ m for any linear model)"
    ),
    "offdiag_mass": Metric(offdiag_mass, "Σ_{i≠j} (W_i·W_j)²: squared off-diagonal mass of WᵀW"),
    "offdiag_growth": Metric(
        offdiag_growth,
        "offdiag_mass at the largest sparsity / at the smallest (sweep-wide)",
        sweep_wide=True,
    ),
    "top_m_smallest_bias": Metric(
        top_m_smallest_bias, "fraction of the m smallest b_i that belong to the m most important features"
    ),
    "mean_bias_ratio": Metric(mean_bias_ratio, "mean b_i / the linear optimum's mean b_i at the same point"),
}
reconstruction_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {}
