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
paper's first-order phase change. These are the losses the paper plots for its 2-in-1 diagram,
with the optimal bias p/2 on the dropped feature (with b = 0 it would cost I·p/3 instead).

Symmetry: losses(1/r, p) = losses(r, p)/r with not_learned ⇄ dedicated, so the map is symmetric in
log r with those two roles swapped. Ties (r = 1) go to the first name in PHASES.

Free optimum (`analytic.free_optimum`: the exact loss minimised over W and b from many starts): a
small positive bias and slightly shorter W_i lower the antipodal loss (r = 1, p = 0.5: 0.0763 vs
1/12), so superposition survives a little above the closed-form boundary — by at most 0.09 decades
in p for every r ≠ 1 (0.04–0.05 for r ≤ 0.3 or r ≥ 3, 0.089 at r = 0.99). On the line r = 1 itself,
where not_learned and dedicated tie, tilted configurations with large biases (classified as
superposition or OTHER) stay ahead up to p ≈ 1. Elsewhere the map keeps its shape.

There is exactly one boundary at every r: superposition → not_learned (r ≤ 1) or → dedicated
(r > 1), at `critical_density(r)`. The phase-finding functions (phase, crossing, boundaries,
boundary, slope_jump, near_boundary, free_optimum, phase_map_difference, free_boundary) are the
methods of `DIAGRAM`, an `analytic.phase_diagram.PhaseDiagram` shared with `analytic.three_in_two`.
"""

from __future__ import annotations

import numpy as np

from analytic.free_optimum import FreeBoundary, FreeOptimum, PhaseDisagreement
from analytic.linear import feature_variance
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

N_FEATURES, N_HIDDEN = 2, 1
PHASES = ("not_learned", "dedicated", "superposition")  # fixed order; ties go to the first
SUPERPOSED = ("superposition",)  # the phases that hold an antipodal pair

Array = np.ndarray


# 1) the named solutions -------------------------------------------------------------------------
def importance(r: float) -> Array:
    """Importances (1, r): feature 1, then the extra feature."""
    return np.array([1.0, float(r)])


def solutions(r: float, p: float) -> dict[str, tuple[Array, Array]]:
    """The named configurations {phase: (W (m, n), b (n,))}, W_i = column i.

    W does not depend on r (kept in the signature so both modules take a grid point alike); the
    dropped feature's bias is its mean p/2, the optimum for an unrepresented feature.
    """
    half_p = float(p) / 2.0
    return {
        "not_learned": (np.array([[1.0, 0.0]]), np.array([0.0, half_p])),
        "dedicated": (np.array([[0.0, 1.0]]), np.array([half_p, 0.0])),
        "superposition": (np.array([[1.0, -1.0]]), np.zeros(2)),
    }


# 2) closed-form losses and their slopes in p ----------------------------------------------------
def losses(r: float | Array, p: float | Array) -> dict[str, float | Array]:
    """Closed-form expected loss of each named solution at importance ratio r and density p."""
    r, p = checked_grid(r, p)
    variance = feature_variance(1.0 - p)  # V(p) = p/3 − p²/4
    return unwrap_scalars(
        {"not_learned": r * variance, "dedicated": variance + 0.0 * r, "superposition": (1 + r) * p**2 / 6}
    )


def loss_slopes(r: float | Array, p: float | Array) -> dict[str, float | Array]:
    """∂L/∂p of each closed form (V'(p) = 1/3 − p/2)."""
    r, p = checked_grid(r, p)
    variance_slope = 1.0 / 3.0 - p / 2.0
    return unwrap_scalars(
        {"not_learned": r * variance_slope, "dedicated": variance_slope + 0.0 * r, "superposition": (1 + r) * p / 3}
    )


def critical_density(r: float | Array) -> float | Array:
    """Closed form of `boundary(r)`: superposition wins iff p < min(4r/(2 + 5r), 4/(5 + 2r))."""
    r = np.asarray(r, dtype=float)
    out = np.minimum(4 * r / (2 + 5 * r), 4 / (5 + 2 * r))
    return float(out) if out.ndim == 0 else out


# 3) naming the phase of a (trained) W -----------------------------------------------------------
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


# 4) the phase map, its boundaries and the free optimum (analytic.phase_diagram) -----------------
DIAGRAM = PhaseDiagram(PHASES, losses, loss_slopes, solutions, importance, classify, free_restarts=4, map_restarts=2)
phase = DIAGRAM.phase
crossing = DIAGRAM.crossing
boundaries = DIAGRAM.boundaries
boundary = DIAGRAM.boundary
slope_jump = DIAGRAM.slope_jump
near_boundary = DIAGRAM.near_boundary
free_optimum = DIAGRAM.free_optimum
phase_map_difference = DIAGRAM.phase_map_difference
free_boundary = DIAGRAM.free_boundary
