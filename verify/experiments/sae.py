"""The `sae` experiment: train SAEs on ground-truth activations and measure them against the truth.

Data (superposition_lab.ground_truth): n known unit directions in R^m (random, or orthogonal when
n ≤ m), sparse non-negative coefficients (U[lo, hi] or constant), an optional hierarchy. Each seed
draws its own directions; every grid point × seed is one instance of ONE batched SAE program of the
chosen `variant` (l1 | gated | jumprelu | topk; or `pca`, the top principal directions — a
non-sparse reference dictionary that is fitted, not trained). Grid axes: penalty (λ of l1/gated, the
L0 coefficient of jumprelu), k (topk), bandwidth (jumprelu ε), density.

A `baseline` variant, when named, is trained as a second program on the same directions, with its own
λ or K grid (`baseline_penalty`, `baseline_k`; by default the same grid) — so a spec can compare
variants: shrinkage at equal λ, or reconstruction at equal L0 along both Pareto frontiers.

After training, a fresh evaluation sample gives L0 (mean, min, max per sample), MSE, FVU, γ, the
dead fraction and absorption counts; decoder/encoder weights are kept for MMCS and cosines. All of
it lands in the Outcome, so every metric below reads arrays and never retrains.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import attrs
import numpy as np
import torch
from attrs import validators as v

from superposition_lab import sae_metrics as SM
from superposition_lab.ground_truth import GroundTruth, feature_directions
from superposition_lab.models import SAES
from superposition_lab.train import resolve_device, train
from verify.experiments import ExperimentKind, Metric, Outcome, RunContext, grid_points, save_figure, train_config

__all__ = ["SAEConfig", "run_sae", "SAE", "sae_metrics", "frontier_fvu"]

AXES = ("penalty", "k", "bandwidth", "density")
VARIANTS = tuple(SAES) + ("pca",)


def _each(check: Callable[[float], bool], what: str) -> Callable[[Any, attrs.Attribute, Any], None]:
    def validate(_: Any, attribute: attrs.Attribute, value: float | list[float]) -> None:
        for x in value if isinstance(value, list) else [value]:
            if not check(x):
                raise ValueError(f"'{attribute.name}' must be {what} (got {x!r})")

    return validate


@attrs.frozen
class SAEConfig:
    variant: str = attrs.field(validator=v.in_(VARIANTS))
    n_features: int = attrs.field(validator=v.ge(1))  # n true features
    n_dims: int = attrs.field(validator=v.ge(1))  # m, the activation dimension
    d_sae: int = attrs.field(validator=v.ge(1))  # dictionary size
    directions: str = attrs.field(default="random", validator=v.in_(("random", "orthogonal")))
    # data: each feature fires w.p. `density` (a grid axis), or per feature `firing` (conditional on
    # its parent in `parents`, −1 = none); an active coefficient is U[lo, hi] or constant = hi
    density: float | list[float] = attrs.field(default=0.1, validator=_each(lambda x: 0 < x <= 1, "in (0, 1]"))
    firing: list[float] = attrs.field(factory=list)
    parents: list[int] = attrs.field(factory=list)
    magnitude: str = attrs.field(default="uniform", validator=v.in_(("uniform", "constant")))
    lo: float = attrs.field(default=0.0, validator=v.ge(0))
    hi: float = attrs.field(default=1.0, validator=v.gt(0))
    # variant hyperparameters (the first three may be grid axes)
    penalty: float | list[float] = attrs.field(default=0.1, validator=_each(lambda x: x >= 0, ">= 0"))
    k: float | list[float] = attrs.field(default=4.0, validator=_each(lambda x: x >= 1 and x == int(x), "an integer >= 1"))
    bandwidth: float | list[float] = attrs.field(default=0.05, validator=_each(lambda x: x > 0, "> 0"))
    threshold_init: float = attrs.field(default=0.05, validator=v.gt(0))  # jumprelu θ at init
    aux_coeff: float = attrs.field(default=1 / 32, validator=v.ge(0))  # topk AuxK α (Gao et al. §A.2); 0 = off
    aux_k: int = attrs.field(default=0, validator=v.ge(0))  # topk k_aux; 0 = 2·max K
    dead_window: int = attrs.field(default=500, validator=v.ge(1))  # steps without firing = dead
    encoder_bias_init: float = 0.0  # b_enc at init; < 0 kills the latents whose atoms miss the data
    resample_every: int = attrs.field(default=0, validator=v.ge(0))  # l1 resampling period; 0 = off
    # l1: a revived atom starts along a high-loss input (Anthropic) or along that input's residual x − x̂
    resample_from: str = attrs.field(default="input", validator=v.in_(("input", "residual")))
    # l1: a revived encoder row's norm as a multiple of the mean alive row norm (Anthropic: 0.2)
    resample_scale: float = attrs.field(default=0.2, validator=v.gt(0))
    # a second variant trained on the same directions (empty = none)
    baseline: str = attrs.field(default="", validator=v.in_(VARIANTS + ("",)))
    baseline_penalty: list[float] = attrs.field(factory=list)  # its λ grid; empty = same as penalty
    baseline_k: list[float] = attrs.field(factory=list)  # its K grid; empty = same as k
    absorption_pair: list[int] = attrs.field(factory=lambda: [0, 1])  # (parent, child) scored for absorption
    seeds: int = attrs.field(default=1, validator=v.ge(1))
    steps: int = attrs.field(default=3000, validator=v.ge(0))  # 0 = the untrained (random) dictionary
    lr: float = attrs.field(default=5e-3, validator=v.gt(0))  # toy scale: converges in 1–2 thousand steps
    batch_size: int = attrs.field(default=512, validator=v.ge(1))  # toy scale: ample signal, 2× faster than 1024
    weight_decay: float = attrs.field(default=0.0, validator=v.ge(0))  # SAEs: no decay (it would shrink codes too)
    schedule: str = attrs.field(default="constant", validator=v.in_(("constant", "linear", "cosine")))
    warmup: int = attrs.field(default=0, validator=v.ge(0))
    eval_samples: int = attrs.field(default=65536, validator=v.ge(1))
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        if self.steps and self.warmup >= self.steps:
            raise ValueError(f"warmup: must be < steps (got warmup={self.warmup}, steps={self.steps})")
        if self.directions == "orthogonal" and self.n_features > self.n_dims:
            raise ValueError(f"directions: orthogonal needs n_features <= n_dims "
                             f"(got {self.n_features} > {self.n_dims})")
        ks = self.k if isinstance(self.k, list) else [self.k]
        if max(ks + list(self.baseline_k)) > self.d_sae:
            raise ValueError(f"k: K must be <= d_sae = {self.d_sae} (got {max(ks + list(self.baseline_k)):g})")
        if self.firing and len(self.firing) != self.n_features:
            raise ValueError(f"firing: need one rate per feature ({self.n_features}), got {len(self.firing)}")
        if any(not 0 <= p <= 1 for p in self.firing):
            raise ValueError("firing: rates must lie in [0, 1]")
        if self.parents and len(self.parents) != self.n_features:
            raise ValueError(f"parents: need one entry per feature ({self.n_features}), got {len(self.parents)}")
        for child, parent in enumerate(self.parents):
            if not -1 <= parent < child:
                raise ValueError(f"parents: feature {child}'s parent must be -1 or an earlier feature (got {parent})")
        if self.lo > self.hi:
            raise ValueError(f"lo: must be <= hi (got lo={self.lo}, hi={self.hi})")
        pair = self.absorption_pair
        if len(pair) != 2 or len(set(pair)) != 2 or not all(0 <= i < self.n_features for i in pair):
            raise ValueError(f"absorption_pair: need two distinct feature indices below {self.n_features}, got {pair}")


# ---------------------------------------------------------------- the variants' options
def _resample_steps(c: SAEConfig) -> list[int]:
    return list(range(c.resample_every, c.steps, c.resample_every)) if c.resample_every else []


# variant → its constructor options, from the config and the per-instance axis values `h`
_OPTIONS: dict[str, Callable[[SAEConfig, dict[str, list[float]]], dict[str, Any]]] = {
    "l1": lambda c, h: dict(penalty=h["penalty"], resample_at=_resample_steps(c), resample_from=c.resample_from,
                            resample_scale=c.resample_scale),
    "gated": lambda c, h: dict(penalty=h["penalty"]),
    "jumprelu": lambda c, h: dict(penalty=h["penalty"], bandwidth=h["bandwidth"], threshold_init=c.threshold_init),
    "topk": lambda c, h: dict(k=[int(x) for x in h["k"]], aux_coeff=c.aux_coeff, aux_k=c.aux_k),
}


class PCADictionary(torch.nn.Module):
    """The top principal directions of the data as a dictionary: f = Vᵀ(x − x̄), x̂ = V f + x̄.

    A reference, not an SAE: it reconstructs as well as any rank-d linear map can, with dense codes.
    d = min(d_sae, m). Same attribute names as an SAE so that the evaluation reads both.
    """

    def __init__(self, x: torch.Tensor, d: int) -> None:  # x (I, B, H)
        super().__init__()
        mean = x.mean(dim=1)  # (I, H)
        cov = torch.einsum("ibh,ibk->ihk", x - mean[:, None], x - mean[:, None]) / x.shape[1]  # (I, H, H)
        _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
        V = vecs.flip(-1)[..., :d]  # (I, H, d) top-d principal directions
        self.W_dec, self.W_enc = V, V.clone()
        self.b_dec, self.b_enc = mean, torch.zeros(V.shape[0], d, dtype=V.dtype, device=V.device)
        self.dead_history: list[tuple[int, list[float]]] = []

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.bmm(x - self.b_dec[:, None], self.W_enc)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        return torch.bmm(f, self.W_dec.transpose(1, 2)) + self.b_dec[:, None]


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
    return {a: [float(p.get(a, getattr(c, a))) for p in points for _ in range(c.seeds)]
            for a in ("penalty", "k", "bandwidth")}


@torch.no_grad()
def _evaluate(model: Any, data: GroundTruth, c: SAEConfig, generator: torch.Generator) -> dict[str, np.ndarray]:
    """Streaming statistics over c.eval_samples fresh samples, each (I,) (or (I, D) for `fired`)."""
    parent, child = c.absorption_pair
    parent_latent = SM.match_features(data.directions, model.W_dec)[:, parent].clamp_min(0)  # (I,)
    I, D = model.W_dec.shape[0], model.W_dec.shape[-1]
    z = lambda: torch.zeros(I, dtype=torch.float64, device=data.directions.device)  # noqa: E731
    acc = dict(n=0, l0=z(), sq_err=z(), xhat_sq=z(), x_dot=z(), x_sq=z(), both=z(), silent=z())
    x_sum = torch.zeros(I, data.directions.shape[1], dtype=torch.float64, device=data.directions.device)
    fired = torch.zeros(I, D, dtype=torch.bool, device=data.directions.device)
    l0_min = torch.full((I,), 1 << 30, device=data.directions.device)
    l0_max = torch.zeros(I, dtype=torch.long, device=data.directions.device)
    done = 0
    while done < c.eval_samples:
        b = min(8192, c.eval_samples - done)
        coef, x = data.sample_with_coefficients(b, generator)  # (I, b, F), (I, b, H)
        f = model.encode(x)  # (I, b, D)
        x_hat = model.decode(f)
        per = SM.l0_per_sample(f)  # (I, b)
        acc["l0"] += per.sum(dim=1)
        l0_min = torch.minimum(l0_min, per.min(dim=1).values)
        l0_max = torch.maximum(l0_max, per.max(dim=1).values)
        acc["sq_err"] += ((x - x_hat) ** 2).sum(dim=(1, 2)).double()
        acc["xhat_sq"] += (x_hat * x_hat).sum(dim=(1, 2)).double()
        acc["x_dot"] += (x * x_hat).sum(dim=(1, 2)).double()
        acc["x_sq"] += (x * x).sum(dim=(1, 2)).double()
        x_sum += x.sum(dim=1).double()
        fired |= (f != 0).any(dim=1)
        both = (coef[..., parent] > 0) & (coef[..., child] > 0)  # (I, b)
        silent = torch.gather(f, 2, parent_latent[:, None, None].expand(-1, b, 1))[..., 0] == 0
        acc["both"] += both.sum(dim=1)
        acc["silent"] += (both & silent).sum(dim=1)
        done += b
    n = float(done)
    var = acc["x_sq"] - (x_sum**2).sum(dim=1) / n  # Σ‖x − x̄‖²
    out = {
        "l0": acc["l0"] / n, "l0_min": l0_min.double(), "l0_max": l0_max.double(),
        "mse": acc["sq_err"] / n, "fvu": acc["sq_err"] / var,
        "gamma": acc["xhat_sq"] / acc["x_dot"],
        "dead_fraction": (~fired).double().mean(dim=1),
        "absorption_both": acc["both"], "absorption_silent": acc["silent"],
    }
    return {k: t.cpu().numpy() for k, t in out.items()}


def _train_side(c: SAEConfig, points: list[dict[str, float]], directions: torch.Tensor,
                device: torch.device, progress: Callable[[int], None] | None) -> dict[str, np.ndarray]:
    """Train (or fit) one variant at every point × seed; arrays with leading axes (P, S)."""
    P, S = len(points), c.seeds
    I = P * S
    data = _ground_truth(c, points, directions)
    data_gen = torch.Generator(device=device).manual_seed(c.seed + 1)
    if c.variant == "pca":
        model: Any = PCADictionary(data.sample(c.eval_samples, data_gen), min(c.d_sae, c.n_dims))
    else:
        model = SAES[c.variant](I, c.n_dims, c.d_sae, generator=torch.Generator(device=device).manual_seed(c.seed),
                                device=device, dead_window=c.dead_window, encoder_bias_init=c.encoder_bias_init,
                                **_OPTIONS[c.variant](c, _per_instance(c, points)))
        cfg = train_config(c)
        if c.steps:
            train(model, data, torch.ones(I, c.n_dims, device=device), cfg, generator=data_gen, progress=progress)
    stats = _evaluate(model, data, c, torch.Generator(device=device).manual_seed(c.seed + 2))
    arrays = {k: a.reshape(P, S, *a.shape[1:]) for k, a in stats.items()}
    for name in ("W_dec", "W_enc", "b_enc", "b_dec"):
        t = getattr(model, name).detach().cpu().double().numpy()
        arrays[name] = t.reshape(P, S, *t.shape[1:])
    hist = model.dead_history
    arrays["dead_history"] = (np.array([h[1] for h in hist]).T.reshape(P, S, len(hist)) if hist
                              else np.zeros((P, S, 0)))
    arrays["dead_history_steps"] = np.array([h[0] for h in hist], dtype=np.int64)
    return arrays


def run_sae(config: SAEConfig, ctx: RunContext) -> Outcome:
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
    directions = feature_directions(config.seeds, config.n_dims, config.n_features, kind=config.directions,
                                    generator=torch.Generator(device=device).manual_seed(config.seed + 3),
                                    device=device)  # (S, H, F)
    sides = [(config, points)]
    if config.baseline:
        base = attrs.evolve(config, variant=config.baseline, penalty=config.baseline_penalty or config.penalty,
                            k=config.baseline_k or config.k)
        sides.append((base, grid_points(base, AXES) or [{}]))
    total = sum(c.steps for c, _ in sides if c.variant != "pca")
    progress: Callable[[int], None] | None = None
    if ctx.progress is not None and total:
        ctx.progress(0, total)
        progress = lambda n: ctx.progress(n, total)  # noqa: E731
    arrays = _train_side(config, points, directions, device, progress)
    info: dict[str, Any] = {"device": str(device), "instances": len(points) * config.seeds}
    if config.baseline:
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


def _on_weights(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], name: str = "W_dec",
                ) -> Callable[[Outcome, Any], np.ndarray]:
    """Lift fn(directions (I, H, F), W (I, H, D)) → (I, …) to the Outcome's (P, S, …) layout."""

    def metric(o: Outcome, _: Any) -> np.ndarray:
        W = o.arrays[name]
        P, S = W.shape[:2]
        dirs = np.broadcast_to(o.arrays["directions"][None], (P, *o.arrays["directions"].shape))
        out = fn(torch.from_numpy(dirs.reshape(P * S, *dirs.shape[2:]).copy()),
                 torch.from_numpy(W.reshape(P * S, *W.shape[2:]))).numpy()
        return out.reshape(P, S, *out.shape[1:])

    return metric


