"""Figures for the phase-diagram experiments (TMS "Superposition as a Phase Change").

`plot_phase_map`: the analytic phase map with its boundaries, the empirical map (cells near a
boundary hatched, judged disagreements crossed out) side by side, and the losses of the competing
solutions along the slice r = 1 through the triple point, with the kept models of the grid row
nearest r = 1. `plot_free_optimum`: the closed-form map with the free optimum's phase per cell and
its boundary, and the free optimum's loss relative to the best closed form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch, Rectangle

from verify.experiments.phase_grid import DIAGRAMS, phase_tables
from verify.figures import save_figure

__all__ = ["PHASE_COLORS", "plot_phase_map", "plot_free_optimum"]

PHASE_COLORS = {
    "not_learned": "#d9d9d9",
    "dedicated": "#6baed6",
    "superposition": "#fd8d3c",
    "antipodal_pair": "#9e66c2",
    "other": "#252525",
}


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges for log-spaced centres: geometric midpoints, extended by half a step at the ends."""
    logs = np.log10(values)
    if logs.size == 1:
        return 10.0 ** (logs[0] + np.array([-0.05, 0.05]))
    mid = 0.5 * (logs[1:] + logs[:-1])
    return 10.0 ** np.concatenate([[2 * logs[0] - mid[0]], mid, [2 * logs[-1] - mid[-1]]])


def _paint(ax: Any, r_edges: np.ndarray, p_edges: np.ndarray, names: np.ndarray, order: list[str]) -> None:
    """Colour a (Nr, Np) map of phase names on log axes (x = r, y = p)."""
    index = np.vectorize(order.index)(names)
    cmap = ListedColormap([PHASE_COLORS[n] for n in order])
    ax.pcolormesh(r_edges, p_edges, index.T, cmap=cmap, vmin=-0.5, vmax=len(order) - 0.5, shading="flat")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("extra-feature importance r")


def _log_range(edges: np.ndarray, n: int) -> np.ndarray:
    """n log-spaced values from the first to the last of `edges`."""
    lo, hi = np.log10(edges[[0, -1]])
    return np.logspace(lo, hi, n)


def _boundaries(ax: Any, mod: Any, r_edges: np.ndarray, p_edges: np.ndarray) -> None:
    """The analytic critical density, the line r = 1 where it is a boundary, the triple point."""
    r = _log_range(r_edges, 400)
    ax.plot(r, mod.critical_density(r), color="k", lw=1.2)  # = boundary(r), in closed form
    if r_edges[0] < 1 < r_edges[-1]:
        # 2-in-1: not_learned ⇄ dedicated above the triple point; 3-in-2: at every p
        low = 4 / 7 if len(mod.PHASES) == 3 else p_edges[0]
        ax.plot([1, 1], [low, p_edges[-1]], color="k", lw=1.2, ls="--")
        ax.plot([1], [4 / 7], "k*", ms=9)
    ax.set_xlim(r_edges[0], r_edges[-1])
    ax.set_ylim(p_edges[0], p_edges[-1])


