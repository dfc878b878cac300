"""Adversarial-robustness metrics for the `toy` experiment (TMS "Superposition and Adversarial Robustness").

The attack and its derivation are superposition_lab/adversarial.py: per input, the worst of the 2F
analytic L2 attacks ±ε(WᵀW)_i/‖(WᵀW)_i‖ with ε = 0.1 × the average input norm, scored against the
clean features. The vulnerability is TMS's (L' − L)/(L'₀ − L₀) with the dedicated top-m model as the
non-superposition reference (L'₀ − L₀ = ε²·max_i I_i exactly), so 1 means "as robust as a model
without superposition". Each (point, seed) is measured on `attack_samples(F)` inputs drawn from that
point's data distribution with the evaluation's generator (seed + 1), so a rerun gives the same value.

Two metrics describe the whole sweep (sweep-wide: one value per seed): how many times the
vulnerability rises from the densest to the sparsest point, and its Pearson correlation with
features per dimension 1/D* = ‖W‖_F²/m over the sweep ("the level of vulnerability closely tracks the
number of features per dimension"). The figure `adversarial` draws both curves and one against the
other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from superposition_lab import adversarial
from superposition_lab.models import MODELS
from verify.experiments.geometry_metrics import axis_values, batched_weights, per_point
from verify.experiments.toy_data import densities, toy_sampler
from verify.figures import save_figure
from verify.kind import Metric, Outcome

__all__ = [
    "ATTACK_ENTRIES",
    "ATTACK_SAMPLES",
    "attack_samples",
    "robustness_metrics",
    "robustness_plots",
    "vulnerability",
    "plot_adversarial",
]

# Inputs per (point, seed): as many as fit ATTACK_ENTRIES = B·2F·F attacked outputs per instance,
# between 512 and 4096 (n = 48: 1820 inputs; n = 400: 512). The Monte Carlo standard error of the
# vulnerability this leaves is measured in tests/verify/test_robustness_metrics.py (a few % of its
# value), far inside every threshold of specs/tms.adversarial.toml.
ATTACK_ENTRIES = 2**23
ATTACK_SAMPLES = (512, 4096)


def attack_samples(n_features: int) -> int:
    """How many inputs each (point, seed) is attacked on: ATTACK_ENTRIES/(2F·F), clipped to ATTACK_SAMPLES."""
    lo, hi = ATTACK_SAMPLES
    return int(min(hi, max(lo, ATTACK_ENTRIES // (2 * n_features * n_features))))


_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(W array) → (W, vulnerability (P, S))


def vulnerability(o: Outcome, c: Any) -> np.ndarray:
    """(L' − L)/(L'₀ − L₀) per grid point and seed, (P, S) (computed once per Outcome)."""
    W = o.arrays["W"]
    hit = _CACHE.get(id(W))
    if hit is not None and hit[0] is W:
        return hit[1]
    P, S = W.shape[:2]
    density = torch.tensor(np.repeat(densities(c, o.points), S, axis=0), dtype=torch.float32)  # (P·S, F)
    gen = torch.Generator().manual_seed(c.seed + 1)
    x = toy_sampler(c, density).sample(attack_samples(c.n_features), gen)  # (P·S, B, F), float32
    importance = torch.tensor(np.tile(c.importance.vector(c.n_features), (P * S, 1)), dtype=torch.float32)
    model = MODELS[c.model]
    v = adversarial.vulnerability(
        batched_weights(o).float(),  # float32: the loss increases are ~ε² ≈ 1e-2, far above its rounding
        torch.from_numpy(o.arrays["b"].reshape(P * S, -1)).float(),
        x,
        importance,
        output_relu=bool(model.output_relu),
        hidden_relu=model.hidden_relu,
    )
    out = per_point(o, v)
    _CACHE.clear()  # one Outcome at a time: the checks of one side ask in a row
    _CACHE[id(W)] = (W, out)
    return out


def _features_per_dimension(o: Outcome, c: Any) -> np.ndarray:
    return per_point(o, adversarial.features_per_dimension(batched_weights(o)))


def _sweep(value: np.ndarray, P: int) -> np.ndarray:
    return np.broadcast_to(value, (P, *value.shape)).copy()


def _rise(o: Outcome, c: Any) -> np.ndarray:
    """Vulnerability at the sparsest sweep point / at the densest one, per seed (sweep-wide)."""
    sparsity = axis_values(o, "sparsity")
    v = vulnerability(o, c)
    return _sweep(v[np.argmax(sparsity)] / v[np.argmin(sparsity)], v.shape[0])


def _correlation(o: Outcome, c: Any) -> np.ndarray:
    """Pearson r between vulnerability and 1/D* over the sweep's points, per seed (sweep-wide);
    NaN where either is constant (no trend to track), which a check reports as an error."""
    v, f = vulnerability(o, c), _features_per_dimension(o, c)
    r = np.full(v.shape[1], np.nan)
    for s in range(v.shape[1]):
        if v.shape[0] > 2 and np.ptp(v[:, s]) > 0 and np.ptp(f[:, s]) > 0:
            r[s] = np.corrcoef(v[:, s], f[:, s])[0, 1]
    return _sweep(r, v.shape[0])


robustness_metrics: dict[str, Metric] = {
    "adversarial_vulnerability": Metric(
        vulnerability,
        "(L'−L)/(L'₀−L₀): loss increase under the worst analytic L2 attack ±ε(WᵀW)_i/‖(WᵀW)_i‖, "
        "ε = 0.1·E‖x‖, over the dedicated top-m model's (ε²·max I)",
    ),
    "inverse_dstar": Metric(
        _features_per_dimension,
        '1/D* = ‖W‖_F²/m, TMS\'s "features per dimension" (cf. features_per_dimension = n_represented/m)',
    ),
    "vulnerability_rise": Metric(
        _rise, "adversarial_vulnerability at the sparsest point / at the densest (sweep-wide)", sweep_wide=True
    ),
    "vulnerability_correlation": Metric(
        _correlation,
        "Pearson r of adversarial_vulnerability with 1/D* over the sweep (sweep-wide; NaN if either is constant)",
        sweep_wide=True,
    ),
}


def plot_adversarial(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """Vulnerability and 1/D* against 1/(1−S), and vulnerability against 1/D* — TMS's figures."""
    import matplotlib.pyplot as plt

    v, f = vulnerability(o, c), _features_per_dimension(o, c)
    x = 1.0 / (1.0 - axis_values(o, "sparsity"))
    order = np.argsort(x)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for s in range(v.shape[1]):
        label = f" (seed {s})" if v.shape[1] > 1 else ""
        left.plot(x[order], v[order, s], "o-", ms=3, lw=1, color=f"C{s}", label="vulnerability" + label)
        left.plot(x[order], f[order, s], "s--", ms=3, lw=1, color=f"C{s}", alpha=0.6, label="1/D*" + label)
        right.plot(f[order, s], v[order, s], "o-", ms=3, lw=1, color=f"C{s}")
    left.set_xscale("log")
    left.set_xlabel("1/(1−S)")
    left.set_ylabel("(L'−L)/(L'₀−L₀) and 1/D*")
    left.legend(fontsize=7)
    lim = max(1.0, float(f.max()))
    right.plot([0, lim], [0, lim], color="0.6", lw=0.8, ls=":", label="vulnerability = 1/D*")
    right.set_xlabel("features per dimension 1/D* = ‖W‖_F²/m")
    right.set_ylabel("vulnerability")
    right.legend(fontsize=7)
    fig.suptitle(f"{stem}: {c.model}, n={c.n_features}, m={c.n_hidden}, ε = 0.1·E‖x‖", fontsize=9)
    return save_figure(fig, out_dir, stem)


robustness_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {"adversarial": plot_adversarial}
