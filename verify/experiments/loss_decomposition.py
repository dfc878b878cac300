"""The `loss_decomposition` experiment: the exact sparsity-pattern expansion vs Monte Carlo.

TMS "Mathematical Understanding": L = Σ_k p^k S^(n−k) L_k with L_0 = Σ_i I_i ReLU(b_i)². For one
random ReLU output model (W, b, importance drawn from `seed`), this compares each probability-
weighted term T_k of `analytic.relu_output.pattern_terms` and their sum with an unbiased Monte
Carlo estimate of the same quantity from `model` — the lab's torch model, so the analytic code and
the trained models are checked against each other. Meant to be driven by a hypothesis [property].
"""

from __future__ import annotations

import math
import time
from typing import Any

import attrs
import numpy as np
import torch
from attrs import validators as v

from analytic import relu_output
from superposition_lab.data import SparseUniform
from superposition_lab.models import MODELS
from verify.kind import ExperimentKind, Metric, Outcome, RunContext
from verify.registry import EXPERIMENTS

__all__ = ["LossDecompositionConfig", "LOSS_DECOMPOSITION"]


@attrs.frozen
class LossDecompositionConfig:
    model: str = attrs.field(default="relu_output", validator=v.in_(tuple(MODELS)))  # the Monte Carlo side
    n_features: int = attrs.field(default=3, validator=[v.ge(1), v.le(8)])  # exact cost ~ n·3^n
    n_hidden: int = attrs.field(default=2, validator=v.ge(1))
    sparsity: float = attrs.field(default=0.5, validator=[v.ge(0), v.lt(1)])
    weight_scale: float = attrs.field(default=1.0, validator=v.gt(0))  # W ~ N(0, scale²/m)
    bias_scale: float = attrs.field(default=0.5, validator=v.ge(0))  # b ~ N(0, scale²)
    mc_samples: int = attrs.field(default=200_000, validator=v.ge(1000))
    seed: int = 0


def _draw_model(config: LossDecompositionConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(config.seed)
    m, n = config.n_hidden, config.n_features
    W = torch.randn((m, n), generator=g, dtype=torch.float64) * config.weight_scale / m**0.5
    b = torch.randn((n,), generator=g, dtype=torch.float64) * config.bias_scale
    importance = 0.1 + 0.9 * torch.rand((n,), generator=g, dtype=torch.float64)
    return W.numpy(), b.numpy(), importance.numpy()


def run_loss_decomposition(config: LossDecompositionConfig, ctx: RunContext) -> Outcome:
    start = time.perf_counter()
    W, b, importance = _draw_model(config)
    n = config.n_features
    exact = relu_output.pattern_terms(W, b, importance, config.sparsity)  # (n+1,)
    l0 = relu_output.pattern_loss(W, b, importance, ())

    # Monte Carlo with the lab's own model, in float64 on the CPU
    model = MODELS[config.model](1, n, config.n_hidden, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        model.W.copy_(torch.from_numpy(W)[None])
        model.b.copy_(torch.from_numpy(b)[None])
    imp = torch.from_numpy(importance)[None]  # (1, F)
    sampler = SparseUniform(torch.full((1, n), 1.0 - config.sparsity, dtype=torch.float64))
    g = torch.Generator().manual_seed(config.seed + 1)
    with torch.no_grad():
        x = sampler.sample(config.mc_samples, g)  # (1, B, F)
        per_sample = ((x - model(x)) ** 2 * imp[:, None, :]).sum(-1)[0]  # (B,)
        active = (x[0] != 0).sum(-1)  # (B,)
        zero_loss = float(((model(torch.zeros(1, 1, n, dtype=torch.float64)) ** 2) * imp[:, None, :]).sum())
    # T_k = E[loss · 1{k active}]: unbiased, and the T_k add up to the total
    contrib = torch.stack([per_sample * (active == k) for k in range(n + 1)])  # (n+1, B)
    mc = contrib.mean(dim=1).numpy()
    se = (contrib.std(dim=1) / config.mc_samples**0.5).numpy()
    total_se = float(per_sample.std() / config.mc_samples**0.5)
    return Outcome(
        points=[{}],
        arrays={
            "exact_terms": exact[None, None],
            "mc_terms": mc[None, None],
            "mc_se": se[None, None],
            # how many Monte Carlo samples should have exactly k active features: N·C(n,k)p^k S^(n−k)
            "expected_events": np.array(
                [
                    [
                        [
                            config.mc_samples
                            * math.comb(n, k)
                            * (1 - config.sparsity) ** k
                            * config.sparsity ** (n - k)
                            for k in range(n + 1)
                        ]
                    ]
                ]
            ),
            "exact_total": np.array([[exact.sum()]]),
            "mc_total": np.array([[float(per_sample.mean())]]),
            "mc_total_se": np.array([[total_se]]),
            "l0_exact": np.array([[l0]]),
            "l0_model": np.array([[zero_loss]]),
        },
        info={"seconds": time.perf_counter() - start, "device": "cpu"},
    )


MIN_EVENTS = 1000


def _z_score(diff: np.ndarray, se: np.ndarray) -> np.ndarray:
    """|diff| / se, where a zero standard error is fine only for an exact match."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, np.abs(diff) / se, np.where(np.abs(diff) < 1e-12, 0.0, np.inf))


def _max_z(o: Outcome, _: Any) -> np.ndarray:
    a = o.arrays
    # A term seen in only a handful of samples has no usable standard error (its sample variance
    # is itself noise), so terms expected fewer than MIN_EVENTS times are reported, not judged;
    # their contribution is still in the total, which is always judged.
    z = _z_score(a["exact_terms"] - a["mc_terms"], a["mc_se"])
    z_terms = np.where(a["expected_events"] >= MIN_EVENTS, z, 0.0).max(axis=-1)
    z_total = _z_score(a["exact_total"] - a["mc_total"], a["mc_total_se"])
    return np.maximum(z_terms, z_total)


def _l0_error(o: Outcome, _: Any) -> np.ndarray:
    a = o.arrays
    return np.abs(a["l0_exact"] - a["l0_model"]) / np.maximum(np.abs(a["l0_model"]), 1e-12)


LOSS_DECOMPOSITION = ExperimentKind(
    name="loss_decomposition",
    config=LossDecompositionConfig,
    run=run_loss_decomposition,
    metrics={
        "mc_z_score": Metric(_max_z, "largest |exact − Monte Carlo| / standard error over the terms T_k and the total"),
        "l0_relative_error": Metric(_l0_error, "|L_0 exact − model loss at x = 0| / model loss at x = 0"),
        "exact_loss": Metric(lambda o, _: o.arrays["exact_total"], "exact expected loss of the drawn model"),
    },
    doc="exact sparsity-pattern expansion of the ReLU output loss vs Monte Carlo on a random model",
)

EXPERIMENTS.register(LOSS_DECOMPOSITION.name, LOSS_DECOMPOSITION)