def plot_phase_map(outcome: Any, config: Any, out_dir: Path, stem: str) -> list[Path]:

    mod = DIAGRAMS[config.diagram]
    t = phase_tables(outcome, config)
    r, p = outcome.arrays["r"].ravel(), outcome.arrays["p"].ravel()
    re, pe = _edges(r), _edges(p)
    order = [*mod.PHASES, mod.OTHER]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))

    # 1) analytic map on a fine grid, with the boundaries
    rf, pf = _log_range(re, 240), _log_range(pe, 240)
    fine = np.asarray(mod.phase(rf[:, None], np.minimum(pf[None, :], 1.0)))
    _paint(axes[0], _edges(rf), _edges(pf), fine, order)
    _boundaries(axes[0], mod, re, pe)
    axes[0].set_ylabel("density p = 1 − S")
    axes[0].set_title(f"analytic phase(r, p) — {config.diagram}")

    # 2) empirical map: near-boundary cells hatched, judged disagreements crossed
    _paint(axes[1], re, pe, t["empirical"], order)
    _boundaries(axes[1], mod, re, pe)
    for i, j in zip(*np.nonzero(t["near"])):
        axes[1].add_patch(
            Rectangle((re[i], pe[j]), re[i + 1] - re[i], pe[j + 1] - pe[j], fill=False, hatch="///", lw=0, color="0.35")
        )
    bad = (t["empirical"] != t["analytic"]) & ~t["near"]
    for i, j in zip(*np.nonzero(bad)):
        axes[1].plot(r[i], p[j], "x", color="red", ms=9, mew=2)
    judged = int((~t["near"]).sum())
    agree = int(((t["empirical"] == t["analytic"]) & ~t["near"]).sum())
    axes[1].set_title(
        f"empirical ({config.model}, best of {config.restarts}): {agree}/{judged} judged cells agree", fontsize=9
    )

    # 3) the slice r = 1 through the triple point, with the kept models of the nearest grid row
    ps = np.linspace(0.005, 1.0, 400)
    row = int(np.argmin(np.abs(np.log10(r))))
    for k, (name, loss) in enumerate(mod.losses(1.0, ps).items()):  # at r = 1 some coincide: dash
        axes[2].plot(
            ps, loss, color=PHASE_COLORS[name], lw=3.5 - k, ls="-" if k % 2 == 0 else "--", label=f"{name} (r = 1)"
        )
    axes[2].axvline(4 / 7, color="k", ls=":", lw=1)
    axes[2].plot(p, outcome.arrays["loss"][0, 0, row], "ko", ms=4, label=f"trained, r = {r[row]:.3g}")
    axes[2].set_xlabel("density p")
    axes[2].set_ylabel("expected loss")
    axes[2].set_title("competing solutions through the triple point (p = 4/7)", fontsize=9)
    axes[2].legend(fontsize=7)

    handles = [Patch(color=PHASE_COLORS[n], label=n) for n in order]
    handles.append(
        Patch(facecolor="white", edgecolor="0.35", hatch="///", label=f"< {config.margin:g} dec. from a boundary")
    )
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    return save_figure(fig, out_dir, stem, dpi=100, rect=(0, 0.07, 1, 1))


def plot_free_optimum(outcome: Any, config: Any, out_dir: Path, stem: str) -> list[Path]:

    mod = DIAGRAMS[config.diagram]
    a = outcome.arrays
    r, p = a["r"].ravel(), a["p"].ravel()
    re, pe = _edges(r), _edges(p)
    order = [*mod.PHASES, mod.OTHER]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))

    rf, pf = _log_range(re, 240), _log_range(pe, 240)
    _paint(axes[0], _edges(rf), _edges(pf), np.asarray(mod.phase(rf[:, None], np.minimum(pf[None, :], 1))), order)
    _boundaries(axes[0], mod, re, pe)
    free = a["free_phase"][0, 0]
    for i, j in np.ndindex(free.shape):
        axes[0].plot(r[i], p[j], "o", color=PHASE_COLORS[str(free[i, j])], mec="k", ms=8)
        if free[i, j] != a["closed_phase"][0, 0][i, j]:  # the free optimum is in another phase
            axes[0].plot(r[i], p[j], "x", color="red", ms=11, mew=2)
    br, bf = a["boundary_r"].ravel(), a["free_boundary"].ravel()
    axes[0].plot(br, bf, "v", color="red", ms=8, label="free-optimum boundary")
    axes[0].set_ylabel("density p")
    axes[0].set_title(f"closed-form map; dots: free optimum's phase ({config.model}; × differs)", fontsize=9)
    axes[0].legend(fontsize=8, loc="lower left")

    ratio = a["free_loss"][0, 0] / a["closed_loss"][0, 0].min(axis=-1)  # (Nr, Np)
    for i in range(r.size):
        axes[1].plot(p, ratio[i], "o-", label=f"r = {r[i]:.3g}")
    axes[1].axhline(1.0, color="k", lw=1)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("density p")
    axes[1].set_ylabel("free optimum / best closed form")
    axes[1].legend(fontsize=7)
    return save_figure(fig, out_dir, stem, dpi=100)
