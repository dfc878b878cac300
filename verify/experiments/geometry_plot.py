"""Figures of the `toy` experiment's geometry (TMS "The Geometry of Superposition"), for the report.

dstar: D* = m/‖W‖_F² against 1/(1−S) — "Uniform Superposition" (the sticky plateaus at 1 and 1/2);
dimensionality: every represented feature's D_i against 1/(1−S), with the fractions of "Why these
geometric structures?"; circle: each feature's direction in a 2-D hidden space; geometry_loss: the
loss of every restart by geometry against the perturbed feature's density — "Perturbing a Single
Feature". The measurements they draw are verify/experiments/geometry_metrics.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter

from superposition_lab import metrics
from verify.experiments.geometry_metrics import (
    FRACTIONS,
    axis_values,
    batched_weights,
    per_point,
    represented_mask,
    restart_geometry,
    smooth_dstar,
)
from verify.figures import save_figure
from verify.kind import Outcome

__all__ = ["geometry_plots", "plot_dstar", "plot_dimensionality", "plot_circle", "plot_geometry_loss"]


def _x_inverse_density(o: Outcome) -> np.ndarray:
    return 1.0 / (1.0 - axis_values(o, "sparsity"))


def _log_x(ax: Any) -> None:
    """A log x axis labelled 1, 2, 5, 10 rather than 10⁰."""
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(v)[0] in "25" else ""))


def plot_dstar(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """D* against 1/(1−S) on a log axis with bands at 1 and 1/2 and the smooth fit the plateaus are
    judged against (dashed) — TMS "Uniform Superposition"."""
    x, dstar = _x_inverse_density(o), per_point(o, metrics.dstar(batched_weights(o)))
    order = np.argsort(x)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for level in (1.0, 0.5):
        ax.axhspan(level - c.plateau_tol, level + c.plateau_tol, color="0.9")
        ax.axhline(level, color="0.5", lw=0.8, ls="--")
    for s in range(dstar.shape[1]):
        line = ax.plot(x[order], dstar[order, s], "o-", ms=3, lw=1, label=f"seed {s}" if dstar.shape[1] > 1 else None)
        fit = smooth_dstar(x[order], dstar[order, s])
        ax.plot(x[order], fit, "--", lw=0.8, color=line[0].get_color(), label="smooth fit" if s == 0 else None)
    _log_x(ax)
    ax.set_xlabel("1/(1−S)")
    ax.set_ylabel("D* = m/‖W‖_F²")
    ax.set_ylim(0, 1.15)
    ax.set_title(f"{stem}: n={c.n_features}, m={c.n_hidden}", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, out_dir, stem)


def plot_dimensionality(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """Every represented feature's D_i against 1/(1−S), lines at the fractions, D* overlaid."""
    x = _x_inverse_density(o)
    D = per_point(o, metrics.dimensionality(batched_weights(o)))  # (P, S, F)
    rep = represented_mask(o)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for f in FRACTIONS:
        ax.axhline(float(f), color="0.75", lw=0.8)
        ax.text(x.max() * 1.05, float(f), str(f), va="center", fontsize=7)
    p, s, i = np.nonzero(rep)
    jitter = np.exp(np.random.default_rng(0).uniform(-0.03, 0.03, p.size))
    ax.scatter(x[p] * jitter, D[p, s, i], s=6, alpha=0.5, lw=0)
    order = np.argsort(x)
    ax.plot(x[order], np.median(per_point(o, metrics.dstar(batched_weights(o))), axis=1)[order], "k-", lw=1, label="D*")
    _log_x(ax)
    ax.set_xlabel("1/(1−S)")
    ax.set_ylabel("feature dimensionality D_i")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"{stem}: represented features (‖W_i‖ > {metrics.REPRESENTED_THRESHOLD})", fontsize=9)
    return save_figure(fig, out_dir, stem)


def plot_circle(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """H = 2: each feature as an arrow from the origin, one panel per grid point (first seed),
    features of one set in one colour, the unit circle for scale."""
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
            colour = (
                colours(idx[i] % 10)
                if c.data != "independent" or i == W.shape[2] - 1 and c.perturbed_density is not None
                else "C0"
            )
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
    x = axis_values(o, "perturbed_density")
    L = o.arrays["restart_loss"]  # (P, S, R)
    rel = L / L.min(axis=-1, keepdims=True)
    full, collapsed = restart_geometry(o)
    order = np.argsort(x)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    xs = np.broadcast_to(x[:, None, None], L.shape)
    for mask, label, colour in (
        (full, "all features (pentagon)", "C1"),
        (collapsed, "perturbed feature dropped (two digons)", "C0"),
        (~full & ~collapsed, "other", "0.6"),
    ):
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
