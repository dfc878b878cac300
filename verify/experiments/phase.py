"""The `phase` and `phase_point` experiments: empirical phase diagrams (TMS "Superposition as a Phase Change").

The paper trains the ReLU output model on a grid of extra-feature importance r × density p = 1 − S
("ten models per point", keeping the lowest loss) and names the extra feature's phase: not learned,
in superposition (antipodal to another feature) or dedicated. `phase` does the same for the 2-in-1
and 3-in-2 diagrams of `analytic.two_in_one` / `analytic.three_in_two`, with the grid's cells ×
restarts as the instances of ONE batched model (importance (1, r) or (1, 1, r) and density p per
instance) — or, with `chunks` > 1 (the full profile's 25 × 25 maps), of one batched model per part
of the cells, each with its own random stream, so that a distributed run trains the parts on
different workers and gets the same map — and scores the empirical map against the closed-form map
`phase(r, p)`:

- cells whose (r, p) lie within `margin` decades (in log r or log p) of an analytic boundary are
  reported but not judged (`near_boundary`);
- each cell keeps the restart with the lowest EXACT expected loss (`analytic.free_optimum.exact_loss`):
  at p = 0.01 a Monte Carlo estimate sees too few two-feature events to rank the restarts.

`phase_point` trains the restarts of a single point (log10 r, log10 p) — the unit a hypothesis
[property] draws — and reports whether its phase agrees with `phase(r, p)` or lies near a boundary.
The plots live in `phase_plot.py`; the free optimum (no training) in `phase_free_optimum.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import torch
from attrs import validators as v

from analytic import free_optimum, two_in_one
from superposition_lab.data import SparseUniform
from superposition_lab.models import MODELS
from superposition_lab.train import resolve_device, train
from verify.experiments.phase_grid import DIAGRAMS, Axis, axis_within, phase_tables
from verify.experiments.phase_plot import plot_phase_map
from verify.kind import (
    ExperimentKind,
    Metric,
    Optimiser,
    Outcome,
    Parts,
    RunContext,
    merged_info,
    part_seed,
    split_evenly,
)
from verify.registry import EXPERIMENTS

__all__ = [
    "PhaseConfig",
    "PhasePointConfig",
    "train_cells",
    "run_phase",
    "run_phase_part",
    "merge_phase",
    "PHASE_PARTS",
    "PHASE",
    "PHASE_POINT",
    "boundary_distance",
]

_MODELS = tuple(m for m in MODELS if m in free_optimum.MODELS)  # trainable AND with an exact loss


# 2) configs -------------------------------------------------------------------------------------
@attrs.frozen
class PhaseTraining(Optimiser):
    """What both phase kinds share: the diagram, the model and how each cell is trained and judged
    (the optimiser fields and their TMS-notebook defaults come from `Optimiser`)."""

    diagram: str = attrs.field(default="two_in_one", validator=v.in_(tuple(DIAGRAMS)))
    model: str = attrs.field(default="relu_output", validator=v.in_(_MODELS))
    restarts: int = attrs.field(default=10, validator=v.ge(1))  # "ten models per point" (TMS)
    # cells closer than this many decades (in log r or log p) to an analytic boundary are not judged
    margin: float = attrs.field(default=0.1, validator=v.ge(0))
    norm_threshold: float = attrs.field(default=0.5, validator=v.gt(0))  # ‖W_i‖ cut-off for "learned"
    seed: int = 0


@attrs.frozen
class PhaseConfig(PhaseTraining):
    """A whole phase map: every (r, p) of the grid, `restarts` models each."""

    r: Axis = attrs.field(default=Axis(log=(0.1, 10.0), points=11), validator=axis_within(0, np.inf, "(0, ∞)"))
    p: Axis = attrs.field(default=Axis(log=(0.01, 1.0), points=11), validator=axis_within(0, 1, "(0, 1]"))
    # the cells split into this many parts, each one batched model with its own random stream
    # (`verify.kind.part_seed`), which a distributed run trains on different workers; 1: one model
    chunks: int = attrs.field(default=1, validator=v.ge(1))


@attrs.frozen
class PhasePointConfig(PhaseTraining):
    """One point (r, p) = (10^log10_r, 10^log10_p), drawn log-uniformly by a [property]."""

    log10_r: float = attrs.field(default=0.0, validator=[v.ge(-3), v.le(3)])
    log10_p: float = attrs.field(default=-1.0, validator=[v.ge(-4), v.le(0)])


# 3) training: all cells × restarts as the instances of one model (per part) ------------------------
def train_cells(
    config: PhaseTraining, r: np.ndarray, p: np.ndarray, ctx: RunContext, seed: int | None = None, parts: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train `restarts` models at each cell (r_c, p_c) as one batched model seeded with `seed` (default
    the config's); return W (C, R, H, F), b (C, R, F) and the exact expected loss of every model (C, R),
    all float64. `parts`: how many such runs make up the whole (progress is reported in its units)."""
    mod = DIAGRAMS[config.diagram]
    C, R, F, H = r.size, config.restarts, mod.N_FEATURES, mod.N_HIDDEN
    importance = np.repeat(np.stack([mod.importance(x) for x in r]), R, axis=0)  # (I, F), I = C·R
    density = np.repeat(np.repeat(p[:, None], F, axis=1), R, axis=0)  # (I, F)
    device = resolve_device(ctx.device)
    gen = torch.Generator(device=device).manual_seed(config.seed if seed is None else seed)
    model = MODELS[config.model](C * R, F, H, generator=gen, device=device)
    progress = ctx.progress_for(config.steps * parts)
    train(
        model,
        SparseUniform(torch.tensor(density, device=device, dtype=torch.float32)),
        torch.tensor(importance, device=device, dtype=torch.float32),
        config.train_config(),
        generator=gen,
        progress=progress,
    )
    W = model.W.detach().cpu().double().numpy()  # (I, H, F)
    b = model.b.detach().cpu().double().numpy()  # (I, F)
    loss = np.array(
        [free_optimum.exact_loss(W[i], b[i], importance[i], density[i, 0], config.model) for i in range(C * R)]
    )  # (I,)
    return W.reshape(C, R, H, F), b.reshape(C, R, F), loss.reshape(C, R)


