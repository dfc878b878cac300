"""The `phase_free_optimum` experiment: the phase map when magnitudes and biases are free (no training).

TMS "Superposition as a Phase Change" draws its analytic diagrams with unit-norm named solutions;
trained models may shorten W_i and move b. This kind minimises the exact expected loss
(`analytic.free_optimum`, multi-start L-BFGS-B from the named solutions and random starts) on a
grid of (r, p), locates the free optimum's boundary at a list of r by bisection in log p, and
evaluates the free optimum at one probe point (r = 1, p = 0.5 by default, where the paper's
antipodal solution costs (1 + r)p²/6 = 1/12). Metrics: the free optimum never exceeds the closed
forms; its phase agrees with the closed-form map away from the boundaries; how far the boundary
moves; whether the free transition is still first order (the slope of the free optimum's loss
drops at its boundary, measured against the closed-form drop I/3); by how much the free antipodal
optimum beats the fixed-magnitude one. With `model =
"linear"` the same optimisation runs on the linear model's exact loss (a control).
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from analytic import free_optimum
from verify.experiments.phase_grid import DIAGRAMS, Axis, axis_within
from verify.experiments.phase_plot import plot_free_optimum
from verify.kind import ExperimentKind, Metric, Outcome, Parts, RunContext, merged_info
from verify.registry import EXPERIMENTS

__all__ = [
    "FreeOptimumConfig",
    "run_free_optimum",
    "run_free_optimum_part",
    "merge_free_optimum",
    "FREE_OPTIMUM_PARTS",
    "PHASE_FREE_OPTIMUM",
]


@attrs.frozen
class FreeOptimumConfig:
    diagram: str = attrs.field(default="two_in_one", validator=v.in_(tuple(DIAGRAMS)))
    model: str = attrs.field(default="relu_output", validator=v.in_(tuple(free_optimum.MODELS)))
    r: Axis = attrs.field(default=Axis(log=(0.1, 10.0), points=5), validator=axis_within(0, np.inf, "(0, ∞)"))
    p: Axis = attrs.field(default=Axis(log=(0.01, 1.0), points=5), validator=axis_within(0, 1, "(0, 1]"))
    restarts: int = attrs.field(default=2, validator=v.ge(0))  # random starts besides the named ones
    # r values where the free boundary is located (bisection in log p, `boundary_tol` decades wide)
    boundary_r: Axis = attrs.field(
        default=Axis(values=(0.1, 0.3, 0.9, 1.1, 3.0, 10.0)), validator=axis_within(0, np.inf, "(0, ∞)")
    )
    boundary_restarts: int = attrs.field(default=0, validator=v.ge(0))
    boundary_tol: float = attrs.field(default=0.005, validator=v.gt(0))
    margin: float = attrs.field(default=0.1, validator=v.ge(0))  # decades; cells nearer are not judged
    probe_r: float = attrs.field(default=1.0, validator=v.gt(0))
    probe_p: float = attrs.field(default=0.5, validator=[v.gt(0), v.le(1)])
    seed: int = 0


def _free(config: FreeOptimumConfig, r: float, p: float, restarts: int) -> free_optimum.FreeOptimum:
    """The free optimum at one (r, p): seeded by the config's seed alone, so any cell can be computed anywhere."""
    return DIAGRAMS[config.diagram].free_optimum(float(r), float(p), restarts, config.seed, config.model)


def _count(config: FreeOptimumConfig) -> int:
    """Parts: one per grid row (an r value), one per boundary_r, and the probe."""
    return config.r.array().size + config.boundary_r.array().size + 1


