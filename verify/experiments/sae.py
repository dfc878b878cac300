"""The `sae` experiment: train SAEs on ground-truth activations and measure them against the truth.

Data (superposition_lab.ground_truth): n known unit directions in R^m (random, or orthogonal when
n ≤ m), sparse non-negative coefficients (U[lo, hi] or constant), an optional hierarchy (Chanin et
al. 2024, toy model). Each seed draws its own directions; every grid point × seed is one instance of
ONE batched SAE program of the chosen variant (verify/experiments/sae_config.py: l1 | gated |
jumprelu | topk, or pca — the principal-component dictionary, fitted, not trained). A `baseline`
variant is a second program on the same directions. A list of `d_sae` values is a grid axis run as
one program per size, its latent axes zero-padded to the largest (`_merge_sizes`). Each program is
one part of the run (`SAE_PARTS`): another executor trains them as separate jobs. With `variants`,
the first features are variants of one direction d0 (ground_truth.feature_variants); the code of each
variant alone is kept (`family_response`) for the feature-splitting metrics (sae_size_metrics.py).

After training, a fresh evaluation sample streams through `SAEStatistics`
(superposition_lab.sae_metrics): L0 (mean, fewest and most per sample), MSE, FVU, γ (Rajamanoharan
et al. 2024, §5), the dead fraction and absorption counts; decoder/encoder weights are kept for MMCS
and cosines (Sharkey et al. 2022). With `rescale_shift`, a per-latent rescale and shift of the active
magnitudes is first fitted on other fresh inputs (superposition_lab.sae_rescale) and the repaired
reconstruction is scored on the same evaluation sample (FVU and γ). All of it lands in the Outcome,
so every metric below reads arrays and never retrains. The figure is verify/experiments/sae_plot.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import torch

from superposition_lab.ground_truth import GroundTruth, feature_directions, feature_variants
from superposition_lab.models import SAES
from superposition_lab.models.pca import PCADictionary
from superposition_lab.sae_metrics import (
    SAEStatistics,
    match_features,
)
from superposition_lab.sae_rescale import apply_rescale_shift, rescale_shift_equations, solve_rescale_shift
from superposition_lab.train import resolve_device, train
from verify.experiments.sae_config import AXES, PCAVariant, SAEConfig
from verify.experiments.sae_measures import sae_metrics
from verify.experiments.sae_plot import plot_sae
from verify.kind import ExperimentKind, Outcome, Parts, RunContext, grid_points, merged_info
from verify.registry import EXPERIMENTS

__all__ = ["run_sae", "run_sae_part", "merge_sae", "SAE_PARTS", "SAE"]

EVAL_BATCH = 8192  # evaluation samples per streamed batch
# inputs for the rescale-and-shift fit (at most eval_samples): 2 parameters per latent, so 16 384
# inputs leave each latent that fires at rate ≥ 1% over 160 of them; the fitted FVU, read on the
# evaluation set, is then within a fraction of a percent of the population optimum
RESCALE_FIT_SAMPLES = 16384


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
        if c.density_decay:  # feature i at density·(i + 1)^(−decay)
            firing *= torch.arange(1, c.n_features + 1, dtype=D.dtype) ** -c.density_decay
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
    fit_generator = torch.Generator(device=generator.device).manual_seed(c.seed + 4)  # its own inputs
    rescale = _fit_rescale_shift(model, data, c, fit_generator) if c.rescale_shift else None
    rescaled = SAEStatistics(model.W_dec.shape[0], c.n_dims, model.W_dec.shape[-1], data.directions.device)
    done = 0
    while done < c.eval_samples:
        b = min(EVAL_BATCH, c.eval_samples - done)
        coef, x = data.sample_with_coefficients(b, generator)  # (I, b, F), (I, b, H)
        f = model.encode(x)  # (I, b, D)
        stats.add(x, model.decode(f), f)
        stats.add_absorption(coef, f, parent, child, parent_latent)
        if rescale is not None:
            rescaled.add_reconstruction(x, model.decode(apply_rescale_shift(f, *rescale)))
        done += b
    out = {
        "l0": stats.l0(),
        "l0_min": stats.l0_min(),
        "l0_max": stats.l0_max(),
        "mse": stats.mse(),
        "fvu": stats.fvu(),
        "gamma": stats.gamma(),
        "dead_fraction": stats.dead_fraction(c.alive_min_fires),
        "absorption_both": stats.both,
        "absorption_silent": stats.silent,
    }
    if rescale is not None:
        out |= {"rescaled_fvu": rescaled.fvu(), "rescaled_gamma": rescaled.gamma()}
    if c.variants:  # the code of each family variant alone at the mean active magnitude: (I, V, D)
        mean = c.hi if c.magnitude == "constant" else (c.lo + c.hi) / 2
        out["family_response"] = model.encode(mean * data.directions[:, :, : c.variants].transpose(1, 2))
    return {k: t.cpu().numpy() for k, t in out.items()}


@torch.no_grad()
def _fit_rescale_shift(
    model: Any, data: GroundTruth, c: SAEConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-latent (scale, shift) (I, D) undoing the model's shrinkage, fitted on fresh inputs apart
    from the evaluation set (superposition_lab.sae_rescale)."""
    G = h = None
    done, n = 0, min(RESCALE_FIT_SAMPLES, c.eval_samples)
    while done < n:
        b = min(EVAL_BATCH, n - done)
        x = data.sample(b, generator)  # (I, b, H)
        G_b, h_b = rescale_shift_equations(x, model.encode(x), model.W_dec, model.b_dec)
        G, h = (G_b, h_b) if G is None or h is None else (G + G_b, h + h_b)
        done += b
    assert G is not None and h is not None
    return solve_rescale_shift(G, h)


