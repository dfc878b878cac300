"""The `abs_value` kind: a tiny run, and its neuron metrics on hand-made weights."""

from __future__ import annotations

import numpy as np
import pytest

from verify.experiments.abs_value import AbsValueConfig, abs_value_metrics, constant_output_error, run_abs_value
from verify.kind import Outcome, RunContext
from verify.spec import converter


def _config(**kw) -> AbsValueConfig:
    raw = dict(n_features=3, n_hidden=6, steps=60, batch_size=128, eval_samples=4096)
    return converter.structure({**raw, **kw}, AbsValueConfig)


def test_tiny_run_shapes_and_best_restart() -> None:
    cfg = _config(sparsity=[0.0, 0.9], seeds=2, restarts=2)
    o = run_abs_value(cfg, RunContext(device="cpu"))
    assert o.points == [{"sparsity": 0.0}, {"sparsity": 0.9}]
    shapes = {k: v.shape for k, v in o.arrays.items()}
    assert shapes == {
        "W1": (2, 2, 6, 3),
        "W2": (2, 2, 3, 6),
        "b1": (2, 2, 6),
        "b2": (2, 2, 3),
        "loss": (2, 2),
        "feature_error": (2, 2, 3),
        "restart_loss": (2, 2, 2),
    }
    assert np.array_equal(o.arrays["loss"], o.arrays["restart_loss"].min(axis=-1))  # the kept restart
    # the loss is Σ_i I_i E[(|x_i| − y_i)²] with I = 1
    assert np.allclose(o.arrays["loss"], o.arrays["feature_error"].sum(axis=-1))
    for name, metric in abs_value_metrics.items():
        assert metric.fn(o, cfg).shape[:2] == (2, 2), name
    # the same seed gives the same numbers (CPU)
    again = run_abs_value(cfg, RunContext(device="cpu"))
    assert o.digest() == again.digest()


def _outcome(W1: list[list[float]], error: list[float] | None = None) -> Outcome:
    """One grid point, one seed, hand-made W1 (H, F)."""
    W = np.array(W1, dtype=float)[None, None]
    H, F = W.shape[2:]
    err = np.array(error if error is not None else [0.0] * F)[None, None]
    return Outcome(points=[{}], arrays={"W1": W, "feature_error": err, "loss": err.sum(-1)})


def _measure(o: Outcome, cfg: AbsValueConfig, name: str) -> np.ndarray:
    return abs_value_metrics[name].fn(o, cfg)[0, 0]


def test_neuron_metrics_on_hand_made_weights() -> None:
    cfg = _config()
    o = _outcome(
        [
            [1.0, 0.0, 0.1],  # ReLU(x_0), monosemantic (purity 1/1.01)
            [-0.9, 0.0, 0.0],  # ReLU(−x_0)
            [0.0, 1.2, 0.0],  # ReLU(x_1)
            [0.0, 0.7, -0.7],  # polysemantic: ReLU(x_1 − x_2), purity 1/2
            [0.0, -0.1, 0.2],  # dead: no weight above 0.5
            [0.0, 0.0, -0.8],  # ReLU(−x_2)
        ]
    )
    assert _measure(o, cfg, "neuron_sign").tolist() == [1, -1, 1, 1, 1, -1]  # a tie goes to the first feature
    assert _measure(o, cfg, "neuron_feature").tolist()[:3] == [0, 0, 1]
    assert _measure(o, cfg, "neuron_purity")[3] == pytest.approx(0.5)
    assert _measure(o, cfg, "n_monosemantic") == 4 and _measure(o, cfg, "n_polysemantic") == 1
    assert _measure(o, cfg, "polysemantic_fraction") == pytest.approx(1 / 5)
    assert _measure(o, cfg, "pos_neurons").tolist() == [1, 1, 0]
    assert _measure(o, cfg, "neg_neurons").tolist() == [1, 0, 1]
    assert _measure(o, cfg, "both_signs").tolist() == [True, False, False]
    assert _measure(o, cfg, "features_with_both") == 1 and _measure(o, cfg, "dedicated_prefix") == 1
    assert _measure(o, cfg, "n_features_read") == 3
    # a stricter purity makes neuron 0 (purity 0.99) polysemantic too
    strict = _config(purity=0.995)
    assert _measure(o, strict, "n_polysemantic") == 2 and _measure(o, strict, "dedicated_prefix") == 0


def test_dedicated_prefix_stops_at_the_first_gap() -> None:
    cfg = _config(n_features=3)
    o = _outcome([[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 1.0], [0, 0, -1.0], [0, 0.1, 0], [0, 0, 0]])
    assert _measure(o, cfg, "features_with_both") == 2 and _measure(o, cfg, "dedicated_prefix") == 1


def test_error_ratio_against_the_best_constant() -> None:
    assert constant_output_error(1.0) == pytest.approx(1 / 12)  # Var(|U[−1, 1]|)
    cfg = _config(sparsity=0.9)
    o = _outcome([[1.0, 0, 0]] * 6, error=[0.0, constant_output_error(0.1), 0.5 * constant_output_error(0.1)])
    assert _measure(o, cfg, "feature_error_ratio") == pytest.approx([0.0, 1.0, 0.5])


def test_polysemantic_rise_is_sparsest_minus_densest() -> None:
    cfg = _config(n_features=2, n_hidden=2, sparsity=[0.0, 0.9])
    poly = [[0.7, 0.7], [0.7, -0.7]]  # two neurons reading both features
    mono = [[1.0, 0.0], [0.0, -1.0]]
    # grid points listed sparse first: the metric orders them by sparsity, not by position
    o = Outcome(points=[{"sparsity": 0.9}, {"sparsity": 0.0}], arrays={"W1": np.array([[poly], [mono]])})
    rise = abs_value_metrics["polysemantic_rise"].fn(o, cfg)
    assert rise.shape == (2, 1) and (rise == 2).all()
    o.arrays["W1"] = np.array([[mono], [poly]])
    assert (abs_value_metrics["polysemantic_rise"].fn(o, cfg) == -2).all()
