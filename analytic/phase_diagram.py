"""The machinery shared by the phase diagrams of `analytic.two_in_one` and `analytic.three_in_two`.

Source: Toy Models of Superposition (Elhage et al. 2022), "Superposition as a Phase Change". A phase
diagram is a set of named solutions with closed-form losses L_k(r, p) over importance ratio r and
density p; the phase at (r, p) is the lowest loss, a boundary is a density where the lowest loss
changes, and there the optimal loss has a kink (a first-order phase change). Everything here is
generic over a `losses`-like function {name: L}, so each diagram states only its own facts (named
solutions, closed forms, classifier) and gets the rest from a `PhaseDiagram`:

- `winner`, `find_crossing`, `find_boundaries`, `jump_at`, `phase_changes_near`: the lowest loss,
  root finding for crossings and boundaries, one-sided slopes at a boundary, the near-boundary test;
- `PhaseDiagram`: binds them (and the free optimum of `analytic.free_optimum`) to one diagram; its
  methods are the public functions `phase`, `crossing`, `boundaries`, `boundary`, `slope_jump`,
  `near_boundary`, `phases_near`, `free_optimum`, `phase_map_difference` and `free_boundary` of each diagram module.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
from scipy import optimize

from analytic.free_optimum import (
    Array,
    FreeBoundary,
    FreeOptimum,
    LossFn,
    PhaseDisagreement,
    find_free_boundary,
    find_map_difference,
    minimise_expected_loss,
)

__all__ = [
    "OTHER",
    "Boundary",
    "SlopeJump",
    "checked_grid",
    "unwrap_scalars",
    "winner",
    "find_crossing",
    "find_boundaries",
    "jump_at",
    "phase_changes_near",
    "phases_within",
    "PhaseDiagram",
]

OTHER = "other"  # what a diagram's `classify` answers for a W that is none of the named solutions


# 1) closed-form tables over a grid --------------------------------------------------------------
def checked_grid(r, p) -> tuple[Array, Array]:
    """(r, p) broadcast to float arrays; ValueError unless r > 0 and p ∈ [0, 1]."""
    r, p = np.broadcast_arrays(np.asarray(r, dtype=float), np.asarray(p, dtype=float))
    if np.any(r <= 0) or np.any((p < 0) | (p > 1)):
        raise ValueError("need importance ratio r > 0 and density p in [0, 1]")
    return r, p


def unwrap_scalars(table: Mapping[str, float | Array]) -> dict[str, float | Array]:
    """The table with every 0-d entry turned into a Python float (arrays of any other shape kept)."""
    return {k: float(v) if np.ndim(v) == 0 else v for k, v in table.items()}


def winner(table: Mapping[str, float | Array], phases: tuple[str, ...]) -> str | Array:
    """Name of the lowest loss in `table` (elementwise); ties go to the earliest in `phases`."""
    stacked = np.stack([np.asarray(table[k], dtype=float) for k in phases], axis=-1)
    names = np.asarray(phases)[np.argmin(stacked, axis=-1)]
    return str(names) if names.ndim == 0 else names


def _winner_at(table: Mapping[str, float | Array], phases: tuple[str, ...]) -> str:
    """`winner` of the losses at one point (r, p)."""
    name = winner(table, phases)
    assert isinstance(name, str)  # scalar losses: one name
    return name


# 2) boundaries by root finding ------------------------------------------------------------------
class Boundary(NamedTuple):
    """A density p where the winning phase changes from `below` (smaller p) to `above`."""

    p: float
    below: str
    above: str


class SlopeJump(NamedTuple):
    """One-sided slopes ∂min_L/∂p at a boundary and their difference right − left (< 0: a kink)."""

    below: str
    above: str
    left: float
    right: float
    jump: float


_P_BRACKET_LO = 1e-9  # every loss difference is p·(α + βp): bracket away from the shared root p = 0
_SAME_CROSSING = 1e-12  # crossings closer than this are one point (e.g. the triple point)
_SLOPE_PROBE = 1e-7  # how far either side of a boundary `jump_at` reads the phases


def find_crossing(loss_fn: LossFn, r: float, a: str, b: str) -> float:
    """The density p in (0, 1] where L_a = L_b (brentq on L_a − L_b); nan if they do not cross."""

    def difference(p: float) -> float:
        table = loss_fn(r, p)
        return float(table[a] - table[b])

    lo, hi = difference(_P_BRACKET_LO), difference(1.0)
    if lo * hi > 0 or lo == 0.0:  # no sign change, or identical losses (a tie, not a crossing)
        return float("nan")
    return float(optimize.brentq(difference, _P_BRACKET_LO, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps))


def find_boundaries(loss_fn: LossFn, phases: tuple[str, ...], r: float) -> list[Boundary]:
    """Every density where the winner changes, in increasing p.

    1) all pairwise crossings are candidates; 2) the winner is constant between consecutive
    candidates, so evaluate it at the midpoints; 3) keep the candidates where it changes.
    """
    found = sorted(c for a, b in itertools.combinations(phases, 2) if np.isfinite(c := find_crossing(loss_fn, r, a, b)))
    candidates = [c for i, c in enumerate(found) if i == 0 or c - found[i - 1] > _SAME_CROSSING]
    edges = [0.0, *candidates, 1.0]
    wins = [_winner_at(loss_fn(r, (lo + hi) / 2), phases) for lo, hi in zip(edges[:-1], edges[1:])]
    return [Boundary(c, wins[i], wins[i + 1]) for i, c in enumerate(candidates) if wins[i] != wins[i + 1]]


def jump_at(
    loss_fn: LossFn,
    slope_fn: LossFn,
    phases: tuple[str, ...],
    r: float,
    p: float,
    between: tuple[str, str] | None = None,
) -> SlopeJump:
    """Left/right slopes of the optimal loss at a boundary density p (phases read just either side)."""
    if between is None:
        h = _SLOPE_PROBE
        between = (_winner_at(loss_fn(r, max(p - h, 0.0)), phases), _winner_at(loss_fn(r, min(p + h, 1.0)), phases))
    below, above = between
    slopes = slope_fn(r, p)
    left, right = float(slopes[below]), float(slopes[above])
    return SlopeJump(below, above, left, right, right - left)


def phase_changes_near(
    phase_fn: Callable, r: float | Array, p: float | Array, margin: float, samples: int = 17
) -> bool | Array:
    """Whether `phase_fn` changes within `margin` decades of (r, p) in log r or log p.

    Samples the box [r·10^±margin] × [p·10^±margin] (p capped at 1) on a samples × samples grid
    (spacing 2·margin/(samples − 1)); the boundaries are smooth curves and lines, so at worst one
    that only clips a corner of the box by less than the spacing goes unseen.
    """
    r, p = np.broadcast_arrays(np.asarray(r, dtype=float), np.asarray(p, dtype=float))
    centre = np.asarray(phase_fn(r, p))[..., None, None]
    offsets = 10.0 ** np.linspace(-margin, margin, samples)
    box_r = r[..., None, None] * offsets[:, None]  # (..., samples, 1)
    box_p = np.minimum(p[..., None, None] * offsets[None, :], 1.0)  # (..., 1, samples)
    near = (np.asarray(phase_fn(box_r, box_p)) != centre).any(axis=(-2, -1))
    return bool(near) if near.ndim == 0 else near


def phases_within(phase_fn: Callable, r: float, p: float, margin: float, samples: int = 17) -> frozenset[str]:
    """The phases `phase_fn` takes within `margin` decades of one point (r, p), on the box of
    `phase_changes_near`: one phase away from every boundary, the phases that meet there near one."""
    offsets = 10.0 ** np.linspace(-margin, margin, samples)
    box = np.asarray(phase_fn(float(r) * offsets[:, None], np.minimum(float(p) * offsets[None, :], 1.0)))
    return frozenset(str(name) for name in np.unique(box))


# 3) one diagram ---------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PhaseDiagram:
    """A phase diagram's own facts; its methods are the diagram module's public functions.

    `free_restarts` and `map_restarts` are the default random restarts of `free_optimum` and
    `phase_map_difference` (each solve also starts from every named solution).
    """

    phases: tuple[str, ...]  # fixed order; ties go to the first
    losses: LossFn  # closed-form loss of each named solution, vectorised over (r, p)
    loss_slopes: LossFn  # their ∂L/∂p
    solutions: Callable[[float, float], dict[str, tuple[Array, Array]]]  # {phase: (W, b)}
    importance: Callable[[float], Array]  # feature importances at ratio r
    classify: Callable[..., str | Array]  # phase of a (trained) W
    free_restarts: int
    map_restarts: int

    def phase(self, r: float | Array, p: float | Array) -> str | Array:
        """The lowest-loss named solution at (r, p)."""
        return winner(self.losses(r, p), self.phases)

    def crossing(self, r: float, between: tuple[str, str]) -> float:
        """Density where the two named losses are equal (nan if they never cross in (0, 1])."""
        return find_crossing(self.losses, r, *between)

    def boundaries(self, r: float) -> list[Boundary]:
        """The phase boundaries at importance ratio r: [Boundary(p, below, above)], increasing p."""
        return find_boundaries(self.losses, self.phases, r)

    def boundary(self, r: float | Array, between: tuple[str, str] | None = None) -> float | Array:
        """Critical density at r: the crossing of `between`, or else the lowest p where the winner
        changes (the diagram's `critical_density` in closed form). Vectorised over r; nan where none."""

        def one(ratio: float) -> float:
            if between is not None:
                return self.crossing(ratio, between)
            found = self.boundaries(ratio)
            return found[0].p if found else float("nan")

        out = np.vectorize(one, otypes=[float])(r)
        return float(out) if out.ndim == 0 else out

    def slope_jump(self, r: float, p: float, between: tuple[str, str] | None = None) -> SlopeJump:
        """First-order change at a boundary p: the optimal loss is continuous, its p-slope jumps."""
        return jump_at(self.losses, self.loss_slopes, self.phases, r, p, between)

    def near_boundary(self, r: float | Array, p: float | Array, margin: float) -> bool | Array:
        """True where a phase boundary passes within `margin` decades (in log r or log p) of (r, p)."""
        return phase_changes_near(self.phase, r, p, margin)

    def phases_near(self, r: float, p: float, margin: float) -> frozenset[str]:
        """The phases within `margin` decades (in log r or log p) of the point (r, p): {phase(r, p)}
        away from every boundary, and the phases that meet at a boundary passing within the margin."""
        return phases_within(self.phase, r, p, margin)

    # the free optimum over W and b (exact expected loss; machinery in analytic.free_optimum)
    def free_optimum(
        self, r: float, p: float, restarts: int | None = None, seed: int = 0, model: str = "relu_output"
    ) -> FreeOptimum:
        """Minimum of the exact expected loss over free magnitudes, directions and biases at (r, p)
        (`restarts` random starts besides the named solutions; None: `free_restarts`)."""
        restarts = self.free_restarts if restarts is None else restarts
        return minimise_expected_loss(self.solutions(r, p), self.importance(r), p, self.classify, restarts, seed, model)

    def phase_map_difference(
        self, r_values: Array, p_values: Array, restarts: int | None = None, seed: int = 0
    ) -> list[PhaseDisagreement]:
        """Grid points (r × p) where the free optimum's phase is not the closed-form winner
        (one free solve per point: slow; None restarts: `map_restarts`)."""
        restarts = self.map_restarts if restarts is None else restarts
        return find_map_difference(self.phase, self.losses, self.free_optimum, r_values, p_values, restarts, seed)

    def free_boundary(
        self, r: float, restarts: int = 0, seed: int = 0, tol: float = 0.005, model: str = "relu_output"
    ) -> FreeBoundary:
        """Where the free optimum leaves the phase below `boundary(r)` (bisection in log p; slow)."""

        def free_fn(ratio: float, density: float, n_restarts: int, start_seed: int) -> FreeOptimum:
            return self.free_optimum(ratio, density, n_restarts, start_seed, model)

        return find_free_boundary(self.boundaries, free_fn, r, restarts, seed, tol)
