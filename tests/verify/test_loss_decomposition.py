"""The loss_decomposition experiment: the z-score detects a wrong model, rare terms are not judged."""

from __future__ import annotations

import numpy as np

from verify.experiments import loss_decomposition
from verify.kind import RunContext


def _z(**kw) -> float:
    cfg = loss_decomposition.LossDecompositionConfig(mc_samples=100_000, **kw)
    out = loss_decomposition.run_loss_decomposition(cfg, RunContext(device="cpu"))
    return float(loss_decomposition.LOSS_DECOMPOSITION.metrics["mc_z_score"].fn(out, cfg)[0, 0])


def test_relu_formula_matches_relu_model_and_not_linear_model() -> None:
    assert _z(model="relu_output", n_features=4, n_hidden=2, sparsity=0.5, seed=3) < 5
    # the same draw with the Monte Carlo side on the linear model: the ReLU formula must disagree
    assert _z(model="linear", n_features=4, n_hidden=2, sparsity=0.5, seed=3) > 20


def test_rare_terms_are_not_judged() -> None:
    """Regression: a k=5 term seen ~15 times out of 200k gave z = 6.6 from a noisy standard error."""
    cfg = loss_decomposition.LossDecompositionConfig(n_features=5, n_hidden=1, sparsity=0.8515625, seed=1_000_000)
    out = loss_decomposition.run_loss_decomposition(cfg, RunContext(device="cpu"))
    assert out.arrays["expected_events"][0, 0, 5] < loss_decomposition.MIN_EVENTS
    assert loss_decomposition.LOSS_DECOMPOSITION.metrics["mc_z_score"].fn(out, cfg)[0, 0] < 5
    np.testing.assert_allclose(out.arrays["exact_total"], out.arrays["mc_total"], rtol=0.02)
