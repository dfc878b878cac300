"""Training-trajectory metrics for the `toy` experiment's snapshots (TMS "Learning Dynamics": energy-level jumps).

TMS "Superposition and Learning Dynamics", Phenomenon 1: features "jump between different feature
dimensionalities", and the jumps line up with drops of the loss curve. The snapshots
(`snapshot_every = k`) give D_i over training for every feature; `superposition_lab.trajectories`
finds the jumps. The rule is fixed here, in fractions of the run, so that a spec cannot tune it:

- a jump changes D_i by ≥ MIN_JUMP = 0.1 (the gap between the levels 1/2 and 2/5 of "Why these
  geometric structures?") within JUMP_FRACTION = 5% of the snapshots, with D_i flat — range ≤ BAND =
  0.05 — for PLATEAU_FRACTION = 15% of
  the snapshots before and after. MIN_JUMP = 2·BAND and a plateau
  more than twice the gap make a trajectory moving at any constant rate unable to fire
  (`trajectories.ramp_never_fires`);
- a jump sits at a loss drop when the batch loss falls across its gap faster than across the
  span around it by ≥ DROP_Z standard errors of the batch noise (`trajectories.loss_drop_z`); the
  null is the same test at every gap start of the run (jump times drawn at random): for a loss
  that falls smoothly it holds at ≈ 2% of them (one-sided normal tail at 2), less where the loss
  decelerates.

Metrics with no jump to judge (the linear model) are 0, not NaN: "no jump" and "no jump at a loss
drop" are the finite outcomes the claim must beat.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from superposition_lab import trajectories as tr
from verify.figures import save_figure
from verify.kind import Metric, Outcome

__all__ = ["trajectory_metrics", "trajectory_plots", "jump_rule", "plot_trajectories"]

JUMP_FRACTION = 0.05  # the gap a jump may take, as a fraction of the snapshots
PLATEAU_FRACTION = 0.15  # each flat side, as a fraction of the snapshots (> 2 gaps: ramps cannot fire)
MIN_JUMP = 0.1  # least change of D_i: 1/2 → 2/5, the closest pair of the paper's main levels
BAND = 0.05  # largest range of D_i on a plateau (= MIN_JUMP/2)
DROP_Z = 2.0  # a loss drop: excess fall ≥ 2 standard errors (≈ 2% of random times pass)


def jump_rule(n_snapshots: int) -> tr.JumpRule:
    """The lab's jump rule for a run of `n_snapshots` snapshots (windows scale with the run)."""
    gap = max(1, round(JUMP_FRACTION * n_snapshots))
    plateau = max(gap + 3, round(PLATEAU_FRACTION * n_snapshots))  # > gap + 2: ramps cannot fire
    return tr.JumpRule(jump_window=gap, plateau_window=plateau, min_jump=MIN_JUMP, band=BAND)


def _snapshots(o: Outcome) -> np.ndarray:
    if "snapshot_W" not in o.arrays:
        raise ValueError("trajectory metrics need training snapshots: set snapshot_every > 0")
    return o.arrays["snapshot_W"]


def _trajectories(o: Outcome) -> np.ndarray:
    """D_i at every snapshot, (P, S, T, F)."""
    return tr.dimensionality_trajectories(_snapshots(o))


def _jumps(o: Outcome) -> tuple[np.ndarray, tr.JumpRule, list[list[list[tuple[int, tr.Jump]]]]]:
    """D (P, S, T, F), the rule, and per (point, seed) the (feature, jump) pairs in feature order."""
    D = _trajectories(o)
    P, S, T, F = D.shape
    rule = jump_rule(T)
    found = [
        [[(f, j) for f in range(F) for j in tr.find_jumps(D[p, s, :, f], rule)] for s in range(S)] for p in range(P)
    ]
    return D, rule, found


def _per_run(fn: Callable[[np.ndarray, np.ndarray, tr.JumpRule, list[tuple[int, tr.Jump]]], float]) -> Callable:
    """A metric that reads one run — D (T, F), its batch loss (T,), the rule, its jumps — per (point, seed)."""

    def metric(o: Outcome, _: Any) -> np.ndarray:
        D, rule, found = _jumps(o)
        loss = o.arrays["snapshot_loss"]
        P, S = D.shape[:2]
        return np.array([[fn(D[p, s], loss[p, s], rule, found[p][s]) for s in range(S)] for p in range(P)])

    return metric


