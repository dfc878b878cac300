"""The toy kind's reconstruction metrics on hand-made weights (the TDS article's measurements)."""

from __future__ import annotations

import numpy as np
import pytest

from analytic import linear
from verify.experiments.reconstruction_metrics import reconstruction_metrics
from verify.experiments.toy import TOY, ToyConfig
from verify.kind import Outcome
from verify.spec import converter

IMPORTANCE = np.array([1.0, 0.7, 0.4, 0.1])  # linear from 1 to 0.1 over 4 features


def _config(model: str = "linear", sparsity: tuple[float, ...] = (0.1, 0.9)) -> ToyConfig:
    raw = dict(model=model, n_features=4, n_hidden=2, importance={"linear": [1.0, 0.1]}, sparsity=list(sparsity))
    return converter.structure(raw, ToyConfig)


def _outcome(W: np.ndarray, b: np.ndarray, sparsities: list[float], loss: np.ndarray | None = None) -> Outcome:
    """W (P, S, H, F), b (P, S, F) at the given sparsity points."""
    P, S = W.shape[:2]
    arrays = {"W": W, "b": b, "loss": np.ones((P, S)) if loss is None else loss}
    return Outcome(points=[{"sparsity": s} for s in sparsities], arrays=arrays)


def _linear_optimum(sparsities: list[float]) -> Outcome:
    """The optimal linear model at each point: W the top-2 coordinates, b the dropped features' means."""
    W = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    Ws = np.stack([W[None]] * len(sparsities))  # (P, 1, H, F)
    bs = np.stack([linear.optimal_bias(IMPORTANCE, 2, s)[None] for s in sparsities])  # (P, 1, F)
    loss = np.array([[linear.optimal_loss(IMPORTANCE, 2, s)] for s in sparsities])
    return _outcome(Ws, bs, sparsities, loss)


def test_registered_with_the_toy_kind() -> None:
    assert set(reconstruction_metrics) <= set(TOY.metrics)
    assert reconstruction_metrics["offdiag_growth"].sweep_wide


def test_linear_optimum_scores_as_the_closed_forms_say() -> None:
    sparsities = [0.1, 0.9]
    o, c = _linear_optimum(sparsities), _config()
    m = {name: np.asarray(metric.fn(o, c)) for name, metric in reconstruction_metrics.items()}
    assert np.allclose(m["linear_optimum_ratio"], 1.0)
    assert np.allclose(m["top_m_smallest_bias"], 1.0)
    assert np.allclose(m["mean_bias_ratio"], 1.0)
    assert np.allclose(m["offdiag_mass"], 0.0)
    # kept features are exact, dropped ones cost their variance (Monte Carlo, 2^17 draws)
    assert m["feature_error"].shape == (2, 1, 4)
    assert np.allclose(m["feature_error"][..., :2], 0.0)
    assert np.allclose(m["feature_error"][..., 2:], 1.0, atol=0.03)
    assert np.allclose(m["explained_features"], linear.max_explained_features(2), atol=0.05)


def test_offdiag_growth_divides_the_sparsest_point_by_the_densest() -> None:
    dense = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.1, 0.0]])  # one small overlap: 2·0.1² = 0.02
    sparse = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])  # two antipodal pairs: 4
    W = np.stack([sparse[None], dense[None]])  # points listed sparse first: the order must not matter
    o = _outcome(W, np.zeros((2, 1, 4)), [0.9, 0.1])
    c = _config(sparsity=(0.9, 0.1))
    assert reconstruction_metrics["offdiag_mass"].fn(o, c)[:, 0] == pytest.approx([4.0, 0.02])
    assert reconstruction_metrics["offdiag_growth"].fn(o, c)[:, 0] == pytest.approx([200.0, 200.0])
    # one point: no growth to measure — NaN, which a check reports as an error
    single = _outcome(W[:1], np.zeros((1, 1, 4)), [0.9])
    assert np.isnan(reconstruction_metrics["offdiag_growth"].fn(single, _config(sparsity=(0.9,)))).all()


def test_feature_error_runs_the_configured_model() -> None:
    """One neuron holding an antipodal pair, b = 0: the linear and the hidden-ReLU model err differently."""
    W = np.array([[[[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])  # (1, 1, H, F)
    o = _outcome(W, np.zeros((1, 1, 4)), [0.9])
    err = {
        model: reconstruction_metrics["feature_error"].fn(o, _config(model, (0.9,)))[0, 0]
        for model in ("linear", "relu_hidden")
    }
    # a feature predicted as 0 has error E[x²]/Var = (p/3)/(p/3 − p²/4) at p = 0.1; so does each feature
    # of the linear pair (x0' = x0 − x1 errs by x1)
    p = 0.1
    alone = (p / 3) / (p / 3 - p**2 / 4)
    assert err["linear"] == pytest.approx([alone] * 4, rel=0.05)
    # hidden ReLU: h = ReLU(x0 − x1) keeps x0 (wrong only when both fire) and loses x1
    assert err["relu_hidden"][0] < 0.2
    assert err["relu_hidden"][1:] == pytest.approx([alone] * 3, rel=0.05)


def test_top_m_smallest_bias_counts_the_top_features_among_the_smallest() -> None:
    b = np.array([[[0.0, 0.3, -0.1, 0.3]]])  # smallest two: features 2 and 0; top-2 are 0 and 1
    o = _outcome(np.zeros((1, 1, 2, 4)), b, [0.5])
    assert reconstruction_metrics["top_m_smallest_bias"].fn(o, _config(sparsity=(0.5,)))[0, 0] == 0.5
