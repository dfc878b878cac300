"""Three features in two dimensions: the phase diagram of the extra (third) feature.

Source: Toy Models of Superposition (Elhage et al. 2022), "Superposition as a Phase Change" — n = 3
features, m = 2 hidden dimensions, ReLU output model x' = ReLU(WᵀWx + b) (the paper writes −b).
Features 1 and 2 have importance 1, the extra feature 3 has importance r. Feature x_i is 0 with
probability S (sparsity), else U[0, 1]; density p = 1 − S. Loss: Σ_i I_i E[(x_i − x'_i)²].

The paper names a solution by the direction W ignores (its null vector). With the two facts
derived in `analytic.two_in_one` — a dropped feature with its best bias p/2 costs I·V(p),
V(p) = p/3 − p²/4, and an antipodal pair of unit vectors costs p²/6 per unit importance of each
member, while a dedicated (orthogonal, unit) feature is free — the four solutions, in PHASES order:
  "not_learned"    W ⊥ [0, 0, 1]: features 1, 2 dedicated, extra dropped       L = r·V(p)
  "dedicated"      W ⊥ [1, 0, 0]: features 2, 3 dedicated, feature 1 dropped   L = V(p)
  "superposition"  W ⊥ [0, 1, 1]: feature 1 dedicated, extra antipodal with 2  L = (1 + r)·p²/6
  "antipodal_pair" W ⊥ [1, 1, 0]: features 1, 2 antipodal, extra dedicated    L = p²/3
(W ⊥ [0, 1, 0] and W ⊥ [1, 0, 1] are the same solutions with features 1 and 2 swapped.) The paper
does not consider the triangle W ⊥ [1, 1, 1]; neither do we.

Consequences: for r < 1 only not_learned and superposition compete, exactly as in 2-in-1, and
superposition wins below p = 4r/(2 + 5r); for r > 1 only dedicated and antipodal_pair compete, and
antipodal_pair wins below p = 4/7 whatever r is. All four meet at r = 1, p = 4/7. At each boundary
the slope of the optimal loss in p drops by 1/3 (importance 1 of the feature dropped above it) for
r ≥ 1, and by r/3 for r < 1. The losses listed in CLAIMS.md agree with this derivation (with the
optimal bias p/2 on the dropped feature). Ties go to the first name in PHASES.

The same API as `analytic.two_in_one`, whose generic machinery (winner, root finding, slope jump,
near-boundary test) it reuses, and `analytic.free_optimum` for the free optimum.
"""

from __future__ import annotations

import numpy as np

from analytic import two_in_one as _two
from analytic.free_optimum import (FreeBoundary, FreeOptimum, PhaseDisagreement, find_free_boundary,
                                   find_map_difference, minimise_expected_loss)
from analytic.linear import feature_variance
from analytic.two_in_one import OTHER, Boundary, SlopeJump

__all__ = [
    "PHASES", "OTHER", "N_FEATURES", "N_HIDDEN", "importance", "solutions", "losses",
    "loss_slopes", "phase", "critical_density", "crossing", "Boundary", "boundaries",
    "boundary", "SlopeJump", "slope_jump", "classify", "FreeOptimum", "free_optimum",
    "PhaseDisagreement", "phase_map_difference", "SUPERPOSED", "near_boundary", "FreeBoundary",
    "free_boundary",
]

N_FEATURES, N_HIDDEN = 3, 2
PHASES = ("not_learned", "dedicated", "superposition", "antipodal_pair")  # the paper's order
SUPERPOSED = ("superposition", "antipodal_pair")  # the phases that hold an antipodal pair

Array = np.ndarray


# 1) the named solutions -------------------------------------------------------------------------
def importance(r: float) -> Array:
    """Importances (1, 1, r): features 1 and 2, then the extra feature."""
    return np.array([1.0, 1.0, float(r)])


def solutions(r: float, p: float) -> dict[str, tuple[Array, Array]]:
    """The named configurations {phase: (W (2, 3), b (3,))}, W_i = column i.

    W does not depend on r; a dropped feature's bias is its mean p/2 (its optimum).
    """
    h = float(p) / 2.0
    return {
        "not_learned": (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([0.0, 0.0, h])),
        "dedicated": (np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), np.array([h, 0.0, 0.0])),
        "superposition": (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]]), np.zeros(3)),
        "antipodal_pair": (np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]), np.zeros(3)),
    }


# 2) closed-form losses and their slopes in p ----------------------------------------------------
def losses(r: float | Array, p: float | Array) -> dict[str, float | Array]:
    """Closed-form expected loss of each named solution at importance ratio r and density p."""
    r, p = _two._grid(r, p)
    v = feature_variance(1.0 - p)  # V(p) = p/3 − p²/4
    return _two._unwrap({"not_learned": r * v, "dedicated": v + 0.0 * r,
                         "superposition": (1 + r) * p**2 / 6, "antipodal_pair": p**2 / 3 + 0.0 * r})


def loss_slopes(r: float | Array, p: float | Array) -> dict[str, float | Array]:
    """∂L/∂p of each closed form (V'(p) = 1/3 − p/2)."""
    r, p = _two._grid(r, p)
    dv = 1.0 / 3.0 - p / 2.0
    return _two._unwrap({"not_learned": r * dv, "dedicated": dv + 0.0 * r,
                         "superposition": (1 + r) * p / 3, "antipodal_pair": 2 * p / 3 + 0.0 * r})


