"""What the `sae` experiment can measure: every metric reads arrays of its Outcome (never retrains).

Reconstruction (L0, MSE, FVU, γ — Rajamanoharan et al. 2024, §5), dead latents (Bricken et al.
2023), recovery of the ground-truth directions (MMCS, Sharkey et al. 2022), absorption (Chanin et
al. 2024), and comparisons with a `baseline` variant trained on the same directions: shrinkage
ratio and the gain over the baseline's L0–FVU frontier at equal L0 — also with both sides' shrinkage
undone by a fitted per-latent rescale and shift (`rescale_shift = true`; Rajamanoharan et al. 2024,
Figure 9), which tells a gain that is more than shrinkage from one that is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from superposition_lab.sae_metrics import column_cosine, match_features, matched_mmcs, mmcs, recovered_fraction
from verify.experiments.sae_config import SAEConfig
from verify.experiments.sae_size_metrics import size_metrics
from verify.kind import Metric, Outcome

__all__ = ["sae_metrics", "frontier_fvu"]


def _array(name: str) -> Callable[[Outcome, Any], np.ndarray]:
    return lambda o, _: o.arrays[name]


def _on_weights(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    name: str = "W_dec",
) -> Callable[[Outcome, Any], np.ndarray]:
    """Lift fn(directions (I, H, F), W (I, H, D)) → (I, …) to the Outcome's (P, S, …) layout."""

    def metric(o: Outcome, _: Any) -> np.ndarray:
        W = o.arrays[name]
        P, S = W.shape[:2]
        dirs = np.broadcast_to(o.arrays["directions"][None], (P, *o.arrays["directions"].shape))
        out = fn(
            torch.from_numpy(dirs.reshape(P * S, *dirs.shape[2:]).copy()),
            torch.from_numpy(W.reshape(P * S, *W.shape[2:])),
        ).numpy()
        return out.reshape(P, S, *out.shape[1:])

    return metric


def _baseline(o: Outcome, name: str) -> np.ndarray:
    key = f"baseline_{name}"
    if key not in o.arrays:
        raise ValueError("this metric compares with a baseline variant; set experiment.baseline")
    return o.arrays[key]


def _same_grid(o: Outcome, name: str) -> np.ndarray:
    b = _baseline(o, name)
    if b.shape[0] != len(o.points):
        raise ValueError(
            "this metric compares at equal grid points: the baseline needs the same grid "
            "(leave baseline_penalty / baseline_k empty)"
        )
    return b


