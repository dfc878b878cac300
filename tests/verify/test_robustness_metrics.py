"""The toy kind's adversarial-robustness metrics (TMS "Superposition and Adversarial Robustness")."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from superposition_lab import adversarial as adv
from superposition_lab.data import SparseUniform
from verify.experiments import robustness_metrics as rm
from verify.experiments.toy import TOY, Importance, ToyConfig
from verify.kind import Outcome

SPARSITY = [0.0, 0.5, 0.9]


def _config(**kw) -> ToyConfig:
    base = dict(model="relu_output", n_features=4, n_hidden=2, importance=Importance(uniform=1.0), sparsity=SPARSITY)
    return ToyConfig(**{**base, **kw})


def _outcome(Ws: list[np.ndarray], bias: float = 0.0) -> Outcome:
    """One seed per point: W (P, 1, H, F), b = bias."""
    W = np.stack(Ws)[:, None]
    return Outcome(
        points=[{"sparsity": s} for s in SPARSITY[: len(Ws)]],
        arrays={"W": W, "b": np.full((W.shape[0], 1, W.shape[-1]), bias)},
    )


def _dedicated() -> np.ndarray:
    return np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])


def _antipodal() -> np.ndarray:  # two antipodal pairs in two dimensions: 1/D* = 2
    return np.array([[1.0, -1.0, 0, 0], [0, 0, 1.0, -1.0]])


def test_metrics_are_in_the_toy_table() -> None:
    for name in (
        "adversarial_vulnerability",
        "inverse_dstar",
        "vulnerability_rise",
        "vulnerability_correlation",
    ):
        assert TOY.metrics[name] is rm.robustness_metrics[name]
    assert rm.robustness_metrics["vulnerability_rise"].sweep_wide
    assert rm.robustness_metrics["vulnerability_correlation"].sweep_wide


def test_dedicated_model_is_the_reference() -> None:
    """Vulnerability 1 at every sparsity, no rise, and no correlation to report (1/D* is constant)."""
    o, c = _outcome([_dedicated()] * 3), _config()
    np.testing.assert_allclose(rm.vulnerability(o, c), 1.0, rtol=1e-5)
    np.testing.assert_allclose(rm.robustness_metrics["vulnerability_rise"].fn(o, c), 1.0, rtol=1e-5)
    np.testing.assert_allclose(rm.robustness_metrics["inverse_dstar"].fn(o, c), 1.0)
    assert np.isnan(rm.robustness_metrics["vulnerability_correlation"].fn(o, c)).all()


def test_superposed_points_are_more_vulnerable_and_correlate() -> None:
    """Dedicated → dedicated → two antipodal pairs: 1/D* goes 1, 1, 2, and so does the vulnerability."""
    o, c = _outcome([_dedicated(), _dedicated(), _antipodal()]), _config()
    v = rm.vulnerability(o, c)[:, 0]
    assert v[0] == pytest.approx(1.0, rel=1e-5) and v[2] > 2.0
    rise = rm.robustness_metrics["vulnerability_rise"].fn(o, c)
    assert rise.shape == (3, 1) and (rise == rise[0]).all() and rise[0, 0] == pytest.approx(v[2] / v[0])
    r = rm.robustness_metrics["vulnerability_correlation"].fn(o, c)
    assert r.shape == (3, 1) and r[0, 0] > 0.99


def test_the_metric_reads_the_model_and_the_importance() -> None:
    """The linear model has no output ReLU; geometric importance changes the reference ε²·max I."""
    o = _outcome([_antipodal()] * 3)
    relu = rm.vulnerability(o, _config())
    rm._CACHE.clear()
    linear = rm.vulnerability(o, _config(model="linear"))
    assert not np.allclose(relu, linear)
    rm._CACHE.clear()
    geometric = rm.vulnerability(o, _config(importance=Importance(geometric=0.5)))
    assert np.isfinite(geometric).all() and not np.allclose(relu, geometric)


def test_vulnerability_is_computed_once_per_outcome() -> None:
    o, c = _outcome([_dedicated(), _antipodal()]), _config(sparsity=SPARSITY[:2])
    assert rm.vulnerability(o, c) is rm.vulnerability(o, c)


def test_attack_samples() -> None:
    assert rm.attack_samples(4) == 4096
    assert rm.attack_samples(48) == 2**23 // (2 * 48 * 48)
    assert rm.attack_samples(400) == 512


@pytest.mark.parametrize(("n", "m", "density"), [(48, 6, 1 / 12), (48, 6, 1 / 2)])
def test_monte_carlo_error_is_small(n: int, m: int, density: float) -> None:
    """The standard error of the vulnerability with attack_samples(n) inputs, on a superposed model
    (a random 6-dimensional frame of 48 unit features, b = −0.1): a few % of the value, against the
    spec's thresholds (a rise of 3 where ≈ 12 is measured, r ≥ 0.9 where ≈ 0.99)."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(1, m, n, generator=g)
    W = W / W.norm(dim=1, keepdim=True)
    b = torch.full((1, n), -0.1)
    x = SparseUniform(torch.full((1, n), density)).sample(rm.attack_samples(n), g)
    imp = torch.ones(1, n)
    eps = adv.attack_norm(x)
    clean, worst = adv.worst_case_loss(W, b, x, imp, eps)
    increase = (worst - clean)[0] / adv.dedicated_increase(imp, eps)
    se = increase.std().item() / math.sqrt(increase.numel())
    assert se / increase.mean().item() < 0.05


def test_plot_writes_a_figure(tmp_path: Path) -> None:
    o, c = _outcome([_dedicated(), _dedicated(), _antipodal()]), _config()
    (path,) = rm.plot_adversarial(o, c, tmp_path, "adv")
    assert path.exists() and path.stat().st_size > 0
