"""Geometry metrics and figures for the `toy` experiment (TMS "The Geometry of Superposition").

Each metric reads a toy Outcome — W (P, S, H, F), b (P, S, F), restart_loss (P, S, R),
restart_norms (P, S, R, F) — and returns (P, S, …). Some describe the whole sweep rather than one
grid point (the width of a D* plateau, whether two loss curves cross); they repeat the same value
at every grid point, so a check judges them once per seed whatever `at` says.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from analytic import polytopes
from superposition_lab import metrics as M
from superposition_lab.geometry import angular_gaps as _gaps_2d
from verify.experiments import Metric, Outcome, save_figure

__all__ = ["FRACTIONS", "geometry_metrics", "geometry_plots", "plateau_width", "nearest_fraction"]

# The dimensionalities of "Why these geometric structures?", largest first: dedicated dimension,
# tetrahedron, triangle, digon, pentagon, square antiprism.
_NAMES = ("dedicated", "tetrahedron", "triangle", "digon", "pentagon", "square_antiprism")
FRACTIONS: tuple[Fraction, ...] = tuple(polytopes.expected_dimensionality(n) for n in _NAMES)
_FR = np.array([float(f) for f in FRACTIONS])


# ---------------------------------------------------------------- helpers


def _W(o: Outcome) -> torch.Tensor:
    """W as (P·S, H, F) for the batched metrics."""
    W = o.arrays["W"]
    return torch.from_numpy(W.reshape(-1, *W.shape[2:]))


def _ps(o: Outcome, x: torch.Tensor | np.ndarray) -> np.ndarray:
    """(P·S, …) back to (P, S, …)."""
    P, S = o.arrays["W"].shape[:2]
    x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return x.reshape(P, S, *x.shape[1:])


def _axis(o: Outcome, name: str) -> np.ndarray:
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
    dist = np.abs(np.asarray(D)[..., None] - _FR)  # (…, 6)
    k = dist.argmin(-1)
    return np.where(np.take_along_axis(dist, k[..., None], -1)[..., 0] <= tol, k, -1)


def _represented(o: Outcome) -> np.ndarray:
    return np.linalg.norm(o.arrays["W"], axis=2) > M.REPRESENTED_THRESHOLD  # (P, S, F)


# ---------------------------------------------------------------- dimensionality


def _dim_sum(o: Outcome, c: Any) -> np.ndarray:
    return _ps(o, M.dimensionality_sum(_W(o)))


def _dim_sum_ratio(o: Outcome, c: Any) -> np.ndarray:
    return _dim_sum(o, c) / o.arrays["W"].shape[2]


def _near_counts(o: Outcome, c: Any) -> np.ndarray:
    D = _ps(o, M.dimensionality(_W(o)))  # (P, S, F)
    k = np.where(_represented(o), nearest_fraction(D, c.fraction_tol), -1)
    return (k[..., None] == np.arange(len(_FR))).sum(axis=2)  # (P, S, 6)


def _near_share(o: Outcome, c: Any) -> np.ndarray:
    n_rep = _represented(o).sum(axis=2)
    return np.where(n_rep > 0, _near_counts(o, c).sum(-1) / np.maximum(n_rep, 1), 0.0)


def _near_counts_sweep(o: Outcome, c: Any) -> np.ndarray:
    counts = _near_counts(o, c)
    return _sweep(counts.sum(axis=0), counts.shape[0])


# ---------------------------------------------------------------- D* plateaus


def plateau_width(x: np.ndarray, y: np.ndarray, level: float, tol: float) -> float:
    """x_last / x_first of the longest run of consecutive points (in x order) with |y − level| ≤ tol.

    1.0 for a single point, 0.0 when no point is in the band. A curve that only passes through the
    band spends a width set by its slope there; a sticky plateau spends much more.
    """
    order = np.argsort(x)
    x, inside = np.asarray(x)[order], np.abs(np.asarray(y)[order] - level) <= tol
    best, start = 0.0, None
    for i, ok in enumerate(inside):
        if ok and start is None:
            start = i
        if ok:
            best = max(best, x[i] / x[start])
        else:
            start = None
    return best


def _plateau(level: float) -> Callable[[Outcome, Any], np.ndarray]:
    def metric(o: Outcome, c: Any) -> np.ndarray:
        x = 1.0 / (1.0 - _axis(o, "sparsity"))
        dstar = _ps(o, M.dstar(_W(o)))  # (P, S)
        widths = np.array([plateau_width(x, dstar[:, s], level, c.plateau_tol) for s in range(dstar.shape[1])])
        return _sweep(widths, dstar.shape[0])

    return metric


# ---------------------------------------------------------------- two hidden dimensions: the pentagon


def _angular_gaps(o: Outcome, c: Any) -> np.ndarray:
    W, rep = o.arrays["W"], _represented(o)
    out = np.zeros(rep.shape)
    for p, s in np.ndindex(*rep.shape[:2]):
        g = _gaps_2d(W[p, s], rep[p, s])
        out[p, s, : g.size] = g
    return out


def _norm_bias(power: int) -> Callable[[Outcome, Any], np.ndarray]:
    def metric(o: Outcome, c: Any) -> np.ndarray:
        norms = np.linalg.norm(o.arrays["W"], axis=2)  # (P, S, F)
        b = o.arrays["b"]
        ratio = norms**2 / (1.0 - b) if power == 2 else norms * (1.0 - b)
        return np.where(_represented(o), ratio, 0.0)

    return metric


# ---------------------------------------------------------------- the pentagon collapse


def _perturbed_norm(o: Outcome, c: Any) -> np.ndarray:
    return np.linalg.norm(o.arrays["W"][..., -1], axis=2)  # (P, S)


def _sparsest(o: Outcome) -> int:
    return int(np.argmin(_axis(o, "perturbed_density")))


def _perturbed_norm_sparsest(o: Outcome, c: Any) -> np.ndarray:
    norms = _perturbed_norm(o, c)
    return _sweep(norms[_sparsest(o)], norms.shape[0])


def _others_dim_sparsest(o: Outcome, c: Any) -> np.ndarray:
    D = _ps(o, M.dimensionality(_W(o)))[..., :-1]  # (P, S, F−1)
    return _sweep(D[_sparsest(o)], D.shape[0])


def _perturbed_norm_jump(o: Outcome, c: Any) -> np.ndarray:
    """The largest drop of the perturbed feature's norm between neighbouring densities (denser → sparser)."""
    order = np.argsort(-_axis(o, "perturbed_density"))
    norms = _perturbed_norm(o, c)[order]  # (P, S), densest first
    drops = (norms[:-1] - norms[1:]).max(axis=0) if len(order) > 1 else np.zeros(norms.shape[1])
    return _sweep(drops, norms.shape[0])