# 3) the winning phase ---------------------------------------------------------------------------
def phase(r: float | Array, p: float | Array) -> str | Array:
    """The lowest-loss named solution at (r, p)."""
    return _two.winner(losses(r, p), PHASES)


def critical_density(r: float | Array) -> float | Array:
    """Closed form of `boundary(r)`: an antipodal pair wins iff p < min(4r/(2 + 5r), 4/7)."""
    r = np.asarray(r, dtype=float)
    out = np.minimum(4 * r / (2 + 5 * r), 4 / 7)
    return float(out) if out.ndim == 0 else out


# 4) boundaries by root finding ------------------------------------------------------------------
def crossing(r: float, between: tuple[str, str]) -> float:
    """Density where the two named losses are equal (nan if they never cross in (0, 1])."""
    return _two.find_crossing(losses, r, *between)


def boundaries(r: float) -> list[Boundary]:
    """The phase boundaries at importance ratio r: [Boundary(p, below, above)], increasing p."""
    return _two.find_boundaries(losses, PHASES, r)


def boundary(r: float | Array, between: tuple[str, str] | None = None) -> float | Array:
    """Critical density at r: the crossing of `between`, or else the lowest p where the winner changes.

    There is exactly one boundary at every r: superposition → not_learned (r ≤ 1) or
    antipodal_pair → dedicated (r > 1), at `critical_density(r)`. Vectorised over r.
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
    return _two.jump_at(losses, loss_slopes, PHASES, r, p, between)


def near_boundary(r: float | Array, p: float | Array, margin: float) -> bool | Array:
    """True where a phase boundary passes within `margin` decades (in log r or log p) of (r, p).

    Note the line r = 1 is a boundary at every p (superposition ⇄ antipodal_pair below 4/7,
    not_learned ⇄ dedicated above).
    """
    return _two.phase_changes_near(phase, r, p, margin)


# 5) naming the phase of a (trained) W -----------------------------------------------------------
def classify(W: Array, b: Array | None = None, norm_threshold: float = 0.5,
             antipodal_cos: float = 0.9) -> str | Array:
    """Phase of W (..., 2, 3) from which features are learned and which pair is antipodal.

    Feature i is learned if ‖W_i‖ ≥ norm_threshold; a learned pair (i, j) is antipodal if
    cos(W_i, W_j) ≤ −antipodal_cos. Extra feature not learned → not_learned; extra and exactly one
    of features 1, 2 learned, no antipodal pair → dedicated; all three learned with exactly one
    antipodal pair → superposition if the pair holds the extra feature, else antipodal_pair;
    anything else (e.g. the triangle W ⊥ [1, 1, 1]) → OTHER. Invariant under rotations and sign
    flips of the hidden space and under swapping features 1 and 2. b is not used.
    """
    W = np.asarray(W, dtype=float)
    norms = np.linalg.norm(W, axis=-2)  # (..., F)
    on = norms >= norm_threshold
    gram = np.einsum("...hi,...hj->...ij", W, W)  # (..., F, F)
    cos = gram / np.maximum(norms[..., :, None] * norms[..., None, :], 1e-300)

    def anti(i: int, j: int) -> Array:
        return on[..., i] & on[..., j] & (cos[..., i, j] <= -antipodal_cos)

    a12, a13, a23 = anti(0, 1), anti(0, 2), anti(1, 2)
    n_anti = a12.astype(int) + a13 + a23
    all_on = on.all(axis=-1)
    conds = [~on[..., 2],
             on[..., 2] & (on[..., 0] ^ on[..., 1]) & (n_anti == 0),
             all_on & (n_anti == 1) & (a13 | a23),
             all_on & (n_anti == 1) & a12]
    out = np.select(conds, list(PHASES), default=OTHER)
    return str(out) if out.ndim == 0 else out


# 6) the free optimum over W and b (exact expected loss) -----------------------------------------
def free_optimum(r: float, p: float, restarts: int = 2, seed: int = 0,
                 model: str = "relu_output") -> FreeOptimum:
    """Minimum of the exact expected loss over free magnitudes, directions and biases at (r, p)."""
    return minimise_expected_loss(solutions(r, p), importance(r), p, classify, restarts, seed, model)


def phase_map_difference(r_values: Array, p_values: Array, restarts: int = 1,
                         seed: int = 0) -> list[PhaseDisagreement]:
    """Grid points (r × p) where the free optimum's phase is not the closed-form winner (slow: ~s/point)."""
    return find_map_difference(phase, losses, free_optimum, r_values, p_values, restarts, seed)


def free_boundary(r: float, restarts: int = 0, seed: int = 0, tol: float = 0.005,
                  model: str = "relu_output") -> FreeBoundary:
    """Where the free optimum leaves the phase below `boundary(r)` (bisection in log p; slow)."""
    def free_fn(rr: float, pp: float, k: int, s: int) -> FreeOptimum:
        return free_optimum(rr, pp, k, s, model)

    return find_free_boundary(boundaries, free_fn, r, restarts, seed, tol)
