"""The `toy` experiment: train tied toy models over a sparsity grid (TMS "Demonstrating Superposition").

Every grid point × seed × restart is one instance of one batched model — or, with `chunks` > 1, of
one batched model per part of the (point, seed) groups, each with its own random streams (`TOY_PARTS`);
after training, each (point, seed) keeps its lowest-loss restart. The Outcome holds W (P, S, H, F), b (P, S, F), the
Monte Carlo loss of the kept model (P, S), every restart's loss (P, S, R) and every restart's
feature norms (P, S, R, F).

For "The Geometry of Superposition" the data may also come in correlated or anticorrelated sets
(`data`, `set_size`, `n_sets`), one feature's density may be swept on its own (`perturbed_density`,
"Perturbing a Single Feature"), and `randomize` is a control that keeps the trained norms but
draws random directions. The geometry metrics live in
`geometry_metrics.py` and `set_metrics.py`, their figures in `geometry_plot.py`.
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

from superposition_lab import metrics
from superposition_lab.data import (
    feature_sets,
    importance_profile,
)
from superposition_lab.models import MODELS
from superposition_lab.train import TrainLog, best_of_restarts, evaluate, resolve_device, train
from verify.experiments import geometry_metrics
from verify.experiments.geometry_plot import geometry_plots
from verify.experiments.neuron_metrics import neuron_metrics, neuron_plots
from verify.experiments.reconstruction_metrics import reconstruction_metrics, reconstruction_plots
from verify.experiments.robustness_metrics import robustness_metrics, robustness_plots
from verify.experiments.set_metrics import set_metrics
from verify.experiments.toy_data import densities, toy_sampler
from verify.experiments.trajectory_metrics import trajectory_metrics, trajectory_plots
from verify.figures import save_figure
from verify.kind import (
    ExperimentKind,
    Metric,
    Optimiser,
    Outcome,
    Parts,
    RunContext,
    grid_points,
    merged_info,
    part_seed,
    split_evenly,
)
from verify.registry import EXPERIMENTS

__all__ = [
    "Importance",
    "unit_interval_open",
    "ToyConfig",
    "run_toy",
    "run_toy_part",
    "merge_toy",
    "TOY_PARTS",
    "TOY",
    "toy_metrics",
    "PLOTS",
]


def unit_interval_open(_: Any, attribute: attrs.Attribute, value: float | list[float]) -> None:
    for x in value if isinstance(value, list) else [value]:
        if not 0.0 <= x < 1.0:
            raise ValueError(f"'{attribute.name}' must lie in [0, 1) (got {x!r}; S = 1 would mean no data)")


def _density(_: Any, attribute: attrs.Attribute, value: float | list[float] | None) -> None:
    for x in [] if value is None else value if isinstance(value, list) else [value]:
        if not 0.0 < x <= 1.0:
            raise ValueError(f"'{attribute.name}' must lie in (0, 1] (got {x!r})")


def _non_negative(_: Any, attribute: attrs.Attribute, value: float | list[float]) -> None:
    for x in value if isinstance(value, list) else [value]:
        if x < 0:
            raise ValueError(f"'{attribute.name}' must be ≥ 0 (got {x!r})")


@attrs.frozen
class Importance:
    """Exactly one profile: geometric = r (I_i = r^i), linear = [first, last], uniform = value."""

    geometric: float | None = attrs.field(default=None, validator=v.optional([v.gt(0)]))
    linear: list[float] | None = attrs.field(default=None, validator=v.optional(v.min_len(2)))
    uniform: float | None = attrs.field(default=None, validator=v.optional([v.gt(0)]))

    def __attrs_post_init__(self) -> None:
        given = [k for k in ("geometric", "linear", "uniform") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of geometric, linear, uniform (got {given or 'none'})")

    def vector(self, n_features: int) -> np.ndarray:
        kind = next(k for k in ("geometric", "linear", "uniform") if getattr(self, k) is not None)
        return importance_profile(kind, n_features, getattr(self, kind)).numpy()


@attrs.frozen
class ToyConfig(Optimiser):
    """The toy models of TMS trained on synthetic sparse features (optimiser fields from `Optimiser`)."""

    model: str = attrs.field(validator=v.in_(tuple(MODELS)))
    n_features: int = attrs.field(validator=v.ge(1))
    n_hidden: int = attrs.field(validator=v.ge(1))
    importance: Importance = Importance(uniform=1.0)
    sparsity: float | list[float] = attrs.field(default=0.0, validator=unit_interval_open)  # grid axis
    seeds: int = attrs.field(default=1, validator=v.ge(1))  # independent models per grid point
    restarts: int = attrs.field(default=1, validator=v.ge(1))  # best-of-k per seed, by final loss
    eval_samples: int = attrs.field(default=2**20, validator=v.ge(1))  # Monte Carlo loss after training
    seed: int = 0
    # --- "The Geometry of Superposition"
    # independent | correlated (a set is all-zero or all-active) | anticorrelated (≤ 1 active per set)
    data: str = attrs.field(default="independent", validator=v.in_(("independent", "correlated", "anticorrelated")))
    set_size: int = attrs.field(default=2, validator=v.ge(1))  # features per set
    n_sets: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))  # None: as many as fit
    # density 1 − S of the last feature alone ("Perturbing a Single Feature"); a grid axis
    perturbed_density: float | list[float] | None = attrs.field(default=None, validator=_density)
    randomize: bool = False  # control: each kept W_i gets a random direction, its norm is kept
    fraction_tol: float = attrs.field(default=0.03, validator=v.gt(0))  # D_i band around 1, 3/4, …, 3/8
    plateau_tol: float = attrs.field(default=0.05, validator=v.gt(0))  # D* band around 1 and 1/2
    # --- "The Strategic Picture of Superposition": λ of an L1 penalty on h (a grid axis); 0 = none
    hidden_l1: float | list[float] = attrs.field(default=0.0, validator=_non_negative)
    # --- "Learning Dynamics": keep W, b and the batch loss every k steps (and the last); 0 = none
    snapshot_every: int = attrs.field(default=0, validator=v.ge(0))
    # the (point, seed) groups split into this many parts, each one batched model with its own random
    # streams (`verify.kind.part_seed`), which a distributed run trains on different workers; 1: one model
    chunks: int = attrs.field(default=1, validator=v.ge(1))
    # figures for the report: gram (WᵀW and b), dstar, dimensionality, circle, geometry_loss
    plots: list[str] = attrs.field(factory=lambda: ["gram"])

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # arithmetic only: validation must not allocate n_features of anything
        if self.n_sets is not None and self.n_sets * self.set_size > self.n_features:
            raise ValueError(f"n_sets: {self.n_sets} sets of {self.set_size} do not fit in {self.n_features} features")
        if self.data != "independent" and self.perturbed_density is not None:
            raise ValueError("perturbed_density: only with data = 'independent'")
        unknown = sorted(set(self.plots) - set(PLOTS))
        if unknown:
            raise ValueError(f"plots: unknown {', '.join(map(repr, unknown))}; known: {', '.join(PLOTS)}")

    def set_index(self) -> np.ndarray:
        """Set of each feature, (F,). With independent data the sets are only labels — the
        set metrics then measure what independent features do (the controls of the set claims)."""
        return feature_sets(self.n_features, self.set_size, self.n_sets).numpy()


AXES = ("sparsity", "perturbed_density", "hidden_l1")


def _instance_table(config: ToyConfig, points: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Density and importance per instance, (I, F), and the L1 penalty on h, (I,); instances ordered
    (point, seed, restart).

    For set data (correlated, anticorrelated) the density is the set's: the same for its features.
    """
    reps = config.seeds * config.restarts
    rows = densities(config, points)  # (P, F)
    l1 = [p.get("hidden_l1", config.hidden_l1) for p in points]
    density = np.repeat(rows, reps, axis=0)
    importance = np.tile(config.importance.vector(config.n_features), (len(density), 1))
    return density, importance, np.repeat(np.array(l1, dtype=float), reps)