def run_free_optimum_part(config: FreeOptimumConfig, part: int, ctx: RunContext) -> Outcome:
    """Part `part`: grid row `part` (every p at r[part]), else boundary `part − Nr`, else the probe."""
    start = time.perf_counter()
    mod = DIAGRAMS[config.diagram]
    r, p, br = config.r.array(), config.p.array(), config.boundary_r.array()
    total = r.size * p.size + br.size + 1  # progress in the whole run's units: cells, boundaries, probe
    report = ctx.progress
    tick = (lambda: report(1, total)) if report else (lambda: None)
    arrays: dict[str, np.ndarray] = {}
    if part < r.size:  # 1) one row of the grid
        row = []
        for pj in p:  # a tick per cell, as the cells are done
            row.append(_free(config, r[part], pj, config.restarts))
            tick()
        arrays = {
            "free_loss": np.array([x.loss for x in row]),
            "free_phase": np.array([x.phase for x in row], dtype="<U16"),
            "free_W": np.stack([x.W for x in row]).astype(float),
            "free_b": np.stack([x.b for x in row]).astype(float),
        }
    elif part < r.size + br.size:  # 2) the free boundary at one boundary_r, and the drop of the loss slope there
        x = float(br[part - r.size])
        fb = mod.free_boundary(x, config.boundary_restarts, config.seed, config.boundary_tol, config.model)
        free_jump = np.nan
        gap = config.boundary_tol  # the bisection leaves the boundary uncertain by ± boundary_tol / 2
        if np.isfinite(fb.free) and fb.free * 10.0 ** (gap + 0.02) < 1.0:  # room for the stencil
            left, right = free_optimum.one_sided_slopes(
                lambda pp: _free(config, x, pp, config.boundary_restarts).loss, fb.free, gap=gap, step=0.01
            )
            free_jump = right - left
        tick()
        arrays = {
            "closed_boundary": np.array(fb.closed),
            "free_boundary": np.array(fb.free),
            "closed_jump": np.array(mod.slope_jump(x, fb.closed).jump),
            "free_jump": np.array(free_jump),
        }
    else:  # 3) the probe
        probe = _free(config, config.probe_r, config.probe_p, config.restarts)
        tick()
        arrays = {
            "probe_loss": np.array(probe.loss),
            "probe_closed": np.array([mod.losses(config.probe_r, config.probe_p)[k] for k in mod.PHASES]),
            "probe_phase": np.asarray(probe.phase, dtype="<U16"),
            "probe_W": np.asarray(probe.W),
            "probe_b": np.asarray(probe.b),
        }
    return Outcome(points=[{}], arrays=arrays, info={"seconds": time.perf_counter() - start, "device": "cpu"})


def merge_free_optimum(config: FreeOptimumConfig, parts: list[Outcome]) -> Outcome:
    """The grid, the boundaries and the probe from their parts, each array with leading axes (1, 1)."""
    mod = DIAGRAMS[config.diagram]
    r, p, br = config.r.array(), config.p.array(), config.boundary_r.array()
    if len(parts) != _count(config):
        raise ValueError(f"need {_count(config)} parts (rows, boundaries, the probe), got {len(parts)}")
    rows, bounds, probe = parts[: r.size], parts[r.size : r.size + br.size], parts[-1]
    rr, pp = np.meshgrid(r, p, indexing="ij")
    closed = mod.losses(rr, pp)
    arrays = {"r": r, "p": p}
    arrays |= {k: np.stack([o.arrays[k] for o in rows]) for k in ("free_loss", "free_phase", "free_W", "free_b")}
    arrays |= {
        "closed_loss": np.stack([np.asarray(closed[k]) for k in mod.PHASES], axis=-1),  # (Nr, Np, K)
        "closed_phase": np.asarray(mod.phase(rr, pp)).astype("<U16"),
        "boundary_r": br,
    }
    arrays |= {k: np.stack([o.arrays[k] for o in bounds]) for k in bounds[0].arrays}
    arrays |= probe.arrays
    one = {k: np.asarray(x)[None, None] for k, x in arrays.items()}
    return Outcome(points=[{}], arrays=one, info=merged_info(parts))


FREE_OPTIMUM_PARTS = Parts(count=_count, run=run_free_optimum_part, merge=merge_free_optimum)


def run_free_optimum(config: FreeOptimumConfig, ctx: RunContext) -> Outcome:
    """The whole free-optimum map in this process: its parts one after another, merged."""
    return FREE_OPTIMUM_PARTS.run_parts(config, ctx)