def _restart_geometry(o: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """Masks (P, S, R): restarts that represent every feature ("pentagon"), and restarts that drop
    only the perturbed (last) feature ("collapsed": the others form two digons in 2-D)."""
    rep = o.arrays["restart_norms"] > M.REPRESENTED_THRESHOLD  # (P, S, R, F)
    full = rep.all(-1)
    collapsed = rep[..., :-1].all(-1) & ~rep[..., -1]
    return full, collapsed


def _geometry_loss_gap(o: Outcome, c: Any) -> np.ndarray:
    """Best loss among all-features restarts − best loss among collapsed restarts (NaN if either is
    missing at that point): negative where the pentagon wins, positive where the digons win."""
    full, collapsed = _restart_geometry(o)
    L = o.arrays["restart_loss"]
    best = lambda mask: np.where(mask.any(-1), np.where(mask, L, np.inf).min(-1), np.nan)  # noqa: E731
    return best(full) - best(collapsed)


def _loss_curves_cross(o: Outcome, c: Any) -> np.ndarray:
    """1 when, among the points where restarts found both geometries, the densest one has the
    pentagon lower and the sparsest one the collapsed geometry lower (the two curves cross), else 0.

    A number, not a bool, so that a failing case prints like any other measurement."""
    gap = _geometry_loss_gap(o, c)  # (P, S)
    order = np.argsort(-_axis(o, "perturbed_density"))
    out = np.zeros(gap.shape[1])
    for s in range(gap.shape[1]):
        g = gap[order, s]
        g = g[np.isfinite(g)]
        out[s] = g.size >= 2 and g[0] < 0 < g[-1]
    return _sweep(out, gap.shape[0])


# ---------------------------------------------------------------- correlated and anticorrelated sets


def _set_masks(c: Any) -> tuple[np.ndarray, np.ndarray]:
    """same (F, F): i ≠ j in one set; sets (G', F): membership of each set with ≥ 2 features."""
    idx = c.set_index()
    same = idx[:, None] == idx[None, :]
    np.fill_diagonal(same, False)
    labels, counts = np.unique(idx, return_counts=True)
    sets = idx[None, :] == labels[counts >= 2][:, None]
    return same, sets


def _projections_sq(o: Outcome) -> np.ndarray:
    """(Ŵ_i·W_j)², (P, S, F, F); rows of unrepresented features are zero."""
    W = o.arrays["W"]
    norms = np.linalg.norm(W, axis=2)  # (P, S, F)
    unit = W / np.where(norms > 1e-12, norms, 1.0)[:, :, None, :]
    proj = np.einsum("psha,pshb->psab", unit, W) ** 2
    return np.where(_represented(o)[..., None], proj, 0.0)


def _interference_within(o: Outcome, c: Any) -> np.ndarray:
    same, _ = _set_masks(c)
    return (_projections_sq(o) * same).sum(-1).max(-1)  # (P, S)


def _interference_across(o: Outcome, c: Any) -> np.ndarray:
    same, _ = _set_masks(c)
    other = ~same & ~np.eye(len(same), dtype=bool)
    return (_projections_sq(o) * other).sum(-1).max(-1)  # (P, S)


def _set_cosines(o: Outcome, c: Any) -> np.ndarray:
    """Mean cosine between the features of each set (sets of ≥ 2), (P, S, G'); unrepresented
    features count as cosine 0 with everything."""
    W = o.arrays["W"]
    norms = np.linalg.norm(W, axis=2)
    unit = np.where(_represented(o)[:, :, None, :], W / np.where(norms > 1e-12, norms, 1.0)[:, :, None, :], 0.0)
    cos = np.einsum("psha,pshb->psab", unit, unit)  # (P, S, F, F)
    _, sets = _set_masks(c)
    out = []
    for member in sets:
        pair = member[:, None] & member[None, :] & ~np.eye(len(member), dtype=bool)
        out.append((cos * pair).sum((-1, -2)) / pair.sum())
    return np.stack(out, axis=-1) if out else np.zeros(W.shape[:2] + (0,))


geometry_metrics: dict[str, Metric] = {
    "dimensionality_sum": Metric(_dim_sum, "Σ_i D_i (≤ m; = m for a tight frame)"),
    "dimensionality_sum_ratio": Metric(_dim_sum_ratio, "Σ_i D_i / m"),
    "near_fraction_share": Metric(_near_share, "share of represented features whose D_i is within fraction_tol "
                                               "of its nearest fraction in 1, 3/4, 2/3, 1/2, 2/5, 3/8 (0 if none)"),
    "near_counts": Metric(_near_counts, "represented features near each of 1, 3/4, 2/3, 1/2, 2/5, 3/8 (6 counts)"),
    "near_counts_sweep": Metric(_near_counts_sweep, "near_counts added up over every grid point (sweep-wide)",
                                sweep_wide=True),
    "dstar_plateau_one": Metric(_plateau(1.0), "width x_last/x_first, x = 1/(1−S), of the longest run of sweep "
                                               "points with |D* − 1| ≤ plateau_tol (sweep-wide)",
                                sweep_wide=True),
    "dstar_plateau_half": Metric(_plateau(0.5), "the same for |D* − 1/2| ≤ plateau_tol (sweep-wide)",
                                 sweep_wide=True),
    "angular_gaps": Metric(_angular_gaps, "H = 2: degrees between angularly consecutive represented features, "
                                          "ascending, zero-padded to F"),
    "norm_bias_ratio": Metric(_norm_bias(2), "‖W_i‖²/(1 − b_i) per represented feature (0 otherwise)"),
    "paper_norm_bias_ratio": Metric(_norm_bias(1), "‖W_i‖(1 − b_i), the relation as TMS prints it (0 if unrepresented)"),
    "perturbed_norm": Metric(_perturbed_norm, "‖W_i‖ of the last (perturbed) feature"),
    "perturbed_norm_sparsest": Metric(_perturbed_norm_sparsest, "perturbed_norm at the smallest perturbed_density "
                                                                "(sweep-wide)", sweep_wide=True),
    "others_dimensionality_sparsest": Metric(_others_dim_sparsest, "D_i of the other features at the smallest "
                                                                   "perturbed_density (sweep-wide)", sweep_wide=True),
    "perturbed_norm_jump": Metric(_perturbed_norm_jump, "largest drop of perturbed_norm between neighbouring "
                                                        "densities (sweep-wide): ≈ its norm for a first-order jump",
                                  sweep_wide=True),
    "geometry_loss_gap": Metric(_geometry_loss_gap, "best loss of all-features restarts − best loss of restarts that "
                                                    "drop the perturbed feature (NaN if either is missing)"),
    "loss_curves_cross": Metric(_loss_curves_cross, "1 if the two geometries' loss curves cross along "
                                                    "perturbed_density, else 0 (sweep-wide)", sweep_wide=True),
    "within_set_interference": Metric(_interference_within, "largest Σ_{j in i's set, j≠i}(Ŵ_i·W_j)² over represented i"),
    "across_set_interference": Metric(_interference_across, "largest Σ_{j outside i's set}(Ŵ_i·W_j)² over represented i"),
    "set_cosines": Metric(_set_cosines, "mean cosine between the features of each set of ≥ 2 (one value per set)"),
}


# ---------------------------------------------------------------- figures


def _x_inverse_density(o: Outcome) -> np.ndarray:
    return 1.0 / (1.0 - _axis(o, "sparsity"))


def _log_x(ax: Any) -> None:
    """A log x axis labelled 1, 2, 5, 10 rather than 10⁰."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(v)[0] in "25" else ""))


def plot_dstar(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """D* against 1/(1−S) on a log axis with lines at 1 and 1/2 — TMS "Uniform Superposition"."""
    import matplotlib.pyplot as plt

    x, dstar = _x_inverse_density(o), _ps(o, M.dstar(_W(o)))
    order = np.argsort(x)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for level in (1.0, 0.5):
        ax.axhspan(level - c.plateau_tol, level + c.plateau_tol, color="0.9")
        ax.axhline(level, color="0.5", lw=0.8, ls="--")
    for s in range(dstar.shape[1]):
        ax.plot(x[order], dstar[order, s], "o-", ms=3, lw=1, label=f"seed {s}" if dstar.shape[1] > 1 else None)
    _log_x(ax)
    ax.set_xlabel("1/(1−S)")
    ax.set_ylabel("D* = m/‖W‖_F²")
    ax.set_ylim(0, 1.15)
    ax.set_title(f"{stem}: n={c.n_features}, m={c.n_hidden}", fontsize=9)
    if dstar.shape[1] > 1:
        ax.legend(fontsize=7)
    return save_figure(fig, out_dir, stem)


def plot_dimensionality(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """Every represented feature's D_i against 1/(1−S), lines at the fractions, D* overlaid."""
    import matplotlib.pyplot as plt

    x = _x_inverse_density(o)
    D = _ps(o, M.dimensionality(_W(o)))  # (P, S, F)
    rep = _represented(o)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for f in FRACTIONS:
        ax.axhline(float(f), color="0.75", lw=0.8)
        ax.text(x.max() * 1.05, float(f), str(f), va="center", fontsize=7)
    p, s, i = np.nonzero(rep)
    jitter = np.exp(np.random.default_rng(0).uniform(-0.03, 0.03, p.size))
    ax.scatter(x[p] * jitter, D[p, s, i], s=6, alpha=0.5, lw=0)
    order = np.argsort(x)
    ax.plot(x[order], np.median(_ps(o, M.dstar(_W(o))), axis=1)[order], "k-", lw=1, label="D*")
    _log_x(ax)
    ax.set_xlabel("1/(1−S)")
    ax.set_ylabel("feature dimensionality D_i")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"{stem}: represented features (‖W_i‖ > {M.REPRESENTED_THRESHOLD})", fontsize=9)
    return save_figure(fig, out_dir, stem)


