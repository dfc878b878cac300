"""Geometry metrics for the `toy` experiment (TMS "The Geometry of Superposition").

Each metric reads a toy Outcome — W (P, S, H, F), b (P, S, F), restart_loss (P, S, R),
restart_norms (P, S, R, F) — and returns (P, S, …). Some describe the whole sweep rather than one
grid point (the width of a D* plateau, whether two loss curves cross); they repeat the same value
at every grid point, so a check judges them once per seed whatever `at` says. The figures are
verify/experiments/geometry_plot.py.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from analytic import polytopes
from superposition_lab import metrics
from superposition_lab.geometry import angular_gaps, most_negative_partner, onset_layout, superposed
from verify.kind import Metric, Outcome

__all__ = [
    "FRACTIONS",
    "geometry_metrics",
    "plateau_width",
    "nearest_fraction",
    "batched_weights",
    "per_point",
    "axis_values",
    "represented_mask",
    "restart_geometry",
    "onset_index",
    "NULL_DRAWS",
    "ANTIPODAL_COS",
    "random_directions",
    "fraction_counts",
    "fraction_windows",
    "fraction_null_counts",
    "null_ratio",
    "null_ratio_spread",
    "plateau_run",
    "smooth_dstar",
    "plateau_excess",
]

# The dimensionalities of "Why these geometric structures?", largest first: dedicated dimension,
# tetrahedron, triangle, digon, pentagon, square antiprism.
_NAMES = ("dedicated", "tetrahedron", "triangle", "digon", "pentagon", "square_antiprism")
FRACTIONS: tuple[Fraction, ...] = tuple(polytopes.expected_dimensionality(n) for n in _NAMES)
_FRACTION_VALUES = np.array([float(f) for f in FRACTIONS])

# Random-direction draws behind each null count of `fraction_null_ratio`; their generator is seeded
# config.seed + 3 (the toy kind uses + 1 for its evaluation, + 2 for `randomize`).
NULL_DRAWS = 32
_NULL_SEED_OFFSET = 3
# A feature has an antipodal partner when its most opposite represented partner has cosine ≤ this
# (within 18°, as tms.antipodal-first; in m = 6 a random pair gets there with probability ≈ 5e-4).
ANTIPODAL_COS = -0.95


# ---------------------------------------------------------------- helpers


def batched_weights(o: Outcome) -> torch.Tensor:
    """W as (P·S, H, F) for the batched measurements of superposition_lab.metrics."""
    W = o.arrays["W"]
    return torch.from_numpy(W.reshape(-1, *W.shape[2:]))


def per_point(o: Outcome, x: torch.Tensor | np.ndarray) -> np.ndarray:
    """(P·S, …) back to (P, S, …)."""
    P, S = o.arrays["W"].shape[:2]
    x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return x.reshape(P, S, *x.shape[1:])


def axis_values(o: Outcome, name: str) -> np.ndarray:
    """The grid value of axis `name` at each point, (P,); raises if the sweep has no such axis."""
    if not all(name in p for p in o.points):
        raise ValueError(f"this metric needs a grid axis {name!r} (a list-valued field)")
    return np.array([p[name] for p in o.points], dtype=float)


def _sweep(value: np.ndarray, P: int) -> np.ndarray:
    """A per-seed value (S, …) repeated at each of the P grid points, (P, S, …)."""
    return np.broadcast_to(value, (P, *value.shape)).copy()


def nearest_fraction(D: np.ndarray, tol: float) -> np.ndarray:
    """Index into FRACTIONS of the nearest fraction for each D, or −1 when farther than tol.

    Nearest first, then the band: 2/5 and 3/8 are only 0.025 apart, so a value is never counted
    for both.
    """
    dist = np.abs(np.asarray(D)[..., None] - _FRACTION_VALUES)  # (…, 6)
    k = dist.argmin(-1)
    return np.where(np.take_along_axis(dist, k[..., None], -1)[..., 0] <= tol, k, -1)


def represented_mask(o: Outcome) -> np.ndarray:
    """Features with ‖W_i‖ above the TMS figures' cut-off (superposition_lab.metrics), (P, S, F)."""
    return np.linalg.norm(o.arrays["W"], axis=2) > metrics.REPRESENTED_THRESHOLD  # (P, S, F)


