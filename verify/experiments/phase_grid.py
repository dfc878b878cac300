"""The grid of the phase diagrams (TMS "Superposition as a Phase Change"): which diagram, its axes, and
the per-cell tables that compare a trained or optimised map with the closed-form one.

Shared by the trained phase kinds (phase.py), the free optimum (phase_free_optimum.py) and their
figures (phase_plot.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from analytic import three_in_two, two_in_one
from verify.kind import Outcome
from verify.spec import converter

if TYPE_CHECKING:
    from verify.experiments.phase import PhaseTraining

__all__ = ["DIAGRAMS", "Axis", "axis_within", "phase_tables"]

DIAGRAMS = {"two_in_one": two_in_one, "three_in_two": three_in_two}


# 1) grid axes -----------------------------------------------------------------------------------
@attrs.frozen
class Axis:
    """A grid axis: `{ log = [low, high], points = n }` (n log-spaced values) or an explicit list."""

    log: tuple[float, float] | None = None
    points: int | None = None
    values: tuple[float, ...] | None = None

    def array(self) -> np.ndarray:
        if self.values is not None:
            return np.asarray(self.values, dtype=float)
        assert self.log is not None and self.points is not None, "an axis has values or log and points"
        lo, hi = self.log
        return np.logspace(np.log10(lo), np.log10(hi), self.points)


def _structure_axis(value: Any, _: Any) -> Axis:
    if isinstance(value, Axis):
        return value
    if isinstance(value, list):
        if not value:
            raise ValueError("an axis needs at least one value")
        return Axis(values=tuple(converter.structure(x, float) for x in value))
    if isinstance(value, dict):
        extra = sorted(set(value) - {"log", "points"})
        if extra or set(value) != {"log", "points"}:
            raise ValueError(
                f"expected {{ log = [low, high], points = n }} or a list of values, got keys {sorted(value)}"
            )
        lo_hi, n = value["log"], converter.structure(value["points"], int)
        if not (isinstance(lo_hi, list) and len(lo_hi) == 2):
            raise ValueError(f"log must be [low, high], got {lo_hi!r}")
        lo, hi = (converter.structure(x, float) for x in lo_hi)
        if not 0 < lo < hi:
            raise ValueError(f"log = [low, high] needs 0 < low < high (got [{lo:g}, {hi:g}])")
        if n < 2:
            raise ValueError(f"points must be >= 2 (got {n})")
        return Axis(log=(lo, hi), points=n)
    raise TypeError(f"expected {{ log = [low, high], points = n }} or a list of values, got {value!r}")


converter.register_structure_hook(Axis, _structure_axis)


def axis_within(low: float, high: float, what: str) -> Callable[[Any, attrs.Attribute, Axis], None]:
    """Validator: every value of an axis lies in (low, high]."""

    def check(_: Any, attribute: attrs.Attribute, axis: Axis) -> None:
        # a log axis lies between its ends: check those, never build a huge grid while validating
        ends = axis.values if axis.values is not None else axis.log or ()
        bad = [x for x in ends if not low < x <= high]
        if bad:
            raise ValueError(f"'{attribute.name}' must lie in {what} (got {bad[0]:g})")

    return check


def phase_tables(outcome: Outcome, config: PhaseTraining) -> dict[str, np.ndarray]:
    """Per cell (the grid's shape): empirical and analytic phase, near-boundary mask, r, p, and the
    lowest closed-form loss."""
    mod = DIAGRAMS[config.diagram]
    a = outcome.arrays
    r, p = np.meshgrid(a["r"].ravel(), a["p"].ravel(), indexing="ij")
    shape = a["loss"].shape[2:] or ()
    r, p = r.reshape(shape), p.reshape(shape)
    empirical = np.asarray(mod.classify(a["W"][0, 0], norm_threshold=config.norm_threshold))
    closed = mod.losses(r, p)
    return {
        "r": r,
        "p": p,
        "empirical": empirical,
        "analytic": np.asarray(mod.phase(r, p)),
        "near": np.asarray(mod.near_boundary(r, p, config.margin)),
        "closed_loss": np.min(np.stack([np.asarray(x) for x in closed.values()]), axis=0),
    }