def _scalar(fn: Any) -> Any:
    return lambda o, c: np.array([[fn({k: x[0, 0] for k, x in o.arrays.items()}, c)]], dtype=float)


def _excess(a: dict[str, np.ndarray], _: Any) -> float:
    return float(np.max(a["free_loss"] - a["closed_loss"].min(axis=-1)))


def _free_agreement(a: dict[str, np.ndarray], c: FreeOptimumConfig) -> float:
    mod = DIAGRAMS[c.diagram]
    rr, pp = np.meshgrid(a["r"], a["p"], indexing="ij")
    judged = ~np.asarray(mod.near_boundary(rr, pp, c.margin))
    return float((a["free_phase"] == a["closed_phase"])[judged].mean()) if judged.any() else float("nan")


def _boundary_move(a: dict[str, np.ndarray]) -> np.ndarray:
    """log10(free boundary / closed-form boundary) at each boundary_r, decades (> 0: the
    superposition region grows); NaN where the free optimum has no boundary."""
    return np.log10(a["free_boundary"] / a["closed_boundary"])


def _boundary_shift(a: dict[str, np.ndarray], _: Any) -> float:
    shift = np.abs(_boundary_move(a))
    return float(np.inf) if np.isnan(shift).any() else float(shift.max())  # no boundary: fail


def _boundary_rise(a: dict[str, np.ndarray], _: Any) -> float:
    rise = _boundary_move(a)
    return -float(np.inf) if np.isnan(rise).any() else float(rise.min())  # no boundary: fail


def _free_kink(a: dict[str, np.ndarray], _: Any) -> float:
    ratio = a["free_jump"] / a["closed_jump"]  # both < 0 at a first-order change
    return -float(np.inf) if np.isnan(ratio).any() else float(ratio.min())  # no boundary: fail


def _probe_margin(a: dict[str, np.ndarray], c: FreeOptimumConfig) -> float:
    mod = DIAGRAMS[c.diagram]
    antipodal = [a["probe_closed"][mod.PHASES.index(k)] for k in mod.SUPERPOSED]
    return float(min(antipodal) - a["probe_loss"])


free_optimum_metrics: dict[str, Metric] = {
    "excess_over_closed_form": Metric(
        _scalar(_excess), "max over the grid of free-optimum loss − lowest closed-form loss"
    ),
    "free_agreement": Metric(
        _scalar(_free_agreement),
        "fraction of cells ≥ margin from every boundary where the free optimum's phase is phase(r, p)",
    ),
    "boundary_shift": Metric(
        _scalar(_boundary_shift), "max over boundary_r of |log10(free boundary / closed-form boundary)| (decades)"
    ),
    "boundary_rise": Metric(
        _scalar(_boundary_rise),
        "min over boundary_r of log10(free boundary / closed-form boundary) (decades; > 0: the free "
        "optimum superposes at higher p than the closed forms)",
    ),
    "free_kink": Metric(
        _scalar(_free_kink),
        "min over boundary_r of (slope drop of the free optimum's loss at its boundary) / "
        "(closed-form drop I/3): > 0 means still first order",
    ),
    "probe_margin": Metric(
        _scalar(_probe_margin), "closed-form antipodal loss − free-optimum loss at (probe_r, probe_p)"
    ),
    "probe_superposed": Metric(
        lambda o, c: np.array([[float(str(o.arrays["probe_phase"][0, 0]) in DIAGRAMS[c.diagram].SUPERPOSED)]]),
        "1.0 if the free optimum at the probe holds an antipodal pair, else 0.0",
    ),
}


PHASE_FREE_OPTIMUM = ExperimentKind(
    name="phase_free_optimum",
    config=FreeOptimumConfig,
    run=run_free_optimum,
    metrics=free_optimum_metrics,
    plot=plot_free_optimum,
    doc="exact-loss optimum over free W, b on the (r, p) grid vs the closed-form phase map (no training)",
    parts=FREE_OPTIMUM_PARTS,
)

EXPERIMENTS.register(PHASE_FREE_OPTIMUM.name, PHASE_FREE_OPTIMUM)