def frontier_fvu(l0: np.ndarray, fvu: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The baseline's Pareto frontier (the lowest FVU of its points at this L0 or fewer) read at L0 = `at`.

    l0, fvu: the baseline's points (Pb,); at: query L0s. Between points the frontier is interpolated
    linearly in log L0 – log FVU (exact for a power law; linear interpolation of a convex frontier would
    overstate the baseline's error between grid points and so flatter the other variant). Below the
    baseline's smallest L0 the value at that smallest L0 is used — the baseline could only do worse
    with fewer latents, so a gain measured there is a lower bound; above its largest L0 the frontier is
    unknown and the result is NaN.
    """
    order = np.argsort(l0)
    xs, ys = np.asarray(l0, dtype=float)[order], np.asarray(fvu, dtype=float)[order]
    ys = np.minimum.accumulate(ys)  # the frontier: best FVU reachable with at most this L0
    at = np.asarray(at, dtype=float)
    tiny = 1e-300
    out = np.exp(np.interp(np.log(np.maximum(at, tiny)), np.log(np.maximum(xs, tiny)), np.log(np.maximum(ys, tiny))))
    return np.where(at > xs[-1], np.nan, out)


def _rescaled(o: Outcome, name: str) -> np.ndarray:
    if name not in o.arrays:
        raise ValueError("this metric reads the rescale-and-shift fit; set experiment.rescale_shift = true")
    return o.arrays[name]


def _frontier_gain(relative: bool, key: str = "fvu") -> Callable[[Outcome, Any], np.ndarray]:
    """(F_b − FVU)/F_b (or F_b − FVU), F_b the baseline's frontier at this side's L0; `key` names the
    FVU read on both sides ("rescaled_fvu": both with their shrinkage undone by the same fit)."""

    def metric(o: Outcome, _: Any) -> np.ndarray:
        l0 = o.arrays["l0"]  # (P, S)
        fvu = o.arrays["fvu"] if key == "fvu" else _rescaled(o, key)  # (P, S)
        bl0, bfvu = _baseline(o, "l0"), _baseline(o, key)  # (Pb, S)
        out = np.empty_like(fvu)
        for s in range(fvu.shape[1]):
            ref = frontier_fvu(bl0[:, s], bfvu[:, s], l0[:, s])
            out[:, s] = (ref - fvu[:, s]) / (ref if relative else 1.0)
        return out

    return metric


def _absorption_rate(o: Outcome, _: Any) -> np.ndarray:
    both = o.arrays["absorption_both"]
    return np.where(both > 0, o.arrays["absorption_silent"] / np.maximum(both, 1), np.nan)


def _flat(a: np.ndarray, instances: int) -> torch.Tensor:
    """(P, S, …) → (P·S, …) as a tensor."""
    return torch.from_numpy(np.ascontiguousarray(a).reshape(instances, *a.shape[2:]))


def _pair_cosine(which: str) -> Callable[[Outcome, Any], np.ndarray]:
    """child_decoder_parent: cos(child latent's atom, parent direction);
    parent_encoder_child: cos(parent latent's encoder row, child direction). Latents by Hungarian match."""

    def metric(o: Outcome, config: SAEConfig) -> np.ndarray:
        parent, child = config.absorption_pair

        def fn(dirs: torch.Tensor, W_dec: torch.Tensor, W_enc: torch.Tensor) -> torch.Tensor:
            match = match_features(dirs, W_dec).clamp_min(0)  # (I, F)
            if which == "child_decoder_parent":
                return column_cosine(W_dec, match[:, child], dirs, torch.full_like(match[:, 0], parent))
            return column_cosine(W_enc, match[:, parent], dirs, torch.full_like(match[:, 0], child))

        W_dec, W_enc = o.arrays["W_dec"], o.arrays["W_enc"]
        P, S = W_dec.shape[:2]
        dirs = np.broadcast_to(o.arrays["directions"][None], (P, *o.arrays["directions"].shape))
        return fn(_flat(dirs, P * S), _flat(W_dec, P * S), _flat(W_enc, P * S)).numpy().reshape(P, S)

    return metric


def _dead_peak(o: Outcome, _: Any) -> np.ndarray:
    h = o.arrays["dead_history"]
    return h.max(axis=-1) if h.shape[-1] else np.zeros(h.shape[:2])


sae_metrics: dict[str, Metric] = {
    "l0": Metric(_array("l0"), "mean number of active latents per sample (eval set)"),
    "l0_min": Metric(_array("l0_min"), "fewest active latents on any eval sample"),
    "l0_max": Metric(_array("l0_max"), "most active latents on any eval sample"),
    "mse": Metric(_array("mse"), "E‖x − x̂‖² (summed over dims)"),
    "fvu": Metric(_array("fvu"), "fraction of variance unexplained E‖x − x̂‖²/E‖x − x̄‖²"),
    "gamma": Metric(_array("gamma"), "relative reconstruction bias γ = E‖x̂‖²/E[x·x̂] (γ < 1: shrinkage)"),
    "shrinkage": Metric(lambda o, _: np.abs(1.0 - o.arrays["gamma"]), "|1 − γ|"),
    "dead_fraction": Metric(
        _array("dead_fraction"), "fraction of latents firing on fewer than alive_min_fires eval inputs (default 10)"
    ),
    "dead_fraction_peak": Metric(
        _dead_peak, "largest fraction of latents dead (no firing for dead_window steps) seen during training"
    ),
    "mmcs": Metric(_on_weights(mmcs), "mean over true features of the max cosine with any decoder atom"),
    "recovered_fraction": Metric(
        _on_weights(recovered_fraction), "fraction of true features with an atom at cosine ≥ 0.9"
    ),
    "matched_mmcs": Metric(
        _on_weights(matched_mmcs), "mean cosine of each true feature with its Hungarian-matched atom (one-to-one)"
    ),
    "absorption_rate": Metric(_absorption_rate, "P(parent's latent silent | parent and child active)"),
    "child_decoder_parent_cos": Metric(
        _pair_cosine("child_decoder_parent"), "cos(child latent's decoder atom, parent direction)"
    ),
    "parent_encoder_child_cos": Metric(
        _pair_cosine("parent_encoder_child"), "cos(parent latent's encoder row, child direction)"
    ),
    "baseline_gamma": Metric(lambda o, _: _same_grid(o, "gamma"), "the baseline's γ at the same grid point"),
    "shrinkage_ratio": Metric(
        lambda o, _: np.abs(1.0 - o.arrays["gamma"]) / np.abs(1.0 - _same_grid(o, "gamma")),
        "|1 − γ| / |1 − γ_baseline| at the same grid point and seed",
    ),
    "frontier_gain": Metric(
        _frontier_gain(False),
        "baseline frontier FVU at this L0 (its lowest FVU at this L0 or fewer, interpolated linearly in "
        "log L0–log FVU) minus this FVU (> 0: this variant reconstructs better at equal L0)",
    ),
    "relative_frontier_gain": Metric(_frontier_gain(True), "frontier_gain / baseline frontier FVU at this L0"),
    "rescaled_fvu": Metric(
        lambda o, _: _rescaled(o, "rescaled_fvu"),
        "FVU with shrinkage undone: active latents rescaled and shifted per latent, fitted by least squares (L0 kept)",
    ),
    "rescaled_gamma": Metric(
        lambda o, _: _rescaled(o, "rescaled_gamma"), "γ of that rescaled-and-shifted reconstruction"
    ),
    "relative_rescaled_frontier_gain": Metric(
        _frontier_gain(True, "rescaled_fvu"),
        "relative_frontier_gain with both sides' shrinkage undone by that fit (rescaled_fvu on both sides)",
    ),
}
sae_metrics.update(size_metrics)  # across dictionary sizes: feature splitting, scaling
