"""The `abs_value` experiment: computation in superposition (TMS "Computation in Superposition").

A one-hidden-layer model h = ReLU(W1 x + b1), y = ReLU(W2 h + b2) (untied; superposition_lab.models.
abs_value) learns y = |x| from features that are 0 with probability S, else U[−1, 1], under the
importance-weighted squared error. With dense features and m ≥ 2n every feature gets a ReLU(x_i)
neuron and a ReLU(−x_i) neuron, |x_i| = ReLU(x_i) + ReLU(−x_i) ("Basic Results"); with n = 100,
m = 40, I_i = 0.8^i, polysemantic neurons appear as S rises while the most important features keep
monosemantic neurons ("Superposition vs Sparsity").

Every grid point × seed × restart is one instance of one batched model; each (point, seed) keeps its
lowest-loss restart. The Outcome holds W1 (P, S, H, F), W2 (P, S, F, H), b1 (P, S, H), b2 (P, S, F),
the Monte Carlo loss of the kept model (P, S), each feature's unweighted error E[(|x_i| − y_i)²]
(P, S, F) and every restart's loss (P, S, R). The neuron metrics read W1 through
superposition_lab.neurons' signed measures: neuron k reads feature i as ReLU(x_i) when W1_ki > 0 and
as ReLU(−x_i) when W1_ki < 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from attrs import validators as v

from superposition_lab import neurons
from superposition_lab.data import SparseUniform
from superposition_lab.models.abs_value import AbsValueModel
from superposition_lab.train import best_of_restarts, resolve_device, train
from verify.experiments.toy import Importance, unit_interval_open
from verify.experiments.toy_data import densities
from verify.figures import save_figure
from verify.kind import ExperimentKind, Metric, Optimiser, Outcome, RunContext, grid_points
from verify.registry import EXPERIMENTS

__all__ = ["AbsValueConfig", "run_abs_value", "ABS_VALUE", "abs_value_metrics", "constant_output_error"]

AXES = ("sparsity",)
EVAL_BATCH = 8192  # evaluation samples per batch


@attrs.frozen
class AbsValueConfig(Optimiser):
    """The absolute-value model of TMS "Computation in Superposition" (optimiser fields from `Optimiser`)."""

    n_features: int = attrs.field(validator=v.ge(1))
    n_hidden: int = attrs.field(validator=v.ge(1))
    importance: Importance = Importance(uniform=1.0)
    sparsity: float | list[float] = attrs.field(default=0.0, validator=unit_interval_open)  # grid axis
    seeds: int = attrs.field(default=1, validator=v.ge(1))  # independent models per grid point
    restarts: int = attrs.field(default=1, validator=v.ge(1))  # best-of-k per seed, by final loss
    eval_samples: int = attrs.field(default=2**18, validator=v.ge(1))  # Monte Carlo loss after training
    seed: int = 0
    # a neuron is monosemantic when its top feature carries ≥ purity of its squared input weight
    purity: float = attrs.field(default=neurons.MONOSEMANTIC_PURITY, validator=[v.gt(0), v.le(1)])
    # … and alive when some input weight has |W1_ki| > alive (cf. the toy kind's ‖W_i‖ > 0.5)
    alive: float = attrs.field(default=neurons.ALIVE_THRESHOLD, validator=v.ge(0))


def _instance_table(config: AbsValueConfig, points: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Density and importance per instance, (I, F); instances ordered (point, seed, restart)."""
    density = np.repeat(densities(config, points), config.seeds * config.restarts, axis=0)
    importance = np.tile(config.importance.vector(config.n_features), (len(density), 1))
    return density, importance


@torch.no_grad()
def _feature_errors(
    model: AbsValueModel, sampler: SparseUniform, n_samples: int, generator: torch.Generator
) -> torch.Tensor:
    """Unweighted Monte Carlo error per instance and feature, E[(|x_i| − y_i)²], (I, F)."""
    total = torch.zeros(model.n_instances, model.n_features, dtype=torch.float64, device=model.W1.device)
    done = 0
    while done < n_samples:
        b = min(EVAL_BATCH, n_samples - done)
        x = sampler.sample(b, generator)  # (I, b, F)
        total += ((x.abs() - model(x)) ** 2).sum(dim=1, dtype=torch.float64)
        done += b
    return total / n_samples