def _baseline(o: Outcome, name: str) -> np.ndarray:
    key = f"baseline_{name}"
    if key not in o.arrays:
        raise ValueError(f"this metric compares with a baseline variant; set experiment.baseline")
    return o.arrays[key]


def _same_grid(o: Outcome, name: str) -> np.ndarray:
    b = _baseline(o, name)
    if b.shape[0] != len(o.points):
        raise ValueError("this metric compares at equal grid points: the baseline needs the same grid "
                         "(leave baseline_penalty / baseline_k empty)")
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


def _pair_cosine(which: str) -> Callable[[Outcome, Any], np.ndarray]:
    """child_decoder_parent: cos(child latent's atom, parent direction);
    parent_encoder_child: cos(parent latent's encoder row, child direction). Latents by Hungarian match."""

    def metric(o: Outcome, config: SAEConfig) -> np.ndarray:
        parent, child = config.absorption_pair

        def fn(dirs: torch.Tensor, W_dec: torch.Tensor, W_enc: torch.Tensor) -> torch.Tensor:
            match = SM.match_features(dirs, W_dec).clamp_min(0)  # (I, F)
            if which == "child_decoder_parent":
                return SM.column_cosine(W_dec, match[:, child], dirs, torch.full_like(match[:, 0], parent))
            return SM.column_cosine(W_enc, match[:, parent], dirs, torch.full_like(match[:, 0], child))

        W_dec, W_enc = o.arrays["W_dec"], o.arrays["W_enc"]
        P, S = W_dec.shape[:2]
        dirs = np.broadcast_to(o.arrays["directions"][None], (P, *o.arrays["directions"].shape))
        flat = lambda a: torch.from_numpy(np.ascontiguousarray(a).reshape(P * S, *a.shape[2:]))  # noqa: E731
        return fn(flat(dirs), flat(W_dec), flat(W_enc)).numpy().reshape(P, S)

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
    "dead_fraction_peak": Metric(_dead_peak, "largest fraction of latents dead (no firing for dead_window "
                                             "steps) seen during training"),
    "mmcs": Metric(_on_weights(SM.mmcs), "mean over true features of the max cosine with any decoder atom"),
    "recovered_fraction": Metric(_on_weights(SM.recovered_fraction), "fraction of true features with an atom "
                                                                     "at cosine ≥ 0.9"),
    "matched_mmcs": Metric(_on_weights(SM.matched_mmcs), "mean cosine of each true feature with its "
                                                         "Hungarian-matched atom (one-to-one)"),
    "absorption_rate": Metric(_absorption_rate, "P(parent's latent silent | parent and child active)"),
    "child_decoder_parent_cos": Metric(_pair_cosine("child_decoder_parent"),
                                       "cos(child latent's decoder atom, parent direction)"),
    "parent_encoder_child_cos": Metric(_pair_cosine("parent_encoder_child"),
                                       "cos(parent latent's encoder row, child direction)"),
    "baseline_gamma": Metric(lambda o, _: _same_grid(o, "gamma"), "the baseline's γ at the same grid point"),
    "shrinkage_ratio": Metric(lambda o, _: np.abs(1.0 - o.arrays["gamma"]) / np.abs(1.0 - _same_grid(o, "gamma")),
                              "|1 − γ| / |1 − γ_baseline| at the same grid point and seed"),
    "frontier_gain": Metric(_frontier_gain(False), "baseline frontier FVU at this L0 minus this FVU "
                                                   "(> 0: this variant reconstructs better at equal L0)"),
    "relative_frontier_gain": Metric(_frontier_gain(True), "frontier_gain / baseline frontier FVU at this L0"),
}