def _train_side(
    c: SAEConfig,
    points: list[dict[str, float]],
    directions: torch.Tensor,
    device: torch.device,
    progress: Callable[[int], None] | None,
) -> dict[str, np.ndarray]:
    """Train (or fit) one variant at every point × seed; arrays with leading axes (P, S)."""
    P, S = len(points), c.seeds
    assert isinstance(c.d_sae, int), "one program per dictionary size (see _programs)"
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
                attrs.evolve(c.train_config(), shards=1),  # the suite's jobs already share the cores
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


LATENT_AXIS = {"W_enc": -1, "W_dec": -1, "b_enc": -1, "family_response": -1}  # arrays with a d_sae axis


def _merge_sizes(
    c: SAEConfig, points: list[dict[str, float]], parts: list[tuple[list[int], dict[str, np.ndarray]]]
) -> dict[str, np.ndarray]:
    """One side's arrays from its programs, one per dictionary size when `d_sae` is a grid axis (a
    batched program has one size): the rows put back in grid order and the latent axes zero-padded
    to the largest size."""
    if not isinstance(c.d_sae, list):
        return parts[0][1]
    D = max(c.d_sae)
    arrays: dict[str, np.ndarray] = {}
    for key, first in parts[0][1].items():
        if first.ndim < 2 or first.shape[:2] != (len(parts[0][0]), c.seeds):  # not per (point, seed)
            arrays[key] = first
            continue
        shape = list(first.shape)
        shape[0] = len(points)
        if key in LATENT_AXIS:
            shape[LATENT_AXIS[key]] = D
        out = np.zeros(shape, dtype=first.dtype)
        for rows, part in parts:
            a = part[key]
            out[(rows,) + tuple(slice(0, n) for n in a.shape[1:])] = a
        arrays[key] = out
    return arrays


@attrs.frozen
class _Program:
    """One batched program of a run: a side ("" the variant, "baseline_" its baseline) at one
    dictionary size, over the grid rows `rows` of that side's points."""

    prefix: str
    config: SAEConfig  # the side's config with d_sae fixed to this program's size
    side: SAEConfig  # the side's config as planned (d_sae possibly a list)
    points: list[dict[str, float]]  # the side's grid points
    rows: list[int]  # the points this program trains


