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
r ≥ 1, and by r/3 for r < 1. These are the paper's 3-in-2 losses, with the optimal bias p/2 on the
dropped feature. Ties go to the first name in PHASES. There is exactly one boundary at every r:
superposition → not_learned (r ≤ 1) or antipodal_pair → dedicated (r > 1), at
`critical_density(r)`; the line r = 1 is a boundary at every p (superposition ⇄ antipodal_pair
below 4/7, not_learned ⇄ dedicated above), which `near_boundary` sees.

The same API as `analytic.two_in_one`: the first three closed forms are its own, and the
phase-finding functions are the methods of `DIAGRAM`, an `analytic.phase_diagram.PhaseDiagram`.
"""

from __future__ import annotations

import numpy as np

from analytic import two_in_one
from analytic.free_optimum import FreeBoundary, FreeOptimum, PhaseDisagreement
from analytic.phase_diagram import OTHER, Boundary, PhaseDiagram, SlopeJump, checked_grid, unwrap_scalars

__all__ = [
    "PHASES",
    "OTHER",
    "N_FEATURES",
    "N_HIDDEN",
    "importance",
    "solutions",
    "losses",
    "loss_slopes",
    "phase",
    "critical_density",
    "crossing",
    "Boundary",
    "boundaries",
    "boundary",
    "SlopeJump",
    "slope_jump",
    "classify",
    "FreeOptimum",
    "free_optimum",
    "PhaseDisagreement",
    "phase_map_difference",
    "SUPERPOSED",
    "near_boundary",
    "FreeBoundary",
    "free_boundary",
    "DIAGRAM",
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
    half_p = float(p) / 2.0
    return {
        "not_learned": (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([0.0, 0.0, half_p])),
        "dedicated": (np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), np.array([half_p, 0.0, 0.0])),
        "superposition": (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]]), np.zeros(3)),
        "antipodal_pair": (np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]), np.zeros(3)),
    }


# 2) closed-form losses and their slopes in p (the first three are 2-in-1's) ---------------------
def losses(r: float | Array, p: float | Array) -> dict[str, float | Array]:
    """Closed-form expected loss of each named solution at importance ratio r and density p."""
    r, p = checked_grid(r, p)
    return unwrap_scalars(two_in_one.losses(r, p) | {"antipodal_pair": p**2 / 3 + 0.0 * r})


def loss_slopes(r: float | Array, p: float | Array) -> dict[str, float | Array]:
    """∂L/∂p of each closed form (V'(p) = 1/3 − p/2)."""
    r, p = checked_grid(r, p)
    return unwrap_scalars(two_in_one.loss_slopes(r, p) | {"antipodal_pair": 2 * p / 3 + 0.0 * r})


def critical_density(r: float | Array) -> float | Array:
    """Closed form of `boundary(r)`: an antipodal pair wins iff p < min(4r/(2 + 5r), 4/7)."""
    r = np.asarray(r, dtype=float)
    out = np.minimum(4 * r / (2 + 5 * r), 4 / 7)
    return float(out) if out.ndim == 0 else out


# 3) naming the phase of a (trained) W -----------------------------------------------------------
def classify(W: Array, b: Array | None = None, norm_threshold: float = 0.5, antipodal_cos: float = 0.9) -> str | Array:
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

    def antipodal(i: int, j: int) -> Array:
        return on[..., i] & on[..., j] & (cos[..., i, j] <= -antipodal_cos)

    a12, a13, a23 = antipodal(0, 1), antipodal(0, 2), antipodal(1, 2)
    n_anti = a12.astype(int) + a13 + a23
    all_on = on.all(axis=-1)
    conds = [
        ~on[..., 2],
        on[..., 2] & (on[..., 0] ^ on[..., 1]) & (n_anti == 0),
        all_on & (n_anti == 1) & (a13 | a23),
        all_on & (n_anti == 1) & a12,
    ]
    out = np.select(conds, list(PHASES), default=OTHER)
    return str(out) if out.ndim == 0 else out


# 4) the phase map, its boundaries and the free optimum (analytic.phase_diagram) -----------------
DIAGRAM = PhaseDiagram(PHASES, losses, loss_slopes, solutions, importance, classify, free_restarts=2, map_restarts=1)
phase = DIAGRAM.phase
crossing = DIAGRAM.crossing
boundaries = DIAGRAM.boundaries
boundary = DIAGRAM.boundary
slope_jump = DIAGRAM.slope_jump
near_boundary = DIAGRAM.near_boundary
free_optimum = DIAGRAM.free_optimum
phase_map_difference = DIAGRAM.phase_map_difference
free_boundary = DIAGRAM.free_boundary