def run_abs_value(config: AbsValueConfig, ctx: RunContext) -> Outcome:
    points = grid_points(config, AXES) or [{}]
    P, S, R = len(points), config.seeds, config.restarts
    H, F = config.n_hidden, config.n_features
    device = resolve_device(ctx.device)
    density, importance = _instance_table(config, points)
    sampler = SparseUniform(torch.tensor(density, device=device, dtype=torch.float32), signed=True)
    imp = torch.tensor(importance, device=device, dtype=torch.float32)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    model = AbsValueModel(P * S * R, F, H, generator=gen, device=device)
    start = time.perf_counter()
    train(model, sampler, imp, config.train_config(), generator=gen, progress=ctx.progress_for(config.steps))
    eval_gen = torch.Generator(device=device).manual_seed(config.seed + 1)
    errors = _feature_errors(model, sampler, config.eval_samples, eval_gen)  # (I, F)
    losses = (errors * imp.double()).sum(dim=-1)  # (I,)
    keep = best_of_restarts(losses, R)  # (P·S,)

    def kept(t: torch.Tensor, *shape: int) -> np.ndarray:
        return t.detach()[keep].cpu().double().numpy().reshape(P, S, *shape)

    arrays = {
        "W1": kept(model.W1, H, F),
        "W2": kept(model.W2, F, H),
        "b1": kept(model.b1, H),
        "b2": kept(model.b2, F),
        "loss": kept(losses),
        "feature_error": kept(errors, F),
        "restart_loss": losses.cpu().numpy().reshape(P, S, R),
    }
    return Outcome(
        points=points,
        arrays=arrays,
        info={"seconds": time.perf_counter() - start, "device": str(device), "instances": P * S * R},
    )


# ---------------------------------------------------------------- metrics
def constant_output_error(density: float) -> float:
    """E[(|x| − c)²] of the best constant output c = p/2 for a feature of density p: p/3 − p²/4.

    What a feature no neuron reads costs (unweighted); 1/12 for dense features.
    """
    return density / 3.0 - density**2 / 4.0


def _on_W1(fn: Callable[[torch.Tensor, AbsValueConfig], torch.Tensor]) -> Callable[[Outcome, Any], np.ndarray]:
    """Lift a measure on W1 (I, H, F) to the Outcome's (P, S, …) layout."""

    def metric(outcome: Outcome, config: Any) -> np.ndarray:
        W = outcome.arrays["W1"]
        P, S = W.shape[:2]
        out = fn(torch.from_numpy(W.reshape(P * S, *W.shape[2:])), config).numpy()
        return out.reshape(P, S, *out.shape[1:])

    return metric