def _random_directions(W: np.ndarray, seed: int) -> np.ndarray:
    """Each column of W (..., H, F) replaced by a uniformly random direction with the same norm."""
    return geometry_metrics.random_directions(W, np.random.default_rng(seed))


def _part_groups(config: ToyConfig) -> list[np.ndarray]:
    """The (point, seed) groups of each part: `chunks` contiguous runs of the (point, seed) order
    (fewer if there are fewer groups); a group's restarts always train together."""
    return split_evenly(len(grid_points(config, AXES) or [{}]) * config.seeds, config.chunks)


def run_toy_part(config: ToyConfig, part: int, ctx: RunContext) -> Outcome:
    """Part `part`: its (point, seed) groups × restarts as one batched model with the part's own
    seeds, each group reduced to its lowest-loss restart. Arrays have one leading axis, the group."""
    points = grid_points(config, AXES) or [{}]
    R = config.restarts
    parts = _part_groups(config)
    groups = parts[part]
    instances = (groups[:, None] * R + np.arange(R)).ravel()  # (G_k·R,) in (point, seed, restart) order
    device = resolve_device(ctx.device)
    density, importance, l1 = (x[instances] for x in _instance_table(config, points))
    sampler = toy_sampler(config, torch.tensor(density, device=device, dtype=torch.float32))
    imp = torch.tensor(importance, device=device, dtype=torch.float32)
    gen = torch.Generator(device=device).manual_seed(part_seed(config.seed, part, len(parts)))
    model = MODELS[config.model](
        instances.size,
        config.n_features,
        config.n_hidden,
        generator=gen,
        device=device,
        hidden_l1=torch.tensor(l1, dtype=torch.float32) if l1.any() else None,
    )
    cfg = attrs.evolve(config.train_config(), snapshot_every=config.snapshot_every)
    progress = ctx.progress_for(config.steps * len(parts))
    start = time.perf_counter()
    log = train(model, sampler, imp, cfg, generator=gen, progress=progress)
    eval_seed = part_seed(config.seed + 1, part, len(parts))  # the same draws for every evaluation of a part
    objective = evaluate(model, sampler, imp, config.eval_samples, generator=_eval_gen(eval_seed, device))  # (I,)
    keep = best_of_restarts(objective, R)  # (G_k,): restarts compete on what they were trained on
    losses = objective
    if model.hidden_l1 is not None:  # the reported loss is the reconstruction alone, without the penalty
        model.hidden_l1 = None
        losses = evaluate(model, sampler, imp, config.eval_samples, generator=_eval_gen(eval_seed, device))
    G, F = groups.size, config.n_features
    arrays = {
        "W": model.W.detach()[keep].cpu().double().numpy(),  # (G_k, H, F)
        "b": model.b.detach()[keep].cpu().double().numpy(),  # (G_k, F)
        "loss": losses[keep].cpu().double().numpy(),  # (G_k,)
        "restart_loss": losses.cpu().double().numpy().reshape(G, R),
        "restart_norms": metrics.feature_norms(model.W.detach()).cpu().double().numpy().reshape(G, R, F),
    }
    if config.snapshot_every:
        arrays.update(_snapshot_arrays(log, keep.cpu()))
    return Outcome(
        points=points,
        arrays=arrays,
        info={"seconds": time.perf_counter() - start, "device": str(device), "instances": int(instances.size)},
    )


