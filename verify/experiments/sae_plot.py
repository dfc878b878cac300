"""The `sae` experiment's figure: the L0–FVU Pareto frontier(s), γ against the swept knob (with the L1
closed forms of analytic/sae.py where they hold), and the true-feature × decoder-atom cosine matrix.

Frontier and γ: Rajamanoharan et al. 2024 (arXiv:2404.16014, §5.1: sparsity–fidelity frontier,
relative reconstruction bias); cosines and the one-to-one (Hungarian) matching: Sharkey et al. 2022.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from analytic import sae as analytic_sae
from superposition_lab.sae_metrics import cosine_matrix, match_features, matched_mmcs
from verify.experiments.sae_config import AXES, SAEConfig
from verify.figures import save_figure
from verify.kind import Outcome

__all__ = ["plot_sae"]


def plot_sae(outcome: Outcome, config: SAEConfig, out_dir: Path, stem: str) -> list[Path]:
    """L0–FVU Pareto frontier(s), γ against the swept knob, and the true-feature × atom cosine matrix."""
    a = outcome.arrays
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    sides = [(config.variant.name, outcome.points, a["l0"], a["fvu"], a["gamma"])]
    if "baseline_l0" in a and config.baseline is not None:
        sides.append(
            (
                config.baseline.name,
                outcome.info.get("baseline_points", []),
                a["baseline_l0"],
                a["baseline_fvu"],
                a["baseline_gamma"],
            )
        )
    knob = next((ax for ax in AXES if outcome.points and ax in outcome.points[0]), None)
    for name, points, l0, fvu, gamma in sides:
        order = np.argsort(l0.mean(axis=1))
        axes[0].plot(l0.mean(axis=1)[order], fvu.mean(axis=1)[order], "o-", label=name)
        axes[0].scatter(l0.ravel(), fvu.ravel(), s=6, alpha=0.4)
        if knob and points and knob in points[0]:
            xs = np.array([p[knob] for p in points])
            # over dictionary sizes the question is scaling (sae.scaling): FVU against d_sae, log-log
            ys = fvu.mean(axis=1) if knob == "d_sae" else gamma.mean(axis=1)
            axes[1].plot(xs, ys, "o-", label=name)
    if "baseline_rescaled_fvu" in a and config.baseline is not None:  # its shrinkage undone (sae_rescale)
        l0, fvu = a["baseline_l0"].mean(axis=1), a["baseline_rescaled_fvu"].mean(axis=1)
        order = np.argsort(l0)
        axes[0].plot(l0[order], fvu[order], "k--", lw=1, label=f"{config.baseline.name}, rescaled & shifted")
    names = [name for name, *_ in sides]
    closed_form = (
        knob == "penalty"
        and config.directions == "orthogonal"
        and "l1" in names
        and config.magnitude == "uniform"
        and config.hi > config.lo
    )
    if closed_form:  # the L1 closed forms hold for orthogonal features only
        lam = np.linspace(0, max(p["penalty"] for _, pts, *_ in sides for p in pts), 100)
        axes[1].plot(
            lam,
            analytic_sae.l1_gamma_uniform(lam, config.lo, config.hi),
            "k--",
            lw=1,
            label="L1 closed form, b_dec = 0 (orthogonal)",
        )
        if not config.firing and not isinstance(config.density, list):
            axes[1].plot(
                lam,
                analytic_sae.l1_gamma_learned_bias(lam, config.density, config.lo, config.hi),
                "k:",
                lw=1,
                label="L1 closed form, learned b_dec (orthogonal)",
            )
    axes[0].set(xlabel="L0", ylabel="FVU", title="Pareto frontier (mean over seeds)", yscale="log")
    if knob == "d_sae":
        axes[1].set(xlabel="d_sae", ylabel="FVU", title="scaling (mean over seeds)", xscale="log", yscale="log")
    else:
        axes[1].axhline(1.0, color="grey", lw=0.5)
        axes[1].set(xlabel=knob or "", ylabel="γ = E‖x̂‖²/E[x·x̂]", title="shrinkage")
    for ax in axes[:2]:
        if ax.get_legend_handles_labels()[0]:  # nothing swept: no labelled lines, no legend
            ax.legend(fontsize=7)
    # the cosine matrix of seed 0 at the grid point where its matched MMCS is highest
    dirs = torch.from_numpy(a["directions"][0])  # (H, F)
    W_seed0 = torch.from_numpy(np.ascontiguousarray(a["W_dec"][:, 0]))  # (P, H, D)
    best = int(np.argmax(matched_mmcs(dirs.expand(len(W_seed0), *dirs.shape), W_seed0).numpy()))
    C = cosine_matrix(dirs[None], W_seed0[best][None])[0].numpy()  # (F, D)
    match = match_features(dirs[None], W_seed0[best][None])[0].numpy()
    cols = [j for j in match if j >= 0] + [j for j in range(C.shape[1]) if j not in set(match)]
    im = axes[2].imshow(C[:, cols], cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    axes[2].set(
        xlabel="decoder atom (matched first)",
        ylabel="true feature",
        title=f"cosines, {', '.join(f'{k}={x:g}' for k, x in outcome.points[best].items()) or 'seed 0'}",
    )
    axes[2].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[2].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    fig.suptitle(
        f"{stem}: {config.variant.name}, n={config.n_features}, m={config.n_dims}, d_sae={config.d_sae}", fontsize=9
    )
    return save_figure(fig, out_dir, stem)