def _alive(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    """Mask (I, H): max_i |W1_ki| > alive (either sign reads a feature)."""
    return neurons.alive_neurons(W, c.alive, hidden_relu=False)


def _mono(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    return neurons.monosemantic_neurons(W, c.purity, c.alive, hidden_relu=False)


def _poly(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    return _alive(W, c) & ~_mono(W, c)


def _pos(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    return neurons.neurons_per_feature(W, +1, c.purity, c.alive)


def _neg(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    return neurons.neurons_per_feature(W, -1, c.purity, c.alive)


def _both(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    """Mask (I, F): the feature has a monosemantic ReLU(x_i) and a monosemantic ReLU(−x_i) neuron."""
    return (_pos(W, c) > 0) & (_neg(W, c) > 0)


def _dedicated_prefix(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    """Largest k such that features 0 … k−1 (the most important) all have both dedicated neurons, (I,)."""
    both = _both(W, c).long()  # (I, F)
    return both.cumprod(dim=-1).sum(dim=-1)


def _read(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    """Mask (I, F): some neuron has |W1_ki| > alive for feature i (the feature reaches a neuron)."""
    return (W.abs() > c.alive).any(dim=1)


def _poly_fraction(W: torch.Tensor, c: AbsValueConfig) -> torch.Tensor:
    return _poly(W, c).sum(dim=-1) / _alive(W, c).sum(dim=-1).clamp_min(1)


def _error_ratio(outcome: Outcome, config: Any) -> np.ndarray:
    """Each feature's error over the best constant output's at its density, (P, S, F)."""
    err = outcome.arrays["feature_error"]
    p = np.array([1.0 - pt.get("sparsity", config.sparsity) for pt in outcome.points])  # (P,)
    return err / (p / 3.0 - p**2 / 4.0)[:, None, None]  # constant_output_error, elementwise


def _polysemantic_rise(outcome: Outcome, config: Any) -> np.ndarray:
    """n_polysemantic at the sparsest grid point minus at the densest, per seed, repeated over the
    points (P, S) (sweep-wide; 0 without a sparsity axis)."""
    poly = _on_W1(lambda W, c: _poly(W, c).sum(dim=-1))(outcome, config).astype(float)  # (P, S)
    s = [pt.get("sparsity", 0.0) for pt in outcome.points]
    rise = poly[int(np.argmax(s))] - poly[int(np.argmin(s))]  # (S,)
    return np.broadcast_to(rise, poly.shape).copy()


abs_value_metrics: dict[str, Metric] = {
    "loss": Metric(
        lambda o, _: o.arrays["loss"], "Monte Carlo estimate of Σ_i I_i E[(|x_i| − y_i)²] (eval_samples draws)"
    ),
    "feature_error": Metric(lambda o, _: o.arrays["feature_error"], "E[(|x_i| − y_i)²] per feature (unweighted)"),
    "feature_error_ratio": Metric(
        _error_ratio, "E[(|x_i| − y_i)²] / (p/3 − p²/4), the best constant output's error: 1 = not computed"
    ),
    "neuron_purity": Metric(
        _on_W1(lambda W, c: neurons.neuron_purity(W, hidden_relu=False)), "max_i W1_ki² / Σ_i W1_ki² per neuron"
    ),
    "neuron_feature": Metric(
        _on_W1(lambda W, c: neurons.neuron_top_feature(W, hidden_relu=False)),
        "feature with the largest |W1_ki| per neuron",
    ),
    "neuron_sign": Metric(
        _on_W1(lambda W, c: neurons.neuron_sign(W)), "sign of that weight: +1 ReLU(x_i), −1 ReLU(−x_i)"
    ),
    "n_monosemantic": Metric(
        _on_W1(lambda W, c: _mono(W, c).sum(dim=-1)), "alive neurons (max |W1_ki| > alive) with purity ≥ `purity`"
    ),
    "n_polysemantic": Metric(_on_W1(lambda W, c: _poly(W, c).sum(dim=-1)), "alive neurons with purity < `purity`"),
    "polysemantic_rise": Metric(
        _polysemantic_rise, "n_polysemantic at the sparsest grid point − at the densest (sweep-wide)", sweep_wide=True
    ),
    "polysemantic_fraction": Metric(_on_W1(_poly_fraction), "n_polysemantic / alive neurons (0 if none)"),
    "pos_neurons": Metric(_on_W1(_pos), "monosemantic ReLU(x_i) neurons per feature (W1_ki > 0)"),
    "neg_neurons": Metric(_on_W1(_neg), "monosemantic ReLU(−x_i) neurons per feature (W1_ki < 0)"),
    "both_signs": Metric(_on_W1(_both), "mask of features with a monosemantic ReLU(x_i) and a ReLU(−x_i) neuron"),
    "features_with_both": Metric(
        _on_W1(lambda W, c: _both(W, c).sum(dim=-1)), "number of features with both dedicated neurons"
    ),
    "dedicated_prefix": Metric(
        _on_W1(_dedicated_prefix), "largest k: features 0…k−1 (most important) all have both dedicated neurons"
    ),
    "n_features_read": Metric(
        _on_W1(lambda W, c: _read(W, c).sum(dim=-1)), "features with |W1_ki| > alive into some alive neuron"
    ),
}


# ---------------------------------------------------------------- figure
def plot_abs_value(outcome: Outcome, config: AbsValueConfig, out_dir: Path, stem: str) -> list[Path]:
    """W1 per neuron for the first seed at each grid point, as the paper draws it: one row per
    neuron, the features it reads as coloured cells (red: ReLU(x_i), blue: ReLU(−x_i)); neurons are
    sorted by their top feature, and a black dot marks a polysemantic one."""
    import matplotlib.pyplot as plt

    W = outcome.arrays["W1"][:, 0]  # (P, H, F)
    P = W.shape[0]
    fig, axes = plt.subplots(1, P, figsize=(max(2.6, 0.06 * config.n_features + 1.2) * P, 3.6), squeeze=False)
    for k in range(P):
        Wt = torch.from_numpy(W[k][None])
        order = np.lexsort(
            (-neurons.neuron_sign(Wt)[0].numpy(), neurons.neuron_top_feature(Wt, hidden_relu=False)[0].numpy())
        )
        poly = _poly(Wt, config)[0].numpy()[order]
        lim = max(1e-9, np.abs(W[k]).max())
        ax = axes[0, k]
        ax.imshow(W[k][order], cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
        ax.scatter(np.full(poly.sum(), -0.9), np.flatnonzero(poly), s=6, c="k", clip_on=False)
        title = ", ".join(f"{a}={x:g}" for a, x in outcome.points[k].items()) or "dense"
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("feature", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0, 0].set_ylabel("neuron (sorted by top feature)", fontsize=7)
    fig.suptitle(f"{stem}: W1 per neuron, n={config.n_features}, m={config.n_hidden}", fontsize=9)
    return save_figure(fig, out_dir, stem)


ABS_VALUE = ExperimentKind(
    name="abs_value",
    config=AbsValueConfig,
    run=run_abs_value,
    metrics=abs_value_metrics,
    axes=AXES,
    plot=plot_abs_value,
    doc="TMS computation in superposition: y = ReLU(W2 ReLU(W1 x + b1) + b2) learns |x| over a sparsity grid",
    # quick: the toy kind's cosine schedule from a 10× higher rate (measured below in the specs);
    # full: the TMS notebook's settings
    defaults={
        "steps": {"quick": 1500, "full": 10_000},
        "lr": {"quick": 0.01, "full": 0.001},
        "schedule": {"quick": "cosine", "full": "constant"},
    },
)

EXPERIMENTS.register(ABS_VALUE.name, ABS_VALUE)
