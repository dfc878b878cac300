"""The `sae` experiment: train SAEs on ground-truth activations and measure them against the truth.

Data (superposition_lab.ground_truth): n known unit directions in R^m (random, or orthogonal when
n ≤ m), sparse non-negative coefficients (U[lo, hi] or constant), an optional hierarchy (Chanin et
al. 2024, toy model). Each seed draws its own directions; every grid point × seed is one instance of
ONE batched SAE program of the chosen variant (verify/experiments/sae_config.py: l1 | gated |
jumprelu | topk, or pca — the principal-component dictionary, fitted, not trained). A `baseline`
variant is a second program on the same directions.

After training, a fresh evaluation sample streams through `SAEStatistics`
(superposition_lab.sae_metrics): L0 (mean, fewest and most per sample), MSE, FVU, γ (Rajamanoharan
et al. 2024, §5), the dead fraction and absorption counts; decoder/encoder weights are kept for MMCS
and cosines (Sharkey et al. 2022). All of it lands in the Outcome, so every metric below reads arrays
and never retrains. The figure is verify/experiments/sae_plot.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from superposition_lab.ground_truth import GroundTruth, feature_directions
from superposition_lab.models import SAES
from superposition_lab.models.pca import PCADictionary
from superposition_lab.sae_metrics import (
    SAEStatistics,
    column_cosine,
    match_features,
    matched_mmcs,
    mmcs,
    recovered_fraction,
)
from superposition_lab.train import resolve_device, train
from verify.experiments.sae_config import AXES, PCAVariant, SAEConfig
from verify.experiments.sae_plot import plot_sae
from verify.kind import ExperimentKind, Metric, Outcome, RunContext, grid_points
from verify.registry import EXPERIMENTS

__all__ = ["SAEConfig", "run_sae", "SAE", "sae_metrics", "frontier_fvu", "plot_sae"]

EVAL_BATCH = 8192  # evaluation samples per streamed batch


# ---------------------------------------------------------------- running
def _ground_truth(c: SAEConfig, points: list[dict[str, float]], directions: torch.Tensor) -> GroundTruth:
    """The data of every instance, ordered (point, seed); directions (S, H, F) are shared by points."""
    P, S = len(points), c.seeds
    D = directions.repeat(P, 1, 1)  # (P·S, H, F): instance p·S + s uses seed s's directions
    if c.firing:
        firing = torch.tensor(c.firing, dtype=D.dtype).expand(P * S, -1).clone()
    else:
        dens = torch.tensor([p.get("density", c.density) for p in points for _ in range(S)], dtype=D.dtype)
        firing = dens[:, None].expand(-1, c.n_features).clone()  # (I, F)
    return GroundTruth(D, firing.to(D.device), tuple(c.parents), c.magnitude, c.lo, c.hi)


def _per_instance(c: SAEConfig, points: list[dict[str, float]]) -> dict[str, list[float]]:
    """The value of each axis the variant reads, per instance (point, seed)."""
    return {a: [float(p.get(a, getattr(c, a))) for p in points for _ in range(c.seeds)] for a in c.variant.axes}


@torch.no_grad()
def _evaluate(model: Any, data: GroundTruth, c: SAEConfig, generator: torch.Generator) -> dict[str, np.ndarray]:
    """The SAEStatistics of c.eval_samples fresh samples, each (I,)."""
    parent, child = c.absorption_pair
    parent_latent = match_features(data.directions, model.W_dec)[:, parent].clamp_min(0)  # (I,)
    stats = SAEStatistics(model.W_dec.shape[0], c.n_dims, model.W_dec.shape[-1], data.directions.device)
    done = 0
    while done < c.eval_samples:
        b = min(EVAL_BATCH, c.eval_samples - done)
        coef, x = data.sample_with_coefficients(b, generator)  # (I, b, F), (I, b, H)
        f = model.encode(x)  # (I, b, D)
        stats.add(x, model.decode(f), f)
        stats.add_absorption(coef, f, parent, child, parent_latent)
        done += b
    out = {
        "l0": stats.l0(),
        "l0_min": stats.l0_min(),
        "l0_max": stats.l0_max(),
        "mse": stats.mse(),
        "fvu": stats.fvu(),
        "gamma": stats.gamma(),
        "dead_fraction": stats.dead_fraction(),
        "absorption_both": stats.both,
        "absorption_silent": stats.silent,
    }
    return {k: t.cpu().numpy() for k, t in out.items()}


def _train_side(
    c: SAEConfig,
    points: list[dict[str, float]],
    directions: torch.Tensor,
    device: torch.device,
    progress: Callable[[int], None] | None,
) -> dict[str, np.ndarray]:
    """Train (or fit) one variant at every point × seed; arrays with leading axes (P, S)."""
    P, S = len(points), c.seeds
    data = _ground_truth(c, points, directions)
    data_gen = torch.Generator(device=device).manual_seed(c.seed + 1)
    if isinstance(c.variant, PCAVariant):
        model: Any = PCADictionary(data.sample(c.eval_samples, data_gen), min(c.d_sae, c.n_dims))
    else:
        model = SAES[c.variant.name](
            P * S,
            c.n_dims,
            c.d_sae,
            generator=torch.Generator(device=device).manual_seed(c.seed),
            device=device,
            dead_window=c.dead_window,
            encoder_bias_init=c.encoder_bias_init,
            **c.variant.model_options(_per_instance(c, points), c.steps),
        )
        if c.steps:
            train(
                model,
                data,
                torch.ones(P * S, c.n_dims, device=device),
                c.train_config(),
                generator=data_gen,
                progress=progress,
            )
    stats = _evaluate(model, data, c, torch.Generator(device=device).manual_seed(c.seed + 2))
    arrays = {k: a.reshape(P, S, *a.shape[1:]) for k, a in stats.items()}
    for name in ("W_dec", "W_enc", "b_enc", "b_dec"):
        t = getattr(model, name).detach().cpu().double().numpy()
        arrays[name] = t.reshape(P, S, *t.shape[1:])
    hist = model.dead_history
    arrays["dead_history"] = np.array([h[1] for h in hist]).T.reshape(P, S, len(hist)) if hist else np.zeros((P, S, 0))
    arrays["dead_history_steps"] = np.array([h[0] for h in hist], dtype=np.int64)
    return arrays


def run_sae(config: SAEConfig, ctx: RunContext) -> Outcome:
    """Train the variant (and the baseline, if any) at every grid point × seed and evaluate them."""
    # Toy-sized tensors: one CPU thread is fastest, and on a loaded machine two threads can be ~20×
    # slower (each op waits for a busy core). The setting is restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_sae(config, ctx)
    finally:
        torch.set_num_threads(threads)


def _run_sae(config: SAEConfig, ctx: RunContext) -> Outcome:
    start = time.perf_counter()
    device = resolve_device(ctx.device)
    points = grid_points(config, AXES) or [{}]
    directions = feature_directions(
        config.seeds,
        config.n_dims,
        config.n_features,
        kind=config.directions,
        generator=torch.Generator(device=device).manual_seed(config.seed + 3),
        device=device,
    )  # (S, H, F)
    sides = [(config, points)]
    if config.baseline is not None:
        base = config.baseline_config()
        sides.append((base, grid_points(base, AXES) or [{}]))
    total = sum(c.steps for c, _ in sides if not isinstance(c.variant, PCAVariant))
    progress = ctx.progress_for(total)
    arrays = _train_side(config, points, directions, device, progress)
    info: dict[str, Any] = {"device": str(device), "instances": len(points) * config.seeds}
    if config.baseline is not None:
        base, base_points = sides[1]
        for k, a in _train_side(base, base_points, directions, device, progress).items():
            arrays[f"baseline_{k}"] = a
        info["baseline_points"] = base_points
    arrays["directions"] = directions.cpu().double().numpy()  # (S, H, F)
    info["seconds"] = time.perf_counter() - start
    return Outcome(points=points, arrays=arrays, info=info)


# ---------------------------------------------------------------- metrics
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
    """The baseline's Pareto frontier (lowest FVU at each L0) read at L0 = `at`.

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


def _frontier_gain(relative: bool) -> Callable[[Outcome, Any], np.ndarray]:
    def metric(o: Outcome, _: Any) -> np.ndarray:
        l0, fvu = o.arrays["l0"], o.arrays["fvu"]  # (P, S)
        bl0, bfvu = _baseline(o, "l0"), _baseline(o, "fvu")  # (Pb, S)
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
    "dead_fraction": Metric(_array("dead_fraction"), "fraction of latents that never fire on the eval set"),
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
        "baseline frontier FVU at this L0 minus this FVU (> 0: this variant reconstructs better at equal L0)",
    ),
    "relative_frontier_gain": Metric(_frontier_gain(True), "frontier_gain / baseline frontier FVU at this L0"),
}


SAE = ExperimentKind(
    name="sae",
    config=SAEConfig,
    run=run_sae,
    metrics=sae_metrics,
    axes=AXES,
    plot=plot_sae,
    doc="SAEs (l1, gated, jumprelu, topk; pca reference) trained on ground-truth sparse features",
)

EXPERIMENTS.register(SAE.name, SAE)