def _programs(config: SAEConfig) -> list[_Program]:
    """The variant's programs, then the baseline's: one per dictionary size of each side."""
    sides = [("", config)] + ([("baseline_", config.baseline_config())] if config.baseline is not None else [])
    programs = []
    for prefix, c in sides:
        points = grid_points(c, AXES) or [{}]
        if not isinstance(c.d_sae, list):
            programs.append(_Program(prefix, c, c, points, list(range(len(points)))))
            continue
        for d in dict.fromkeys(int(p["d_sae"]) for p in points):
            rows = [i for i, p in enumerate(points) if int(p["d_sae"]) == d]
            programs.append(_Program(prefix, attrs.evolve(c, d_sae=d), c, points, rows))
    return programs


def _directions(config: SAEConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each seed's ground-truth directions (S, H, F) and, with `variants`, the family's d0 (S, H):
    drawn from seed + 3 alone, so every program of a run draws the same."""
    directions = feature_directions(
        config.seeds,
        config.n_dims,
        config.n_features + (config.variants > 0),  # a family draws d0 beside its offsets
        kind=config.directions,
        generator=torch.Generator(device=device).manual_seed(config.seed + 3),
        device=device,
    )
    if config.variants:
        return feature_variants(directions, config.variants, config.variant_spread)
    return directions, None


def run_sae_part(config: SAEConfig, part: int, ctx: RunContext) -> Outcome:
    """Program `part` of the run (`_programs`): trained (or fitted) and evaluated on one CPU thread.

    Toy-sized tensors: one CPU thread is fastest, and on a loaded machine two threads can be ~20×
    slower (each op waits for a busy core). The setting is restored afterwards.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        device = resolve_device(ctx.device)
        programs = _programs(config)
        program = programs[part]
        total = sum(p.config.steps for p in programs if not isinstance(p.config.variant, PCAVariant))
        directions, family = _directions(config, device)
        points = [program.points[i] for i in program.rows]
        arrays = _train_side(program.config, points, directions, device, ctx.progress_for(total))
        if part == 0:  # the run's data, kept once
            arrays["directions"] = directions.cpu().double().numpy()  # (S, H, F)
            if family is not None:
                arrays["family_direction"] = family.cpu().double().numpy()  # d0, (S, H)
        info = {"seconds": time.perf_counter() - start, "device": str(device), "instances": len(points) * config.seeds}
        return Outcome(points=points, arrays=arrays, info=info)
    finally:
        torch.set_num_threads(threads)


def merge_sae(config: SAEConfig, parts: list[Outcome]) -> Outcome:
    """The variant's arrays, the baseline's prefixed `baseline_`, and the directions."""
    programs = _programs(config)
    data = ("directions", "family_direction")  # the run's, kept by the first program only
    arrays = {k: a for k, a in parts[0].arrays.items() if k in data}
    for prefix in dict.fromkeys(p.prefix for p in programs):
        mine = [(p, o) for p, o in zip(programs, parts, strict=True) if p.prefix == prefix]
        per_program = [(p.rows, {k: a for k, a in o.arrays.items() if k not in data}) for p, o in mine]
        side = _merge_sizes(mine[0][0].side, mine[0][0].points, per_program)
        arrays |= {prefix + k: a for k, a in side.items()}
    info = merged_info(parts)
    info["instances"] = sum(o.info["instances"] for p, o in zip(programs, parts, strict=True) if not p.prefix)
    if config.baseline is not None:
        info["baseline_points"] = next(p.points for p in programs if p.prefix)
    return Outcome(points=programs[0].points, arrays=arrays, info=info)


SAE_PARTS = Parts(count=lambda config: len(_programs(config)), run=run_sae_part, merge=merge_sae)


def run_sae(config: SAEConfig, ctx: RunContext) -> Outcome:
    """Train the variant (and the baseline, if any) at every grid point × seed and evaluate them:
    each program in this process, one after another, merged."""
    return SAE_PARTS.run_parts(config, ctx)


SAE = ExperimentKind(
    name="sae",
    config=SAEConfig,
    run=run_sae,
    metrics=sae_metrics,
    axes=AXES,
    plot=plot_sae,
    doc="SAEs (l1, gated, jumprelu, topk; pca reference) trained on ground-truth sparse features",
    parts=SAE_PARTS,
)

EXPERIMENTS.register(SAE.name, SAE)
