"""Neuron metrics for the `toy` experiment (TMS "Superposition in a Privileged Basis").

A neuron is row k of W: its input weights from the n features. With a hidden ReLU (`relu_hidden`)
a neuron responds to the features with positive weight; without one (`linear`, `relu_output`:
h = W x, no privileged basis) to either sign — superposition_lab/neurons.py holds the measures, the
purity and alive thresholds and their calibration. The figure `neurons` draws the paper's picture:
one panel per density, one stacked bar per neuron made of its weights from each feature.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from superposition_lab import neurons
from superposition_lab.models import MODELS
from verify.figures import save_figure
from verify.kind import Metric, Outcome

__all__ = ["neuron_metrics", "neuron_plots", "plot_neurons"]


def _hidden_relu(config: Any) -> bool:
    """Whether the model's hidden layer has a ReLU (a privileged basis): it decides which sign counts."""
    return bool(MODELS[config.model].hidden_relu)


def _per_neuron(fn: Callable[..., torch.Tensor]) -> Callable[[Outcome, Any], np.ndarray]:
    """Lift fn(W (I, H, F), hidden_relu=…) → (I, …) to the Outcome's (P, S, …) layout."""

    def metric(outcome: Outcome, config: Any) -> np.ndarray:
        W = outcome.arrays["W"]  # (P, S, H, F)
        P, S = W.shape[:2]
        out = fn(torch.from_numpy(W.reshape(P * S, *W.shape[2:])), hidden_relu=_hidden_relu(config)).numpy()
        return out.reshape(P, S, *out.shape[1:])

    return metric


_n_mono = _per_neuron(neurons.n_monosemantic)
_n_poly = _per_neuron(neurons.n_polysemantic)


def mean_feature_count(outcome: Outcome, config: Any) -> np.ndarray:
    """Mean over a model's alive neurons of the effective number of features per neuron, (P, S);
    0 when no neuron is alive."""
    count = _per_neuron(neurons.neuron_feature_count)(outcome, config)  # (P, S, H)
    alive = _per_neuron(neurons.alive_neurons)(outcome, config)  # (P, S, H)
    n = alive.sum(axis=-1)
    return np.where(n > 0, (count * alive).sum(axis=-1) / np.maximum(n, 1), 0.0)


def coexistence(outcome: Outcome, config: Any) -> np.ndarray:
    """Largest over the sweep of min(n_monosemantic, n_polysemantic): ≥ 1 when at some grid point one
    model has neurons of both kinds side by side (sweep-wide), (P, S) with the same value at every P."""
    both = np.minimum(_n_mono(outcome, config), _n_poly(outcome, config))  # (P, S)
    return np.broadcast_to(both.max(axis=0, keepdims=True), both.shape).copy()


neuron_metrics: dict[str, Metric] = {
    "neuron_purity": Metric(
        _per_neuron(neurons.neuron_purity),
        "per neuron: share of its squared input weight from its top feature (positive weights behind a ReLU)",
    ),
    "neuron_feature_count": Metric(
        _per_neuron(neurons.neuron_feature_count), "per neuron: participation ratio of its squared input weights"
    ),
    "mean_neuron_feature_count": Metric(mean_feature_count, "mean neuron_feature_count over alive neurons"),
    "n_alive_neurons": Metric(
        lambda o, c: _per_neuron(neurons.alive_neurons)(o, c).sum(axis=-1),
        f"neurons whose largest input weight exceeds {neurons.ALIVE_THRESHOLD}",
    ),
    "n_monosemantic": Metric(
        _n_mono, f"alive neurons whose top feature carries ≥ {neurons.MONOSEMANTIC_PURITY} of their squared weight"
    ),
    "n_polysemantic": Metric(_n_poly, f"alive neurons with purity < {neurons.MONOSEMANTIC_PURITY}"),
    "monosemantic_features": Metric(
        _per_neuron(neurons.monosemantic_features), "mask of features that are the top feature of a monosemantic neuron"
    ),
    "neuron_coexistence": Metric(
        coexistence,
        "max over the sweep of min(n_monosemantic, n_polysemantic): ≥ 1 when both kinds coexist (sweep-wide)",
        sweep_wide=True,
    ),
}


def plot_neurons(outcome: Outcome, config: Any, out_dir: Path, stem: str) -> list[Path]:
    """The TMS "Superposition in a Privileged Basis" figure: one panel per grid point (first seed), one
    bar per neuron, stacked from its weights W_ki — positive ones upward, negative ones downward — and
    coloured by feature (dark = most important). Neurons are sorted by their top feature; an "M" marks
    a monosemantic neuron."""
    import matplotlib.pyplot as plt

    W = outcome.arrays["W"][:, 0]  # (P, H, F)
    P, H, F = W.shape
    relu = _hidden_relu(config)
    Wt = torch.from_numpy(W)
    mono = neurons.monosemantic_neurons(Wt, hidden_relu=relu).numpy()  # (P, H)
    top = neurons.neuron_top_feature(Wt, hidden_relu=relu).numpy()  # (P, H)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.95, F))
    fig, axes = plt.subplots(1, P, figsize=(max(4.0, 1.7 * P), 3.0), squeeze=False, sharey=True)
    lim = max(1e-9, float(np.maximum(W, 0).sum(-1).max()), float(np.maximum(-W, 0).sum(-1).max()))
    for p, ax in enumerate(axes[0]):
        order = np.argsort(top[p], kind="stable")
        up, down = np.zeros(H), np.zeros(H)
        for i in range(F):
            w = W[p][order, i]
            pos, neg = np.maximum(w, 0), np.minimum(w, 0)
            ax.bar(np.arange(H), pos, bottom=up, color=colours[i], width=0.8, label=f"feature {i}" if p == 0 else None)
            ax.bar(np.arange(H), neg, bottom=down, color=colours[i], width=0.8)
            up, down = up + pos, down + neg
        for x, k in enumerate(order):
            if mono[p, k]:
                ax.text(x, up[x] + 0.03 * lim, "M", ha="center", va="bottom", fontsize=7)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_xticks(np.arange(H))
        ax.set_xticklabels([str(k) for k in order], fontsize=6)
        ax.set_ylim(-1.1 * lim, 1.2 * lim)
        label = ", ".join(f"1−S={1 - x:g}" if a == "sparsity" else f"{a}={x:g}" for a, x in outcome.points[p].items())
        ax.set_title(f"{label or config.model}\n{int(mono[p].sum())} mono", fontsize=7)
        ax.set_xlabel("neuron", fontsize=7)
    axes[0, 0].set_ylabel("input weights W_ki (stacked)", fontsize=7)
    fig.legend(loc="lower center", ncol=min(F, 10), fontsize=6, frameon=False)
    fig.suptitle(f"{stem.removesuffix('-neurons')}: {config.model}, n={F}, m={H}", fontsize=8)
    return save_figure(fig, out_dir, stem, rect=(0, 0.06, 1, 1))


neuron_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {"neurons": plot_neurons}
