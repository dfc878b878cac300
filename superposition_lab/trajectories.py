"""Training trajectories of feature dimensionality (TMS "Superposition and Learning Dynamics",
Phenomenon 1: discrete "energy level" jumps).

TMS: "the learning dynamics of toy models with large numbers of features appear to be dominated by
'energy level jumps' where features jump between different feature dimensionalities", and the
jumps coincide with drops of the loss. This module turns that into arithmetic on snapshots:

- `dimensionality_trajectories`: D_i = ‖W_i‖²/Σ_j(Ŵ_i·W_j)² at every snapshot, (…, T, F);
- `find_jumps`: a jump of a trajectory y (T,) is a change of at least `min_jump` across a gap of
  `jump_window` snapshots, with y flat — range (max − min) ≤ `band` — over `plateau_window`
  snapshots on each side. With min_jump ≥ 2·band and plateau_window ≥ 2·jump_window a trajectory
  that moves at any constant rate never fires (`ramp_never_fires` says why), and nor does one that
  moves slowly everywhere; only a step between two plateaus does;
- `loss_drop_z`: at a jump, how much faster the loss falls across the jump's gap than across the
  wider span around it, in units of its standard error from the batch-loss noise — a loss *drop*
  at the jump rather than the loss's ordinary decline.

Snapshots are taken every k steps; every window here counts snapshots, not steps.
"""

from __future__ import annotations

import attrs
import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from superposition_lab import metrics

__all__ = [
    "JumpRule",
    "Jump",
    "dimensionality_trajectories",
    "find_jumps",
    "jump_share",
    "coarse_variation",
    "loss_noise",
    "loss_drop_z",
    "ramp_never_fires",
]

_ROUNDING = 1e-12  # so that a step of exactly min_jump (0.5 → 0.4 in floats) counts


def dimensionality_trajectories(snapshot_W: np.ndarray) -> np.ndarray:
    """D_i at every snapshot: W (…, T, H, F) → (…, T, F) (`metrics.dimensionality` per snapshot)."""
    W = np.asarray(snapshot_W)
    *lead, H, F = W.shape
    D = metrics.dimensionality(torch.from_numpy(W.reshape(-1, H, F)))  # (N, F)
    return D.numpy().reshape(*lead, F)


@attrs.frozen
class JumpRule:
    """What counts as a jump, in snapshots (windows) and units of D (sizes).

    jump_window: snapshots the change may take (the gap between the two plateaus);
    plateau_window: snapshots that must be flat on each side;
    min_jump: least |median after − median before|;
    band: largest range (max − min) of a flat plateau.
    """

    jump_window: int = attrs.field(validator=attrs.validators.ge(1))
    plateau_window: int = attrs.field(validator=attrs.validators.ge(2))
    min_jump: float = attrs.field(validator=attrs.validators.gt(0))
    band: float = attrs.field(validator=attrs.validators.gt(0))

    def span(self) -> int:
        """Snapshots one jump occupies: plateau, gap, plateau."""
        return 2 * self.plateau_window + self.jump_window


def ramp_never_fires(rule: JumpRule) -> bool:
    """True when no straight line y = a + s·t, whatever a and s, can be a jump under `rule`.

    A flat plateau of L snapshots bounds the slope: |s|·(L − 1) ≤ band. The two plateaus' medians
    sit L + g snapshots apart (g the gap), so the step is |s|·(L + g) ≤ band·(L + g)/(L − 1); it
    stays below min_jump when min_jump/band > (L + g)/(L − 1). Noise only widens the range, so a
    noisy line is rejected too.
    """
    L, g = rule.plateau_window, rule.jump_window
    return rule.min_jump / rule.band > (L + g) / (L - 1)


@attrs.frozen
class Jump:
    """One jump: the gap starts at snapshot `start` (the first snapshot after the plateau before)
    and lasts rule.jump_window snapshots; `size` = median after − median before (signed)."""

    start: int
    size: float

    def centre(self, rule: JumpRule) -> float:
        """The snapshot (fractional) in the middle of the gap."""
        return self.start + (rule.jump_window - 1) / 2


def _candidates(y: np.ndarray, rule: JumpRule) -> tuple[np.ndarray, np.ndarray]:
    """For every gap start t with full plateaus, (ok, step): both plateaus flat and |step| ≥ min_jump."""
    L, g = rule.plateau_window, rule.jump_window
    windows = sliding_window_view(y, L)  # (T − L + 1, L): windows[s] = y[s : s + L]
    flat = np.ptp(windows, axis=-1) <= rule.band + _ROUNDING
    med = np.median(windows, axis=-1)
    n = len(y) - rule.span() + 1  # gap starts t = L … L + n − 1
    if n <= 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    before = np.arange(n)  # plateau before starts at t − L
    after = before + L + g  # plateau after starts at t + g
    step = med[after] - med[before]
    ok = flat[before] & flat[after] & (np.abs(step) >= rule.min_jump - _ROUNDING)
    return ok, step