def merge_toy(config: ToyConfig, parts: list[Outcome]) -> Outcome:
    """The parts' groups laid out as (P, S, …); with `randomize`, the kept W get random directions."""
    points = grid_points(config, AXES) or [{}]
    P, S = len(points), config.seeds
    arrays = {k: np.concatenate([o.arrays[k] for o in parts]) for k in parts[0].arrays}
    if config.randomize:
        arrays["W"] = _random_directions(arrays["W"], config.seed + 2)
    return Outcome(
        points=points,
        arrays={k: x.reshape(P, S, *x.shape[1:]) for k, x in arrays.items()},
        info=merged_info(parts),
    )


TOY_PARTS = Parts(count=lambda config: len(_part_groups(config)), run=run_toy_part, merge=merge_toy)


def run_toy(config: ToyConfig, ctx: RunContext) -> Outcome:
    """Every part of the run in this process, one after another, merged (one part unless `chunks` > 1)."""
    return TOY_PARTS.run_parts(config, ctx)


def _eval_gen(seed: int, device: torch.device) -> torch.Generator:
    """The generator of the Monte Carlo evaluation (the same draws for every evaluation of a part)."""
    return torch.Generator(device=device).manual_seed(seed)


def _snapshot_arrays(log: TrainLog, keep: torch.Tensor) -> dict[str, np.ndarray]:
    """The kept restarts' trajectories: snapshot_W (G, T, H, F), snapshot_b (G, T, F), the batch loss
    at each snapshot (G, T) and the snapshot steps (G, T) (the same row everywhere)."""
    T = len(log.snapshot_steps)

    def per_instance(x: torch.Tensor) -> np.ndarray:  # (T, I, …) → (G, T, …) for the kept instances
        return x[:, keep].movedim(0, 1).double().numpy()

    return {
        "snapshot_W": per_instance(log.stacked("W")),
        "snapshot_b": per_instance(log.stacked("b")),
        "snapshot_loss": per_instance(torch.stack(log.snapshot_loss)),
        "snapshot_steps": np.broadcast_to(np.array(log.snapshot_steps, dtype=float), (keep.numel(), T)).copy(),
    }


def _on_W(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Outcome, Any], np.ndarray]:
    """Lift a metric on W (I, H, F) to the Outcome's (P, S, H, F) layout."""

    def metric(outcome: Outcome, _: Any) -> np.ndarray:
        W = outcome.arrays["W"]
        P, S = W.shape[:2]
        out = fn(torch.from_numpy(W.reshape(P * S, *W.shape[2:]))).numpy()
        return out.reshape(P, S, *out.shape[1:])

    return metric