# ---------------------------------------------------------------- plot
def plot_sae(outcome: Outcome, config: SAEConfig, out_dir: Path, stem: str) -> list[Path]:
    """L0–FVU Pareto frontier(s), γ against the swept knob, and the true-feature × atom cosine matrix."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from analytic import sae as analytic_sae

    a = outcome.arrays
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    sides = [(config.variant, outcome.points, a.get("l0"), a.get("fvu"), a.get("gamma"))]
    if "baseline_l0" in a:
        sides.append((config.baseline, outcome.info.get("baseline_points", []), a["baseline_l0"],
                      a["baseline_fvu"], a["baseline_gamma"]))
    knob = next((ax for ax in ("penalty", "k", "bandwidth", "density") if outcome.points and ax in outcome.points[0]), None)
    for name, points, l0, fvu, gamma in sides:
        order = np.argsort(l0.mean(axis=1))
        axes[0].plot(l0.mean(axis=1)[order], fvu.mean(axis=1)[order], "o-", label=name)
        axes[0].scatter(l0.ravel(), fvu.ravel(), s=6, alpha=0.4)
        if knob and points and knob in points[0]:
            xs = np.array([p[knob] for p in points])
            axes[1].plot(xs, gamma.mean(axis=1), "o-", label=name)
    closed_form = (knob == "penalty" and config.directions == "orthogonal" and "l1" in (config.variant, config.baseline)
                   and config.magnitude == "uniform" and config.hi > config.lo)
    if closed_form:  # the L1 closed forms hold for orthogonal features only
        lam = np.linspace(0, max(p["penalty"] for _, pts, *_ in sides for p in pts), 100)
        axes[1].plot(lam, analytic_sae.l1_gamma_uniform(lam, config.lo, config.hi), "k--", lw=1,
                     label="L1 closed form, b_dec = 0 (orthogonal)")
        if not config.firing and not isinstance(config.density, list):
            axes[1].plot(lam, analytic_sae.l1_gamma_learned_bias(lam, config.density, config.lo, config.hi),
                         "k:", lw=1, label="L1 closed form, learned b_dec (orthogonal)")
    axes[0].set(xlabel="L0", ylabel="FVU", title="Pareto frontier (mean over seeds)", yscale="log")
    axes[1].axhline(1.0, color="grey", lw=0.5)
    axes[1].set(xlabel=knob or "", ylabel="γ = E‖x̂‖²/E[x·x̂]", title="shrinkage")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    # the cosine matrix of seed 0 at the grid point where its matched MMCS is highest
    best = int(np.argmax(sae_metrics["matched_mmcs"].fn(outcome, config)[:, 0]))
    W, dirs = a["W_dec"][best, 0], a["directions"][0]  # (H, D), (H, F)
    C = SM.cosine_matrix(torch.from_numpy(dirs[None]), torch.from_numpy(W[None]))[0].numpy()  # (F, D)
    match = SM.match_features(torch.from_numpy(dirs[None]), torch.from_numpy(W[None]))[0].numpy()
    cols = [j for j in match if j >= 0] + [j for j in range(C.shape[1]) if j not in set(match)]
    im = axes[2].imshow(C[:, cols], cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    axes[2].set(xlabel="decoder atom (matched first)", ylabel="true feature",
                title=f"cosines, {', '.join(f'{k}={x:g}' for k, x in outcome.points[best].items()) or 'seed 0'}")
    axes[2].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[2].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    fig.suptitle(f"{stem}: {config.variant}, n={config.n_features}, m={config.n_dims}, d_sae={config.d_sae}", fontsize=9)
    return save_figure(fig, out_dir, stem)


SAE = ExperimentKind(
    name="sae",
    config=SAEConfig,
    run=run_sae,
    metrics=sae_metrics,
    axes=AXES,
    plot=plot_sae,
    doc="SAEs (l1, gated, jumprelu, topk; pca reference) trained on ground-truth sparse features",
)
