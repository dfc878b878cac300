"""What an experiment would cost, estimated from its config before anything is allocated.

`check-specs` (and every run, which validates first) refuses a spec whose experiment would need more
memory or arithmetic than a limit, with `experiment.<field>: needs ~N GiB of memory (limit …); lower
<field>, …` — instead of a MemoryError after minutes of work. Each kind's cost model is a rough
upper estimate written as a sum of products of config fields (`Need`); the field with the largest
factor in the dominant product is the one named. A kind without a model here is not estimated.

Limits: `SUPERPOSITION_LAB_MAX_GIB` (default 64) and `SUPERPOSITION_LAB_MAX_FLOP` (default 1e17,
hours on a GPU, days on a CPU) raise them for a bigger machine.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["Need", "COST_MODELS", "budget_errors", "memory_limit_bytes", "compute_limit_flop", "grid_sizes"]

GIB = 2**30
FLOAT = 4  # bytes per float32


@attrs.frozen
class Need:
    """`scale × Π factors` of memory (bytes) or compute (floating-point operations); factors name the
    fields (or grid axes) that drive it."""

    what: str  # "memory" | "compute"
    scale: float
    factors: dict[str, float]

    @property
    def amount(self) -> float:
        return self.scale * math.prod(self.factors.values())


def memory_limit_bytes() -> float:
    return float(os.environ.get("SUPERPOSITION_LAB_MAX_GIB", 64)) * GIB


def compute_limit_flop() -> float:
    return float(os.environ.get("SUPERPOSITION_LAB_MAX_FLOP", 1e17))


def _points(value: Any) -> int:
    """Grid points of one axis field: a list's length, a phase Axis's points, 1 for a scalar."""
    if isinstance(value, list):
        return len(value)
    values = getattr(value, "values", None)
    if values is not None:
        return len(values)
    points = getattr(value, "points", None)
    return int(points) if isinstance(points, int) else 1


def grid_sizes(config: Any, axes: tuple[str, ...]) -> dict[str, float]:
    """Grid points per axis field that has more than one."""
    sizes = {a: _points(getattr(config, a)) for a in axes if hasattr(config, a)}
    return {a: float(n) for a, n in sizes.items() if n > 1}


def _toy(c: Any) -> list[Need]:
    inst = {**grid_sizes(c, ("sparsity", "perturbed_density", "hidden_l1")), "seeds": c.seeds, "restarts": c.restarts}
    F, H = {"n_features": c.n_features}, {"n_hidden": c.n_hidden}
    needs = [
        Need("memory", 4 * FLOAT, {**inst, **F, **H}),  # W, its gradient and AdamW's two moments
        Need("memory", 6 * FLOAT, {**inst, "batch_size": max(c.batch_size, 8192), **F}),  # batch + buffers
        Need("memory", 40 / 8192, {"eval_samples": c.eval_samples}),  # the evaluation's batch list
        Need("compute", 10, {**inst, "steps": c.steps, "batch_size": c.batch_size, **F, **H}),
        Need("compute", 4, {**inst, "eval_samples": c.eval_samples, **F, **H}),
    ]
    if c.snapshot_every:  # W (and b) of every instance at ≤ 2·steps/snapshot_every snapshots, on the host
        needs.append(Need("memory", 2 * FLOAT / c.snapshot_every, {**inst, "steps": c.steps, **F, **H}))
    return needs


def _abs_value(c: Any) -> list[Need]:
    inst = {**grid_sizes(c, ("sparsity",)), "seeds": c.seeds, "restarts": c.restarts}
    FH = {"n_features": c.n_features, "n_hidden": c.n_hidden}
    return [
        Need("memory", 8 * FLOAT, {**inst, **FH}),  # W1, W2, their gradients and AdamW's moments
        Need("memory", 8 * FLOAT, {**inst, "batch_size": max(c.batch_size, 8192), "n_features": c.n_features}),
        Need("compute", 12, {**inst, "steps": c.steps, "batch_size": c.batch_size, **FH}),
        Need("compute", 4, {**inst, "eval_samples": c.eval_samples, **FH}),
    ]


def _sae(c: Any) -> list[Need]:
    grid = grid_sizes(c, ("penalty", "k", "bandwidth", "density", "d_sae"))
    inst = {**grid, "seeds": c.seeds}
    if c.baseline is not None:
        inst["seeds"] = 2 * c.seeds  # a second variant on the same grid (at most)
    d_sae = max(c.d_sae) if isinstance(c.d_sae, list) else c.d_sae  # a d_sae sweep: bounded by the largest
    dims = {"d_sae": d_sae, "n_dims": c.n_dims}
    width = c.n_features + c.n_dims + 3 * d_sae
    return [
        Need("memory", 8 * FLOAT, {**inst, **dims}),  # encoder + decoder, gradients, AdamW moments
        Need("memory", FLOAT, {**inst, "n_features": c.n_features, "n_dims": c.n_dims}),  # true directions
        Need("memory", 2 * FLOAT * width, {**inst, "batch_size": max(c.batch_size, 8192)}),
        Need("memory", FLOAT * (c.n_features + c.n_dims), {"eval_samples": c.eval_samples}),  # PCA's sample
        Need(
            "compute",
            12 + 2 * c.n_features / max(d_sae, 1),
            {**inst, "steps": c.steps, "batch_size": c.batch_size, **dims},
        ),
        Need("compute", 4 + 2 * c.n_features / max(d_sae, 1), {**inst, "eval_samples": c.eval_samples, **dims}),
    ]


def _phase(c: Any) -> list[Need]:
    inst = {**grid_sizes(c, ("r", "p")), "restarts": c.restarts}
    return [
        Need("memory", 8 * FLOAT * 3, {**inst, "batch_size": max(c.batch_size, 8192)}),
        Need("compute", 10 * 6, {**inst, "steps": c.steps, "batch_size": c.batch_size}),
    ]


def _phase_free_optimum(c: Any) -> list[Need]:
    # each cell and boundary point: a few L-BFGS-B runs of ~1e6 operations
    runs = {**grid_sizes(c, ("r", "p")), "restarts": c.restarts + 6}
    boundary = {**grid_sizes(c, ("boundary_r",)), "boundary_restarts": c.boundary_restarts + 6}
    return [Need("compute", 1e6, runs), Need("compute", 1e8, boundary)]


def _loss_decomposition(c: Any) -> list[Need]:
    per_sample = {"mc_samples": c.mc_samples, "n_features": c.n_features + 1}
    return [Need("memory", 8 * 6, per_sample), Need("compute", 8 * c.n_hidden, per_sample)]


COST_MODELS: dict[str, Callable[[Any], list[Need]]] = {
    "toy": _toy,
    "abs_value": _abs_value,
    "sae": _sae,
    "phase": _phase,
    "phase_point": _phase,
    "phase_free_optimum": _phase_free_optimum,
    "loss_decomposition": _loss_decomposition,
}


def _levers(needs: list[Need]) -> list[str]:
    """The fields of the dominant need, largest factor first."""
    top = max(needs, key=lambda n: n.amount)
    return [k for k, _ in sorted(top.factors.items(), key=lambda kv: -kv[1])]


def _say(levers: list[str]) -> str:
    return levers[0] if len(levers) == 1 else ", ".join(levers[:-1]) + " or " + levers[-1]


def budget_errors(kind: str, config: Any, prefix: str = "experiment") -> list[tuple[str, str]]:
    """(prefix.field, reason) for each resource this config would need beyond its limit."""
    model = COST_MODELS.get(kind)
    if model is None:
        return []
    needs = model(config)
    errors = []
    for what, limit in (("memory", memory_limit_bytes()), ("compute", compute_limit_flop())):
        mine = [n for n in needs if n.what == what]
        total = sum(n.amount for n in mine)
        if not mine or total <= limit:
            continue
        levers = _levers(mine)[:3]
        if what == "memory":
            amount = f"~{total / GIB:.3g} GiB of memory (limit {limit / GIB:.3g} GiB, SUPERPOSITION_LAB_MAX_GIB)"
        else:
            amount = f"~{total:.2g} floating-point operations (limit {limit:.2g}, SUPERPOSITION_LAB_MAX_FLOP)"
        errors.append((f"{prefix}.{levers[0]}", f"needs {amount}; lower {_say(levers)}"))
    return errors