def plot_circle(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """H = 2: each feature as an arrow from the origin, one panel per grid point (first seed),
    features of one set in one colour, the unit circle for scale."""
    import matplotlib.pyplot as plt

    W = o.arrays["W"][:, 0]  # (P, 2, F)
    if W.shape[1] != 2:
        return []
    P = W.shape[0]
    idx = c.set_index()
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, P, figsize=(max(3.6, 2.2 * P), 2.7), squeeze=False)
    lim = max(1.2, np.abs(W).max() * 1.1)
    t = np.linspace(0, 2 * np.pi, 200)
    for k, ax in enumerate(axes[0]):
        ax.plot(np.cos(t), np.sin(t), color="0.85", lw=0.8)
        for i in range(W.shape[2]):
            colour = colours(idx[i] % 10) if c.data != "independent" or i == W.shape[2] - 1 and \
                c.perturbed_density is not None else "C0"
            ax.annotate("", xy=W[k, :, i], xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=colour, lw=1.2))
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(", ".join(f"{a}={v:g}" for a, v in o.points[k].items()) or c.model, fontsize=7)
    fig.suptitle(f"{stem.removesuffix('-circle')}: feature directions W_i (m = 2)", fontsize=9)
    return save_figure(fig, out_dir, stem)


def plot_geometry_loss(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """Every restart's loss against the perturbed feature's density, by geometry, relative to the
    best restart at that density: the loss curves of the all-features (pentagon) and collapsed
    (two digons) branches, and where they cross — TMS "Perturbing a Single Feature"."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    x = _axis(o, "perturbed_density")
    L = o.arrays["restart_loss"]  # (P, S, R)
    rel = L / L.min(axis=-1, keepdims=True)
    full, collapsed = _restart_geometry(o)
    order = np.argsort(x)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    xs = np.broadcast_to(x[:, None, None], L.shape)
    for mask, label, colour in ((full, "all features (pentagon)", "C1"),
                                (collapsed, "perturbed feature dropped (two digons)", "C0"),
                                (~full & ~collapsed, "other", "0.6")):
        ax.scatter(xs[mask], rel[mask], s=10, color=colour, label=label, alpha=0.6, lw=0)
        if mask is not full and mask is not collapsed:
            continue
        best = np.where(mask, rel, np.inf).min(-1)[:, 0]  # first seed
        ok = np.isfinite(best[order])
        ax.plot(x[order][ok], best[order][ok], "-", color=colour, lw=1)
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{v:g}" for v in x], fontsize=7)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("density of the perturbed feature (the others: 1 − S)")
    ax.set_ylabel("loss / best loss at that density")
    ax.set_ylim(0.98, min(2.0, float(np.nanmax(rel)) * 1.02))
    ax.legend(fontsize=7)
    ax.set_title(f"{stem}: the two geometries' loss curves", fontsize=9)
    return save_figure(fig, out_dir, stem)


geometry_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {
    "dstar": plot_dstar,
    "dimensionality": plot_dimensionality,
    "circle": plot_circle,
    "geometry_loss": plot_geometry_loss,
}