def find_jumps(y: np.ndarray, rule: JumpRule) -> list[Jump]:
    """The jumps of one trajectory y (T,), in time order.

    Neighbouring gap starts that all qualify with the same sign are one jump (a step seen through
    windows shifted by a few snapshots); it is placed at its largest |step|, the first if tied.
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"find_jumps: y must be one trajectory (T,), got shape {y.shape}")
    ok, step = _candidates(y, rule)
    jumps: list[Jump] = []
    t = 0
    while t < len(ok):
        if not ok[t]:
            t += 1
            continue
        end = t
        while end + 1 < len(ok) and ok[end + 1] and np.sign(step[end + 1]) == np.sign(step[t]):
            end += 1
        best = t + int(np.argmax(np.abs(step[t : end + 1])))
        jumps.append(Jump(start=best + rule.plateau_window, size=float(step[best])))
        t = end + 1
    return jumps


def coarse_variation(y: np.ndarray, block: int) -> float:
    """Total variation of y (T,) seen in blocks of `block` snapshots: Σ |Δ median of consecutive
    blocks|. Blocks average out the snapshot-to-snapshot jitter of SGD that the plain total
    variation would add up."""
    y = np.asarray(y, dtype=float)
    nb = len(y) // block
    if nb < 2:
        return 0.0
    med = np.median(y[: nb * block].reshape(nb, block), axis=-1)
    return float(np.abs(np.diff(med)).sum())


def jump_share(trajectories: np.ndarray, rule: JumpRule) -> float:
    """How step-like the movement of D is: Σ |jump sizes| / Σ coarse variation over the features
    of one run, trajectories (T, F). 1 = every change of D happens in jumps between plateaus,
    0 = none does (or nothing moves). Blocks of coarse_variation are rule.plateau_window long, so that
    jitter on a plateau adds little."""
    D = np.asarray(trajectories, dtype=float)
    jumped = sum(abs(j.size) for f in range(D.shape[1]) for j in find_jumps(D[:, f], rule))
    moved = sum(coarse_variation(D[:, f], rule.plateau_window) for f in range(D.shape[1]))
    return float(min(1.0, jumped / moved)) if moved > 0 else 0.0


def loss_noise(loss: np.ndarray) -> float:
    """Standard deviation of the batch loss around its trend, from successive differences:
    1.4826·MAD(Δℓ)/√2 (robust to the drops themselves)."""
    d = np.diff(np.asarray(loss, dtype=float))
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def loss_drop_z(loss: np.ndarray, start: int | np.ndarray, rule: JumpRule, sigma: float) -> np.ndarray:
    """Excess fall of the loss (T,) across a gap starting at `start` (one or many), in standard errors.

    With g = jump_window, L = plateau_window and m(a, b) the mean batch loss over snapshots [a, b):
    rate_in = (m(t − g, t) − m(t + g, t + 2g)) / 2g — the fall per snapshot across the gap;
    rate_around = (m(t − L, t − L + g) − m(t + L, t + L + g)) / 2L — across the whole span.
    z = (rate_in − rate_around)/se, se = σ·√(2/g)·√(1/(2g)² + 1/(2L)²) for independent batch
    noise σ. A loss falling at a constant rate gives z ~ N(0, 1); a convex (decelerating) one
    gives z < 0 on average; a drop concentrated in the gap gives z > 0. Gap starts without a full
    span around them give NaN.
    """
    loss = np.asarray(loss, dtype=float)
    t = np.atleast_1d(np.asarray(start, dtype=int))
    L, g = rule.plateau_window, rule.jump_window
    csum = np.concatenate([[0.0], np.cumsum(loss)])

    def mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (csum[b] - csum[a]) / (b - a)

    valid = (t - L >= 0) & (t + L + g <= len(loss)) & (t + 2 * g <= len(loss)) & (t - g >= 0)
    tc = np.where(valid, t, max(L, g))  # any in-range index; masked below
    if len(loss) < L + max(L, g) + g:
        return np.full(t.shape, np.nan)
    rate_in = (mean(tc - g, tc) - mean(tc + g, tc + 2 * g)) / (2 * g)
    rate_around = (mean(tc - L, tc - L + g) - mean(tc + L, tc + L + g)) / (2 * L)
    se = sigma * np.sqrt(2 / g) * np.sqrt(1 / (2 * g) ** 2 + 1 / (2 * L) ** 2)
    z = (rate_in - rate_around) / max(se, 1e-300)
    return np.where(valid, z, np.nan)