# ---------------------------------------------------------------- dimensionality


def _dim_sum(o: Outcome, c: Any) -> np.ndarray:
    return per_point(o, metrics.dimensionality_sum(batched_weights(o)))


def _dim_sum_ratio(o: Outcome, c: Any) -> np.ndarray:
    return _dim_sum(o, c) / o.arrays["W"].shape[2]


def _near_counts(o: Outcome, c: Any) -> np.ndarray:
    D = per_point(o, metrics.dimensionality(batched_weights(o)))  # (P, S, F)
    k = np.where(represented_mask(o), nearest_fraction(D, c.fraction_tol), -1)
    return (k[..., None] == np.arange(len(_FRACTION_VALUES))).sum(axis=2)  # (P, S, 6)


def _near_share(o: Outcome, c: Any) -> np.ndarray:
    n_rep = represented_mask(o).sum(axis=2)
    return np.where(n_rep > 0, _near_counts(o, c).sum(-1) / np.maximum(n_rep, 1), 0.0)


def _near_counts_sweep(o: Outcome, c: Any) -> np.ndarray:
    counts = _near_counts(o, c)
    return _sweep(counts.sum(axis=0), counts.shape[0])


# ---------------------------------------------------------------- dimensionality against random directions


def random_directions(W: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each column of W (..., H, F) turned to a uniformly random direction with the same norm."""
    R = rng.standard_normal(W.shape)
    return R / np.linalg.norm(R, axis=-2, keepdims=True) * np.linalg.norm(W, axis=-2, keepdims=True)


def fraction_counts(W: np.ndarray, tol: float) -> np.ndarray:
    """Represented features whose D_i is nearest to each of FRACTIONS and within tol, (..., 6) for W (..., H, F)."""
    Wb = np.asarray(W, dtype=float).reshape(-1, *np.shape(W)[-2:])
    D = metrics.dimensionality(torch.from_numpy(Wb)).numpy()
    k = np.where(np.linalg.norm(Wb, axis=1) > metrics.REPRESENTED_THRESHOLD, nearest_fraction(D, tol), -1)
    counts = (k[..., None] == np.arange(len(_FRACTION_VALUES))).sum(axis=1)  # (N, 6)
    return counts.reshape(*np.shape(W)[:-2], len(_FRACTION_VALUES))


def fraction_windows(dstar: np.ndarray, band: float) -> np.ndarray:
    """Where each fraction is counted, (..., 6) of bool for D* (...): 1 and the fractions above 1/2 on
    the points with D* above the band |D* − 1/2| ≤ band, the fractions below 1/2 on the points below
    it, 1/2 on every point. Random directions with the trained norms keep D* = m/‖W‖_F², so the
    windows pick the same points for a model and for its null."""
    d = np.asarray(dstar, dtype=float)[..., None]
    return np.where(_FRACTION_VALUES > 0.5, d > 0.5 + band, np.where(_FRACTION_VALUES < 0.5, d < 0.5 - band, True))


def fraction_null_counts(
    W: np.ndarray, tol: float, band: float, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Counts near each fraction pooled over every model of W (..., H, F) inside its window, (6,),
    and the same count for `draws` copies of W with every W_i turned to a random direction of its
    norm, (draws, 6)."""
    W = np.asarray(W, dtype=float)
    dstar = W.shape[-2] / (W**2).sum(axis=(-2, -1))
    win = fraction_windows(dstar, band).reshape(-1, len(_FRACTION_VALUES))

    def pooled(V: np.ndarray) -> np.ndarray:
        return (fraction_counts(V, tol).reshape(-1, len(_FRACTION_VALUES)) * win).sum(axis=0)

    return pooled(W), np.stack([pooled(random_directions(W, rng)) for _ in range(draws)])


def null_ratio(counts: np.ndarray, null: np.ndarray) -> np.ndarray:
    """(count + 1)/(mean null count + 1) per fraction: add-one smoothing, so a fraction that neither
    the model nor its null populates gives 1, not 0/0, and a few features where the null expects
    none give a finite ratio."""
    return (np.asarray(counts, dtype=float) + 1.0) / (np.asarray(null, dtype=float).mean(axis=0) + 1.0)


def null_ratio_spread(null: np.ndarray) -> np.ndarray:
    """The null's own spread of null_ratio, (6,): the largest ratio any one draw reaches against the
    mean of the other draws (what a model without the geometry can score by chance)."""
    null = np.asarray(null, dtype=float)
    others = (null.sum(axis=0) - null) / max(len(null) - 1, 1)  # (draws, 6): mean of the other draws
    return ((null + 1.0) / (others + 1.0)).max(axis=0)


def _fraction_null(o: Outcome, c: Any) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(c.seed + _NULL_SEED_OFFSET)
    return fraction_null_counts(o.arrays["W"], c.fraction_tol, c.plateau_tol, NULL_DRAWS, rng)


def _fraction_null_ratio(o: Outcome, c: Any) -> np.ndarray:
    P, S = o.arrays["W"].shape[:2]
    return np.broadcast_to(null_ratio(*_fraction_null(o, c)), (P, S, len(_FRACTION_VALUES))).copy()


# ---------------------------------------------------------------- D* plateaus


def plateau_run(x: np.ndarray, y: np.ndarray, level: float, tol: float) -> np.ndarray:
    """Indices into x of the run of consecutive points (in x order) with |y − level| ≤ tol that is
    widest in x_last/x_first (the first of equal ones), in x order; empty when no point is in the band."""
    order = np.argsort(x)
    xs, inside = np.asarray(x)[order], np.abs(np.asarray(y)[order] - level) <= tol
    best, run, start = -1.0, np.array([], dtype=int), None
    for i, ok in enumerate(inside):
        if ok and start is None:
            start = i
        if not ok:
            start = None
        elif xs[i] / xs[start] > best:
            best, run = xs[i] / xs[start], order[start : i + 1]
    return run


def plateau_width(x: np.ndarray, y: np.ndarray, level: float, tol: float) -> float:
    """x_last / x_first of the longest run of consecutive points (in x order) with |y − level| ≤ tol.

    1.0 for a single point, 0.0 when no point is in the band. A curve that only passes through the
    band spends a width set by its slope there; a sticky plateau spends much more.
    """
    run = plateau_run(x, y, level, tol)
    return float(np.asarray(x)[run[-1]] / np.asarray(x)[run[0]]) if run.size else 0.0


def smooth_dstar(x: np.ndarray, dstar: np.ndarray) -> np.ndarray:
    """The smooth curve the plateaus are judged against: ln D* fitted by a quadratic in ln x (least
    squares over every point of the sweep), evaluated at x.

    A fall whose log-log slope changes linearly along the sweep: it can steepen or level off once,
    so it takes up the overall curvature of the fall, but it cannot hold a level and then fall
    again. It is fitted to the plateaus too, which pulls it toward them (a fair, if lenient, null).
    """
    lx = np.log(np.asarray(x, dtype=float))
    coef = np.polyfit(lx, np.log(np.asarray(dstar, dtype=float)), min(2, lx.size - 1))
    return np.exp(np.polyval(coef, lx))


def plateau_excess(x: np.ndarray, dstar: np.ndarray, level: float, tol: float) -> float:
    """ln of the plateau's width minus ln of the width the smooth fit (smooth_dstar) spends in the
    same band at the same sweep points; a run of one point or none has width 1 (ln 0)."""
    data = max(plateau_width(x, dstar, level, tol), 1.0)
    fit = max(plateau_width(x, smooth_dstar(x, dstar), level, tol), 1.0)
    return float(np.log(data) - np.log(fit))


def _dstar_sweep(
    fn: Callable[[np.ndarray, np.ndarray, float, float], float], level: float
) -> Callable[[Outcome, Any], np.ndarray]:
    """A sweep-wide metric: fn(x, D*, level, plateau_tol) per seed along x = 1/(1 − S)."""

    def metric(o: Outcome, c: Any) -> np.ndarray:
        x = 1.0 / (1.0 - axis_values(o, "sparsity"))
        dstar = per_point(o, metrics.dstar(batched_weights(o)))  # (P, S)
        values = np.array([fn(x, dstar[:, s], level, c.plateau_tol) for s in range(dstar.shape[1])])
        return _sweep(values, dstar.shape[0])

    return metric


def _plateau(level: float) -> Callable[[Outcome, Any], np.ndarray]:
    return _dstar_sweep(plateau_width, level)


def _excess(level: float) -> Callable[[Outcome, Any], np.ndarray]:
    return _dstar_sweep(plateau_excess, level)


def _plateau_antipodal_share(o: Outcome, c: Any) -> np.ndarray:
    """On the sweep points of the 1/2 plateau (plateau_run), the share of represented features with
    D_i within fraction_tol of 1/2 and an antipodal partner (cosine ≤ ANTIPODAL_COS); 0 without a plateau."""
    x = 1.0 / (1.0 - axis_values(o, "sparsity"))
    W, rep = o.arrays["W"], represented_mask(o)
    dstar = per_point(o, metrics.dstar(batched_weights(o)))  # (P, S)
    D = per_point(o, metrics.dimensionality(batched_weights(o)))  # (P, S, F)
    out = np.zeros(dstar.shape[1])
    for s in range(dstar.shape[1]):
        run = plateau_run(x, dstar[:, s], 0.5, c.plateau_tol)
        paired = [
            rep[p, s] & (np.abs(D[p, s] - 0.5) <= c.fraction_tol) & (most_negative_partner(W[p, s]) <= ANTIPODAL_COS)
            for p in run
        ]
        n_rep = rep[run, s].sum()
        out[s] = float(np.sum(paired)) / n_rep if n_rep else 0.0
    return _sweep(out, dstar.shape[0])


# ---------------------------------------------------------------- two hidden dimensions: the pentagon


def _angular_gaps(o: Outcome, c: Any) -> np.ndarray:
    W, rep = o.arrays["W"], represented_mask(o)
    out = np.zeros(rep.shape)
    for p, s in np.ndindex(*rep.shape[:2]):
        g = angular_gaps(W[p, s], rep[p, s])
        out[p, s, : g.size] = g
    return out


def _norm_bias(power: int) -> Callable[[Outcome, Any], np.ndarray]:
    def metric(o: Outcome, c: Any) -> np.ndarray:
        norms = np.linalg.norm(o.arrays["W"], axis=2)  # (P, S, F)
        b = o.arrays["b"]
        ratio = norms**2 / (1.0 - b) if power == 2 else norms * (1.0 - b)
        return np.where(represented_mask(o), ratio, 0.0)

    return metric


# ---------------------------------------------------------------- the pentagon collapse


def _perturbed_norm(o: Outcome, c: Any) -> np.ndarray:
    return np.linalg.norm(o.arrays["W"][..., -1], axis=2)  # (P, S)


def _sparsest(o: Outcome) -> int:
    return int(np.argmin(axis_values(o, "perturbed_density")))


def _perturbed_norm_sparsest(o: Outcome, c: Any) -> np.ndarray:
    norms = _perturbed_norm(o, c)
    return _sweep(norms[_sparsest(o)], norms.shape[0])


def _others_dim_sparsest(o: Outcome, c: Any) -> np.ndarray:
    D = per_point(o, metrics.dimensionality(batched_weights(o)))[..., :-1]  # (P, S, F−1)
    return _sweep(D[_sparsest(o)], D.shape[0])


def _perturbed_norm_jump(o: Outcome, c: Any) -> np.ndarray:
    """The largest drop of the perturbed feature's norm between neighbouring densities (denser → sparser)."""
    order = np.argsort(-axis_values(o, "perturbed_density"))
    norms = _perturbed_norm(o, c)[order]  # (P, S), densest first
    drops = (norms[:-1] - norms[1:]).max(axis=0) if len(order) > 1 else np.zeros(norms.shape[1])
    return _sweep(drops, norms.shape[0])


def restart_geometry(o: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """Masks (P, S, R): restarts that represent every feature ("pentagon"), and restarts that drop
    only the perturbed (last) feature ("collapsed": the others form two digons in 2-D)."""
    rep = o.arrays["restart_norms"] > metrics.REPRESENTED_THRESHOLD  # (P, S, R, F)
    full = np.asarray(rep.all(-1))
    collapsed = np.asarray(rep[..., :-1].all(-1) & ~rep[..., -1])
    return full, collapsed


def _geometry_loss_gap(o: Outcome, c: Any) -> np.ndarray:
    """Best loss among all-features restarts − best loss among collapsed restarts (NaN if either is
    missing at that point): negative where the pentagon wins, positive where the digons win."""
    full, collapsed = restart_geometry(o)
    losses = o.arrays["restart_loss"]  # (P, S, R)

    def best(mask: np.ndarray) -> np.ndarray:  # lowest loss among the restarts in `mask`, NaN if none
        return np.where(mask.any(-1), np.where(mask, losses, np.inf).min(-1), np.nan)

    return best(full) - best(collapsed)


def _loss_curves_cross(o: Outcome, c: Any) -> np.ndarray:
    """1 when, among the points where restarts found both geometries, the densest one has the
    pentagon lower and the sparsest one the collapsed geometry lower (the two curves cross), else 0.

    A number, not a bool, so that a failing case prints like any other measurement."""
    gap = _geometry_loss_gap(o, c)  # (P, S)
    order = np.argsort(-axis_values(o, "perturbed_density"))
    out = np.zeros(gap.shape[1])
    for s in range(gap.shape[1]):
        g = gap[order, s]
        g = g[np.isfinite(g)]
        out[s] = g.size >= 2 and g[0] < 0 < g[-1]
    return _sweep(out, gap.shape[0])


# ---------------------------------------------------------------- the onset of superposition


def _represented_fraction(o: Outcome, c: Any) -> np.ndarray:
    return represented_mask(o).mean(axis=2)  # (P, S)


def onset_index(o: Outcome) -> np.ndarray:
    """Per seed, the grid point of the smallest sparsity where more than m features are represented
    (the first onset of superposition along the sweep), or −1 where no point has that, (S,)."""
    m = o.arrays["W"].shape[2]
    order = np.argsort(axis_values(o, "sparsity"))
    beyond = represented_mask(o).sum(axis=2)[order] > m  # (P, S), sparsity ascending
    return np.where(beyond.any(axis=0), order[beyond.argmax(axis=0)], -1)


def _at_onset(fn: Callable[[np.ndarray, int], float]) -> Callable[[Outcome, Any], np.ndarray]:
    """A sweep-wide metric: fn(W (H, F), n_represented) at each seed's onset point; NaN where the
    sweep has no onset (a model that never superposes has no onset to describe)."""

    def metric(o: Outcome, c: Any) -> np.ndarray:
        W, rep = o.arrays["W"], represented_mask(o)
        onset = onset_index(o)
        out = np.array([fn(W[p, s], int(rep[p, s].sum())) if p >= 0 else np.nan for s, p in enumerate(onset)])
        return _sweep(out, W.shape[0])

    return metric


def _onset_sparsity(o: Outcome, c: Any) -> np.ndarray:
    S = axis_values(o, "sparsity")
    onset = onset_index(o)
    return _sweep(np.where(onset >= 0, S[onset], np.nan), len(S))


def _layout_mismatch(W: np.ndarray, k: int) -> float:
    """Features whose status (dedicated, superposed, not represented) differs from TMS's onset layout."""
    H, F = W.shape
    if k > 2 * H:  # no layout of antipodal pairs holds k > 2m features: every feature is out of place
        return float(F)
    return float((feature_status(W) != onset_layout(F, H, k)).sum())


def feature_status(W: np.ndarray) -> np.ndarray:
    """Per feature, (F,): 2 = a dedicated dimension, 1 = in superposition (shares a tegum factor with
    another represented feature), 0 = not represented (‖W_i‖ ≤ the TMS figures' cut-off)."""
    represented = np.linalg.norm(W, axis=0) > metrics.REPRESENTED_THRESHOLD
    return np.where(superposed(W), 1, np.where(represented, 2, 0))


def _least_important_superpose(o: Outcome, c: Any) -> np.ndarray:
    """1 where superposition has begun (some feature superposed) and every feature with a dedicated
    dimension is more important than every superposed one — "It starts with less important
    features, and gradually affects the most important ones" (TMS "Demonstrating Superposition").
    0 otherwise; a model with no superposed feature gives 0. Which features are represented at all
    is not judged here."""
    W = o.arrays["W"]  # (P, S, H, F)
    order = np.argsort(-c.importance.vector(W.shape[3]), kind="stable")
    out = np.zeros(W.shape[:2])
    for p, s in np.ndindex(*W.shape[:2]):
        status = feature_status(W[p, s])[order]
        status = status[status > 0]  # represented features, most important first: 2 dedicated, 1 superposed
        out[p, s] = float((status == 1).any() and bool(np.all(np.diff(status) <= 0)))
    return out


def _worst_antipode(W: np.ndarray, k: int) -> float:
    """Largest, over features in superposition, of the cosine with their most opposite partner."""
    sup = superposed(W)
    return float(most_negative_partner(W)[sup].max()) if sup.any() else np.nan


geometry_metrics: dict[str, Metric] = {
    "dimensionality_sum": Metric(_dim_sum, "Σ_i D_i (≤ m; = m for a tight frame)"),
    "dimensionality_sum_ratio": Metric(_dim_sum_ratio, "Σ_i D_i / m"),
    "near_fraction_share": Metric(
        _near_share,
        "share of represented features whose D_i is within fraction_tol "
        "of its nearest fraction in 1, 3/4, 2/3, 1/2, 2/5, 3/8 (0 if none)",
    ),
    "near_counts": Metric(_near_counts, "represented features near each of 1, 3/4, 2/3, 1/2, 2/5, 3/8 (6 counts)"),
    "near_counts_sweep": Metric(
        _near_counts_sweep, "near_counts added up over every grid point (sweep-wide)", sweep_wide=True
    ),
    "fraction_null_ratio": Metric(
        _fraction_null_ratio,
        "per fraction 1, 3/4, 2/3, 1/2, 2/5, 3/8: (n + 1)/(n_null + 1), n the represented features near it "
        "(as near_counts) over every seed and the points of its window — D* above the 1/2 band "
        "(|D* − 1/2| ≤ plateau_tol) for 1, 3/4, 2/3, below it for 2/5, 3/8, every point for 1/2 — and n_null "
        f"the mean of the same count over {NULL_DRAWS} copies with every W_i turned to a random direction "
        "of its norm (add-one smoothed; one value per run)",
        sweep_wide=True,
    ),
    "dstar_plateau_one": Metric(
        _plateau(1.0),
        "width x_last/x_first, x = 1/(1−S), of the longest run of sweep "
        "points with |D* − 1| ≤ plateau_tol (sweep-wide)",
        sweep_wide=True,
    ),
    "dstar_plateau_half": Metric(_plateau(0.5), "the same for |D* − 1/2| ≤ plateau_tol (sweep-wide)", sweep_wide=True),
    "dstar_plateau_excess_one": Metric(
        _excess(1.0),
        "ln of the width of the plateau at 1 (dstar_plateau_one, a run of ≤ 1 point counting as width 1) minus "
        "ln of the width a smooth fit spends in the same band at the same points — ln D* fitted by a quadratic "
        "in ln x over the sweep (sweep-wide)",
        sweep_wide=True,
    ),
    "dstar_plateau_excess_half": Metric(_excess(0.5), "the same for the plateau at 1/2 (sweep-wide)", sweep_wide=True),
    "plateau_antipodal_share": Metric(
        _plateau_antipodal_share,
        "on the points of the 1/2 plateau, the share of represented features with |D_i − 1/2| ≤ fraction_tol "
        f"and an antipodal partner (cosine ≤ {ANTIPODAL_COS}); 0 without a plateau (sweep-wide)",
        sweep_wide=True,
    ),
    "angular_gaps": Metric(
        _angular_gaps, "H = 2: degrees between angularly consecutive represented features, ascending, zero-padded to F"
    ),
    "norm_bias_ratio": Metric(_norm_bias(2), "‖W_i‖²/(1 − b_i) per represented feature (0 otherwise)"),
    "paper_norm_bias_ratio": Metric(
        _norm_bias(1), "‖W_i‖(1 − b_i), the relation as TMS prints it (0 if unrepresented)"
    ),
    "perturbed_norm": Metric(_perturbed_norm, "‖W_i‖ of the last (perturbed) feature"),
    "perturbed_norm_sparsest": Metric(
        _perturbed_norm_sparsest, "perturbed_norm at the smallest perturbed_density (sweep-wide)", sweep_wide=True
    ),
    "others_dimensionality_sparsest": Metric(
        _others_dim_sparsest,
        "D_i of the other features at the smallest perturbed_density (sweep-wide)",
        sweep_wide=True,
    ),
    "perturbed_norm_jump": Metric(
        _perturbed_norm_jump,
        "largest drop of perturbed_norm between neighbouring densities (sweep-wide): ≈ its norm for a first-order jump",
        sweep_wide=True,
    ),
    "geometry_loss_gap": Metric(
        _geometry_loss_gap,
        "best loss of all-features restarts − best loss of restarts that "
        "drop the perturbed feature (NaN if either is missing)",
    ),
    "loss_curves_cross": Metric(
        _loss_curves_cross,
        "1 if the two geometries' loss curves cross along perturbed_density, else 0 (sweep-wide)",
        sweep_wide=True,
    ),
    "represented_fraction": Metric(_represented_fraction, "share of the n features with ‖W_i‖ > 0.5"),
    "least_important_superpose": Metric(
        _least_important_superpose,
        "1 where some feature is superposed and every dedicated feature is more important than "
        "every superposed one (0 otherwise)",
    ),
    "onset_sparsity": Metric(
        _onset_sparsity,
        "smallest sparsity of the sweep where more than m features are represented (NaN if none; sweep-wide)",
        sweep_wide=True,
    ),
    "onset_layout_mismatch": Metric(
        _at_onset(_layout_mismatch),
        "at the onset point: features whose status (dedicated / superposed / not represented) differs from "
        "TMS's onset layout — the 2m − k most important dedicated, the next 2(k − m) in superposition, "
        "the rest not represented (n when k > 2m: no pair layout fits; NaN without onset; sweep-wide)",
        sweep_wide=True,
    ),
    "onset_antipodal_cos": Metric(
        _at_onset(_worst_antipode),
        "at the onset point: the largest, over features in superposition, of their smallest cosine with another "
        "represented feature (−1 when all sit in antipodal pairs; NaN without onset; sweep-wide)",
        sweep_wide=True,
    ),
}