def _best(W: np.ndarray, b: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each cell's lowest-loss restart: W (C, H, F), b (C, F), loss (C,)."""
    keep = loss.argmin(axis=1)  # (C,)
    cells = np.arange(loss.shape[0])
    return W[cells, keep], b[cells, keep], loss[cells, keep]


def _grid(config: PhaseConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The axes r (Nr,), p (Np,) and every cell's (r, p), flattened r-major: (C,), (C,)."""
    r, p = config.r.array(), config.p.array()
    rr, pp = np.meshgrid(r, p, indexing="ij")  # (Nr, Np)
    return r, p, rr.ravel(), pp.ravel()


def _part_cells(config: PhaseConfig) -> list[np.ndarray]:
    """The cells of each part: `chunks` contiguous runs of the r-major cell order (fewer if the grid is smaller)."""
    return split_evenly(config.r.array().size * config.p.array().size, config.chunks)


def _count(config: PhaseConfig) -> int:
    return len(_part_cells(config))


def run_phase_part(config: PhaseConfig, part: int, ctx: RunContext) -> Outcome:
    """Part `part`: its cells × restarts as one batched model with the part's own seed."""
    start = time.perf_counter()
    cells = _part_cells(config)
    _, _, r, p = _grid(config)
    seed = part_seed(config.seed, part, len(cells))
    W, b, loss = train_cells(config, r[cells[part]], p[cells[part]], ctx, seed=seed, parts=len(cells))
    return Outcome(
        points=[{}],
        arrays={"W": W, "b": b, "loss": loss},  # (C_part, R, H, F), (C_part, R, F), (C_part, R)
        info={
            "seconds": time.perf_counter() - start,
            "device": str(resolve_device(ctx.device)),
            "instances": int(loss.size),
        },
    )


def merge_phase(config: PhaseConfig, parts: list[Outcome]) -> Outcome:
    """The phase map from its parts: each cell's lowest-loss restart, on the (Nr, Np) grid."""
    W, b, loss = (np.concatenate([o.arrays[k] for o in parts]) for k in ("W", "b", "loss"))
    Wb, bb, lb = _best(W, b, loss)
    r, p, _, _ = _grid(config)
    shape = (r.size, p.size)
    return Outcome(
        points=[{}],
        arrays={
            "r": r[None, None],
            "p": p[None, None],  # (1, 1, Nr), (1, 1, Np)
            "W": Wb.reshape(1, 1, *shape, *Wb.shape[1:]),  # (1, 1, Nr, Np, H, F)
            "b": bb.reshape(1, 1, *shape, -1),  # (1, 1, Nr, Np, F)
            "loss": lb.reshape(1, 1, *shape),  # (1, 1, Nr, Np): exact loss of the kept model
            "restart_loss": loss.reshape(1, 1, *shape, -1),  # (1, 1, Nr, Np, R)
        },
        info=merged_info(parts),
    )


PHASE_PARTS = Parts(count=_count, run=run_phase_part, merge=merge_phase)


def run_phase(config: PhaseConfig, ctx: RunContext) -> Outcome:
    """The whole phase map in this process: its parts one after another, merged."""
    return PHASE_PARTS.run_parts(config, ctx)


def run_phase_point(config: PhasePointConfig, ctx: RunContext) -> Outcome:
    start = time.perf_counter()
    r, p = np.array([10.0**config.log10_r]), np.array([10.0**config.log10_p])
    W, b, loss = train_cells(config, r, p, ctx)
    Wb, bb, lb = _best(W, b, loss)
    return Outcome(
        points=[{}],
        arrays={
            "r": r[None, None],
            "p": p[None, None],
            "W": Wb[None],
            "b": bb[None],
            "loss": lb[None],
            "restart_loss": loss[None],
        },  # W (1, 1, H, F), b (1, 1, F), loss (1, 1), (1, 1, R)
        info={"seconds": time.perf_counter() - start, "device": str(resolve_device(ctx.device))},
    )


# 4) scoring against the closed-form map (phase_tables in phase_grid.py) --------------------------
def _scalar(fn: Callable[[dict[str, np.ndarray], Any], float]) -> Callable[[Outcome, Any], np.ndarray]:
    """Lift a function of the phase tables to a metric with one value (1 point, 1 seed)."""
    return lambda outcome, config: np.array([[fn(phase_tables(outcome, config), config)]], dtype=float)


def _fraction(hits: np.ndarray, among: np.ndarray) -> float:
    return float(hits[among].mean()) if among.any() else float("nan")  # nan fails every rule


def _agreement(t: dict[str, np.ndarray], _: Any) -> float:
    return _fraction(t["empirical"] == t["analytic"], ~t["near"])


def _superposition_agreement(t: dict[str, np.ndarray], config: Any) -> float:
    superposed = np.isin(t["analytic"], DIAGRAMS[config.diagram].SUPERPOSED)
    return _fraction(t["empirical"] == t["analytic"], ~t["near"] & superposed)


def _loss_gap(t: dict[str, np.ndarray], outcome_loss: np.ndarray) -> float:
    return float(np.max((outcome_loss - t["closed_loss"]) / t["closed_loss"]))


phase_metrics: dict[str, Metric] = {
    "agreement": Metric(
        _scalar(_agreement),
        "fraction of judged cells (≥ margin from every boundary) whose empirical phase is phase(r, p)",
    ),
    "superposition_agreement": Metric(
        _scalar(_superposition_agreement), "the same among judged cells where a superposed phase wins analytically"
    ),
    "judged_fraction": Metric(
        _scalar(lambda t, _: float((~t["near"]).mean())),
        "fraction of cells at least `margin` decades from every analytic boundary",
    ),
    "judged_cells": Metric(_scalar(lambda t, _: float((~t["near"]).sum())), "number of judged cells"),
    "disagreements": Metric(
        _scalar(lambda t, _: float(((t["empirical"] != t["analytic"]) & ~t["near"]).sum())),
        "number of judged cells whose empirical phase is not phase(r, p)",
    ),
    "superposition_cells": Metric(
        _scalar(lambda t, c: float(np.isin(t["empirical"], DIAGRAMS[c.diagram].SUPERPOSED).sum())),
        "number of cells (judged or not) whose kept model holds an antipodal pair",
    ),
    "other_cells": Metric(
        _scalar(lambda t, _: float((t["empirical"] == two_in_one.OTHER).sum())),
        "number of cells whose kept model is none of the named solutions",
    ),
    "loss_gap": Metric(
        lambda o, c: np.array([[_loss_gap(phase_tables(o, c), o.arrays["loss"][0, 0])]]),
        "max over cells of (kept model's exact loss − best closed form) / best closed form",
    ),
}


def boundary_distance(diagram: str, r: float, p: float, limit: float = 2.0, tol: float = 1e-3) -> float:
    """Decades (box distance in log r, log p) from (r, p) to the nearest analytic boundary (≤ limit)."""
    mod = DIAGRAMS[diagram]
    lo, hi = 0.0, limit
    if not mod.near_boundary(r, p, hi):
        return limit
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if mod.near_boundary(r, p, mid) else (mid, hi)
    return hi


# True/False as 1.0/0.0: `equal` to true still works, and a failing case prints as a number
def _point_agrees(o: Outcome, c: PhasePointConfig) -> np.ndarray:
    t = phase_tables(o, c)
    return np.array([[float(t["empirical"] == t["analytic"])]])


def _point_in_nearby_phase(o: Outcome, c: PhasePointConfig) -> np.ndarray:
    t = phase_tables(o, c)
    r, p = float(o.arrays["r"].ravel()[0]), float(o.arrays["p"].ravel()[0])
    return np.array([[float(str(t["empirical"]) in DIAGRAMS[c.diagram].DIAGRAM.phases_near(r, p, c.margin))]])


def _point_distance(o: Outcome, c: PhasePointConfig) -> np.ndarray:
    return np.array([[boundary_distance(c.diagram, float(o.arrays["r"].ravel()[0]), float(o.arrays["p"].ravel()[0]))]])


phase_point_metrics: dict[str, Metric] = {
    "agrees": Metric(_point_agrees, "1.0 if the kept model's phase is phase(r, p), else 0.0"),
    "in_nearby_phase": Metric(
        _point_in_nearby_phase,
        "1.0 if the kept model's phase is one that phase(r′, p′) takes within `margin` decades of (r, p) "
        "(= agrees away from a boundary; one of the phases that meet near one), else 0.0",
    ),
    "boundary_distance": Metric(_point_distance, "decades (in log r or log p) to the nearest analytic boundary"),
    "agrees_or_near": Metric(
        lambda o, c: np.maximum(_point_agrees(o, c), _point_distance(o, c) < c.margin),
        "1.0 if it agrees or lies within `margin` decades of a boundary (there it cannot fail: use in_nearby_phase)",
    ),
    "loss_gap": Metric(
        lambda o, c: np.array([[_loss_gap(phase_tables(o, c), o.arrays["loss"][0, 0])]]),
        "(kept model's exact loss − best closed form) / best closed form",
    ),
}


# quick: a cosine schedule from a 50× higher rate settles a 2-in-1 cell in a few hundred steps (3-in-2
# specs ask for more); batches of 512 suffice for two or three features; full: the notebook's settings
PHASE_DEFAULTS = {
    "steps": {"quick": 400, "full": 10_000},
    "lr": {"quick": 0.05, "full": 0.001},
    "schedule": {"quick": "cosine", "full": "constant"},
    "batch_size": {"quick": 512, "full": 1024},
}

PHASE = ExperimentKind(
    name="phase",
    config=PhaseConfig,
    run=run_phase,
    metrics=phase_metrics,
    plot=plot_phase_map,
    doc="empirical 2-in-1 / 3-in-2 phase map over (r, p), scored against the closed-form map",
    defaults=PHASE_DEFAULTS | {"chunks": {"quick": 1, "full": 25}},
    parts=PHASE_PARTS,
)

PHASE_POINT = ExperimentKind(
    name="phase_point",
    config=PhasePointConfig,
    run=run_phase_point,
    metrics=phase_point_metrics,
    doc="best-of-k models at one (log10 r, log10 p), scored against phase(r, p) (for a [property])",
    defaults=PHASE_DEFAULTS,
)

EXPERIMENTS.register(PHASE.name, PHASE)
EXPERIMENTS.register(PHASE_POINT.name, PHASE_POINT)