def _jump_z(loss: np.ndarray, rule: tr.JumpRule, jumps: list[tuple[int, tr.Jump]]) -> np.ndarray:
    """loss_drop_z at each jump (NaN where the span around it leaves the run)."""
    starts = np.array([j.start for _, j in jumps], dtype=int)
    return tr.loss_drop_z(loss, starts, rule, tr.loss_noise(loss)) if len(starts) else np.zeros(0)


def _drop_fraction(loss: np.ndarray, rule: tr.JumpRule, jumps: list[tuple[int, tr.Jump]]) -> float:
    z = _jump_z(loss, rule, jumps)
    z = z[np.isfinite(z)]
    return float(np.mean(z >= DROP_Z)) if z.size else 0.0


def _random_drop_fraction(loss: np.ndarray, rule: tr.JumpRule) -> float:
    z = tr.loss_drop_z(loss, np.arange(len(loss)), rule, tr.loss_noise(loss))
    z = z[np.isfinite(z)]
    return float(np.mean(z >= DROP_Z)) if z.size else 0.0


def _dimensionality_trajectory(o: Outcome, _: Any) -> np.ndarray:
    return _trajectories(o)


trajectory_metrics: dict[str, Metric] = {
    "dimensionality_trajectory": Metric(_dimensionality_trajectory, "D_i at every snapshot (T, F)"),
    "jump_count": Metric(
        _per_run(lambda D, loss, rule, js: float(len(js))),
        "jumps of D_i over all features: ≥ 0.1 within 5% of the run, flat (range ≤ 0.05) for 15% before and after",
    ),
    "jumping_features": Metric(
        _per_run(lambda D, loss, rule, js: float(len({f for f, _ in js}))), "features with at least one jump"
    ),
    "jump_share": Metric(
        _per_run(lambda D, loss, rule, js: tr.jump_share(D, rule)),
        "Σ|jump sizes| / Σ coarse variation of D_i: the share of D's movement that happens in jumps",
    ),
    "jump_loss_drop_fraction": Metric(
        _per_run(lambda D, loss, rule, js: _drop_fraction(loss, rule, js)),
        "fraction of jumps where the batch loss falls ≥ 2 s.e. faster across the jump than around it (0: no jumps)",
    ),
    "random_loss_drop_fraction": Metric(
        _per_run(lambda D, loss, rule, js: _random_drop_fraction(loss, rule)),
        "the same at every snapshot of the run: the null of jump times drawn at random",
    ),
}


def plot_trajectories(o: Outcome, c: Any, out_dir: Path, stem: str) -> list[Path]:
    """D_i over training steps for every feature above the batch loss, jumps marked — the TMS
    "Learning Dynamics" figure. First grid point, up to four seeds."""
    import matplotlib.pyplot as plt

    D, rule, found = _jumps(o)
    steps, loss = o.arrays["snapshot_steps"][0], o.arrays["snapshot_loss"][0]
    S = min(4, D.shape[1])
    fig, axes = plt.subplots(2, S, figsize=(4.2 * S, 4.6), squeeze=False, sharex="col", height_ratios=[2, 1])
    for s in range(S):
        top, bottom = axes[0, s], axes[1, s]
        top.plot(steps[s], D[0, s], lw=0.7)
        for level in (1.0, 0.75, 2 / 3, 0.5, 0.4, 0.375):
            top.axhline(level, color="0.85", lw=0.6, zorder=0)
        bottom.plot(steps[s], loss[s], color="0.7", lw=0.5)
        k = rule.jump_window
        smooth = np.convolve(loss[s], np.ones(k) / k, mode="valid")
        bottom.plot(steps[s][k // 2 : k // 2 + len(smooth)], smooth, color="k", lw=1)
        for _, j in found[0][s]:
            t = np.interp(j.centre(rule), np.arange(len(steps[s])), steps[s])
            for ax in (top, bottom):
                ax.axvline(t, color="tab:red", lw=0.5, alpha=0.4)
        top.set_title(f"seed {s}: {len(found[0][s])} jumps", fontsize=8)
        bottom.set_xlabel("step")
    axes[0, 0].set_ylabel("D_i")
    axes[1, 0].set_ylabel("batch loss")
    fig.suptitle(f"{stem}: {c.model}, n={c.n_features}, m={c.n_hidden} (red: jumps)", fontsize=9)
    return save_figure(fig, out_dir, stem)


trajectory_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {"trajectories": plot_trajectories}