toy_metrics: dict[str, Metric] = {
    "loss": Metric(
        lambda o, _: o.arrays["loss"], "Monte Carlo estimate of Σ_i I_i E[(x_i − x'_i)²] (eval_samples draws)"
    ),
    "feature_norms": Metric(_on_W(metrics.feature_norms), "‖W_i‖ per feature"),
    "represented_features": Metric(_on_W(metrics.represented), "mask of features with ‖W_i‖ > 0.5"),
    "n_represented": Metric(_on_W(metrics.n_represented), "number of features with ‖W_i‖ > 0.5"),
    "features_per_dimension": Metric(
        _on_W(lambda W: metrics.n_represented(W) / W.shape[1]),
        "represented features per hidden dimension, n_represented / m (> 1: superposition)",
    ),
    "bias": Metric(lambda o, _: o.arrays["b"], "b_i per feature"),
    "frobenius_sq": Metric(_on_W(metrics.frobenius_sq), "‖W‖_F²"),
    "interference": Metric(_on_W(metrics.interference), "Σ_{j≠i}(Ŵ_i·W_j)² per feature"),
    "max_interference": Metric(_on_W(metrics.max_interference), "largest interference among represented features"),
    "dimensionality": Metric(_on_W(metrics.dimensionality), "D_i = ‖W_i‖²/Σ_j(Ŵ_i·W_j)² per feature"),
    "dstar": Metric(_on_W(metrics.dstar), "D* = m/‖W‖_F²"),
    **geometry_metrics.geometry_metrics,
    **set_metrics,
    **neuron_metrics,
    **reconstruction_metrics,
    **robustness_metrics,
    **trajectory_metrics,
}


def plot_gram(outcome: Outcome, config: ToyConfig, out_dir: Path, stem: str) -> list[Path]:
    """WᵀW and b of the first seed at each grid point — the TMS "Demonstrating Superposition" figure."""
    import matplotlib.pyplot as plt

    W, b = outcome.arrays["W"][:, 0], outcome.arrays["b"][:, 0]  # (P, H, F), (P, F)
    P = W.shape[0]
    fig, axes = plt.subplots(
        2, P, figsize=(2.4 * P, 3.4), squeeze=False, gridspec_kw={"height_ratios": [config.n_features, 1.5]}
    )
    for k in range(P):
        G = W[k].T @ W[k]
        lim = max(1e-9, np.abs(G).max())
        axes[0, k].imshow(G, cmap="RdBu", vmin=-lim, vmax=lim)
        title = ", ".join(f"{a}={x:g}" for a, x in outcome.points[k].items()) or config.model
        axes[0, k].set_title(title, fontsize=8)
        blim = max(1e-9, np.abs(b[k]).max())
        axes[1, k].imshow(b[k][None, :], cmap="RdBu", vmin=-blim, vmax=blim)
        for ax in axes[:, k]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("WᵀW")
    axes[1, 0].set_ylabel("b")
    fig.suptitle(f"{stem}: {config.model}, n={config.n_features}, m={config.n_hidden}", fontsize=9)
    return save_figure(fig, out_dir, stem)


PLOTS: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {
    "gram": plot_gram,
    **geometry_plots,
    **neuron_plots,
    **reconstruction_plots,
    **robustness_plots,
    **trajectory_plots,
}


def plot_toy(outcome: Outcome, config: ToyConfig, out_dir: Path, stem: str) -> list[Path]:
    """The figures the spec asks for in `plots` (default: WᵀW and b per grid point)."""
    paths: list[Path] = []
    for name in config.plots:
        suffix = "" if name == "gram" else f"-{name}"
        paths += PLOTS[name](outcome, config, out_dir, stem + suffix)
    return paths


TOY = ExperimentKind(
    name="toy",
    config=ToyConfig,
    run=run_toy,
    parts=TOY_PARTS,
    metrics=toy_metrics,
    axes=AXES,
    plot=plot_toy,
    doc=(
        "tied toy models (linear, relu_output, relu_hidden) over a sparsity grid; correlated/anticorrelated data;"
        " geometry; an L1 penalty on h; training snapshots"
    ),
    # quick: a cosine schedule from a 20× higher rate reaches the notebook's solutions in 1500 steps
    # (every TMS toy spec passes seeds 0–2 with its control failing; 1000 steps at lr 0.02 or 700 at 0.03
    # left some dense ReLU runs unconverged); full: the notebook's settings
    defaults={
        "steps": {"quick": 1500, "full": 10_000},
        "lr": {"quick": 0.02, "full": 0.001},
        "schedule": {"quick": "cosine", "full": "constant"},
    },
)

EXPERIMENTS.register(TOY.name, TOY)
