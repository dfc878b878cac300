"""Two features in one dimension: the phase diagram of the extra feature.

Source: Toy Models of Superposition (Elhage et al. 2022), "Superposition as a Phase Change" — the
"toy model of the toy model": n = 2 features, m = 1 hidden dimension, ReLU output model
x' = ReLU(WᵀWx + b) (we add b; the paper writes −b). Feature 1 has importance 1, the "extra"
feature 2 has importance r. Feature x_i is 0 with probability S (sparsity), else U[0, 1]; density
p = 1 − S. Loss: Σ_i I_i E[(x_i − x'_i)²] (summed over features).

Derivation. Write V(p) = Var(x_i) = p/3 − p²/4.
- A feature with W_i = 0 outputs ReLU(b_i); the best such output is its mean p/2 (b_i = p/2), and
  the feature costs I_i·V(p). A feature with its own unit direction and b_i = 0 is copied exactly.
- Antipodal pair W_1 = −W_2 (unit norms, b = 0): x'_1 = ReLU(x_1 − x_2). If only one feature is on,
  both outputs are exact (ReLU makes the negative interference free). If both are on (probability
  p²), the larger is undershot by the smaller and the smaller is zeroed: each feature loses
  E[min(u, v)²] = ∫₀¹ 2t(1 − t)² dt = 1/6 per unit importance, i.e. p²/6.
Hence the three named solutions of the paper:
  "not_learned"   W = [1, 0],  b = [0, p/2]:  L = r·V(p)
  "dedicated"     W = [0, 1],  b = [p/2, 0]:  L = V(p)
  "superposition" W = [1, −1], b = [0, 0]:    L = (1 + r)·p²/6
All differences vanish at p = 0, so each pair crosses at most once more in (0, 1]: superposition
beats not_learned below p = 4r/(2 + 5r), beats dedicated below p = 4/(5 + 2r), and not_learned beats
dedicated iff r < 1; the triple point is r = 1, p = 4/7. At each boundary the optimal loss min_L
has a kink: its slope in p drops by I/3, I the importance of the feature dropped above it — the
paper's first-order phase change. The formulas in CLAIMS.md agree with this derivation, but only
with the optimal bias p/2 on the dropped feature (with b = 0 it would cost I·p/3 instead).

Symmetry: losses(1/r, p) = losses(r, p)/r with not_learned ⇄ dedicated, so the map is symmetric in
log r with those two roles swapped. Ties (r = 1) go to the first name in PHASES.

Free optimum (`analytic.free_optimum`: the exact loss minimised over W and b from many starts): a
small positive bias and slightly shorter W_i lower the antipodal loss (r = 1, p = 0.5: 0.0763 vs
1/12), so superposition survives a little above the closed-form boundary — by at most 0.09 decades
in p for every r ≠ 1 (0.04–0.05 for r ≤ 0.3 or r ≥ 3, 0.089 at r = 0.99). On the line r = 1 itself,
where not_learned and dedicated tie, tilted configurations with large biases (classified as
superposition or OTHER) stay ahead up to p ≈ 1. Elsewhere the map keeps its shape.

The phase-finding machinery (winner, crossing, boundaries, slope jump, free optimum) is generic
over a `losses`-like function and is reused by `analytic.three_in_two`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
from scipy import optimize

from analytic.free_optimum import (FreeBoundary, FreeOptimum, PhaseDisagreement, find_free_boundary,
                                   find_map_difference, minimise_expected_loss)
from analytic.linear import feature_variance

__all__ = [
    "PHASES", "OTHER", "N_FEATURES", "N_HIDDEN", "importance", "solutions", "losses",
    "loss_slopes", "phase", "critical_density", "crossing", "Boundary", "boundaries",
    "boundary", "SlopeJump", "slope_jump", "classify", "FreeOptimum", "free_optimum",
    "PhaseDisagreement", "phase_map_difference", "SUPERPOSED", "near_boundary", "FreeBoundary",
    "free_boundary",
]

N_FEATURES, N_HIDDEN = 2, 1
PHASES = ("not_learned", "dedicated", "superposition")  # fixed order; ties go to the first
OTHER = "other"  # what `classify` answers for a W that is none of the named solutions
SUPERPOSED = ("superposition",)  # the phases that hold an antipodal pair

Array = np.ndarray
LossFn = Callable[[float, float], Mapping[str, float]]


# 1) the named solutions -------------------------------------------------------------------------
def importance(r: float) -> Array:
    """Importances (1, r): feature 1, then the extra feature."""
    return np.array([1.0, float(r)])


def solutions(r: float, p: float) -> dict[str, tuple[Array, Array]]:
    """The named configurations {phase: (W (m, n), b (n,))}, W_i = column i.

    W does not depend on r (kept in the signature so both modules take a grid point alike); the
    dropped feature's bias is its mean p/2, the optimum for an unrepresented feature.
    """
    h = float(p) / 2.0
    return {
        "not_learned": (np.array([[1.0, 0.0]]), np.array([0.0, h])),
        "dedicated": (np.array([[0.0, 1.0]]), np.array([h, 0.0])),
        "superposition": (np.array([[1.0, -1.0]]), np.zeros(2)),
    }


# 2) closed-form losses and their slopes in p ----------------------------------------------------
def _grid(r, p) -> tuple[Array, Array]:
    r, p = np.broadcast_arrays(np.asarray(r, dtype=float), np.asarray(p, dtype=float))
    if np.any(r <= 0) or np.any((p < 0) | (p > 1)):
        raise ValueError("need importance ratio r > 0 and density p in [0, 1]")
    return r, p


def _unwrap(table: dict[str, Array]) -> dict[str, float | Array]:
    return {k: float(v) if v.ndim == 0 else v for k, v in table.items()}


def losses(r: float | Array, p: float | Array) -> dict[str, float | Array]:
    """Closed-form expected loss of each named solution at importance ratio r and density p."""
    r, p = _grid(r, p)
    v = feature_variance(1.0 - p)  # V(p) = p/3 − p²/4
    return _unwrap({"not_learned": r * v, "dedicated": v + 0.0 * r, "superposition": (1 + r) * p**2 / 6})


def loss_slopes(r: float | Array, p: float | Array) -> dict[str, float | Array]:
    """∂L/∂p of each closed form (V'(p) = 1/3 − p/2)."""
    r, p = _grid(r, p)
    dv = 1.0 / 3.0 - p / 2.0
    return _unwrap({"not_learned": r * dv, "dedicated": dv + 0.0 * r, "superposition": (1 + r) * p / 3})


# 3) the winning phase ---------------------------------------------------------------------------
def winner(table: Mapping[str, float | Array], phases: tuple[str, ...]) -> str | Array:
    """Name of the lowest loss in `table` (elementwise); ties go to the earliest in `phases`."""
    stacked = np.stack([np.asarray(table[k], dtype=float) for k in phases], axis=-1)
    names = np.asarray(phases)[np.argmin(stacked, axis=-1)]
    return str(names) if names.ndim == 0 else names


def phase(r: float | Array, p: float | Array) -> str | Array:
    """The lowest-loss named solution at (r, p)."""
    return winner(losses(r, p), PHASES)


def critical_density(r: float | Array) -> float | Array:
    """Closed form of `boundary(r)`: superposition wins iff p < min(4r/(2 + 5r), 4/(5 + 2r))."""
    r = np.asarray(r, dtype=float)
    out = np.minimum(4 * r / (2 + 5 * r), 4 / (5 + 2 * r))
    return float(out) if out.ndim == 0 else out


# 4) boundaries by root finding ------------------------------------------------------------------
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


_P_LO = 1e-9  # every loss difference is p·(α + βp): bracket away from the shared root p = 0
_MERGE = 1e-12  # crossings closer than this are one point (e.g. the triple point)


def find_crossing(loss_fn: LossFn, r: float, a: str, b: str) -> float:
    """The density p in (0, 1] where L_a = L_b (brentq on L_a − L_b); nan if they do not cross."""
    def diff(p: float) -> float:
        table = loss_fn(r, p)
        return float(table[a] - table[b])

    lo, hi = diff(_P_LO), diff(1.0)
    if lo * hi > 0 or lo == 0.0:  # no sign change, or identical losses (a tie, not a crossing)
        return float("nan")
    return float(optimize.brentq(diff, _P_LO, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps))


def find_boundaries(loss_fn: LossFn, phases: tuple[str, ...], r: float) -> list[Boundary]:
    """Every density where the winner changes, in increasing p.

    1) all pairwise crossings are candidates; 2) the winner is constant between consecutive
    candidates, so evaluate it at the midpoints; 3) keep the candidates where it changes.
    """
    found = sorted(c for a, b in itertools.combinations(phases, 2)
                   if np.isfinite(c := find_crossing(loss_fn, r, a, b)))
    cands = [c for i, c in enumerate(found) if i == 0 or c - found[i - 1] > _MERGE]
    edges = [0.0, *cands, 1.0]
    wins = [winner(loss_fn(r, (lo + hi) / 2), phases) for lo, hi in zip(edges[:-1], edges[1:])]
    return [Boundary(c, wins[i], wins[i + 1]) for i, c in enumerate(cands) if wins[i] != wins[i + 1]]


def jump_at(loss_fn: LossFn, slope_fn: LossFn, phases: tuple[str, ...], r: float, p: float,
            between: tuple[str, str] | None = None) -> SlopeJump:
    """Left/right slopes of the optimal loss at a boundary density p (phases read just either side)."""
    if between is None:
        h = 1e-7
        between = (winner(loss_fn(r, max(p - h, 0.0)), phases), winner(loss_fn(r, min(p + h, 1.0)), phases))
    below, above = between
    slopes = slope_fn(r, p)
    left, right = float(slopes[below]), float(slopes[above])
    return SlopeJump(below, above, left, right, right - left)


def crossing(r: float, between: tuple[str, str]) -> float:
    """Density where the two named losses are equal (nan if they never cross in (0, 1])."""
    return find_crossing(losses, r, *between)


def boundaries(r: float) -> list[Boundary]:
    """The phase boundaries at importance ratio r: [Boundary(p, below, above)], increasing p."""
    return find_boundaries(losses, PHASES, r)


def boundary(r: float | Array, between: tuple[str, str] | None = None) -> float | Array:
    """Critical density at r: the crossing of `between`, or else the lowest p where the winner changes.

    For 2-in-1 there is exactly one boundary, superposition → not_learned (r ≤ 1) or → dedicated
    (r > 1), at `critical_density(r)`. Vectorised over r; nan where none exists.
    """
    def one(rr: float) -> float:
        if between is not None:
            return crossing(rr, between)
        found = boundaries(rr)
        return found[0].p if found else float("nan")

    out = np.vectorize(one, otypes=[float])(r)
    return float(out) if out.ndim == 0 else out


def slope_jump(r: float, p: float, between: tuple[str, str] | None = None) -> SlopeJump:
    """First-order change at a boundary p: the optimal loss is continuous, its p-slope jumps."""
    return jump_at(losses, loss_slopes, PHASES, r, p, between)


def phase_changes_near(phase_fn: Callable, r: float | Array, p: float | Array, margin: float,
                       samples: int = 17) -> bool | Array:
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


def near_boundary(r: float | Array, p: float | Array, margin: float) -> bool | Array:
    """True where a phase boundary passes within `margin` decades (in log r or log p) of (r, p)."""
    return phase_changes_near(phase, r, p, margin)


# 5) naming the phase of a (trained) W -----------------------------------------------------------
def classify(W: Array, b: Array | None = None, norm_threshold: float = 0.5) -> str | Array:
    """Phase of W (..., 1, 2) by feature norms ‖W_i‖ and the sign of W_1·W_2 (b is not used).

    Extra feature ‖W_2‖ < thr → not_learned; both ≥ thr and W_1·W_2 < 0 → superposition;
    ‖W_1‖ < thr ≤ ‖W_2‖ → dedicated; anything else (both learned, same sign) → OTHER.
    """
    W = np.asarray(W, dtype=float)
    on = np.linalg.norm(W, axis=-2) >= norm_threshold  # (..., F)
    dot = np.sum(W[..., 0] * W[..., 1], axis=-1)  # (...)
    conds = [~on[..., 1], on[..., 0] & (dot < 0), ~on[..., 0]]
    out = np.select(conds, ["not_learned", "superposition", "dedicated"], default=OTHER)
    return str(out) if out.ndim == 0 else out


# 6) the free optimum over W and b (exact expected loss; machinery in analytic.free_optimum) ------
def free_optimum(r: float, p: float, restarts: int = 4, seed: int = 0,
                 model: str = "relu_output") -> FreeOptimum:
    """Minimum of the exact expected loss over free magnitudes, directions and biases at (r, p)."""
    return minimise_expected_loss(solutions(r, p), importance(r), p, classify, restarts, seed, model)


def phase_map_difference(r_values: Array, p_values: Array, restarts: int = 2,
                         seed: int = 0) -> list[PhaseDisagreement]:
    """Grid points (r × p) where the free optimum's phase is not the closed-form winner."""
    return find_map_difference(phase, losses, free_optimum, r_values, p_values, restarts, seed)


def free_boundary(r: float, restarts: int = 0, seed: int = 0, tol: float = 0.005,
                  model: str = "relu_output") -> FreeBoundary:
    """Where the free optimum leaves superposition at r (bisection in log p), beside `boundary(r)`."""
    def free_fn(rr: float, pp: float, k: int, s: int) -> FreeOptimum:
        return free_optimum(rr, pp, k, s, model)

    return find_free_boundary(boundaries, free_fn, r, restarts, seed, tol)
