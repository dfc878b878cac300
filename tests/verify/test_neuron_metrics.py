"""The toy kind's neuron metrics and figure on hand-made weights (TMS "Superposition in a Privileged Basis")."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.experiments.neuron_metrics import neuron_metrics, plot_neurons
from verify.experiments.toy import TOY, ToyConfig
from verify.kind import Outcome
from verify.spec import converter


def _config(model: str = "relu_hidden") -> ToyConfig:
    raw = dict(model=model, n_features=4, n_hidden=2, sparsity=[0.0, 0.5, 0.9], plots=["neurons"])
    return converter.structure(raw, ToyConfig)


def _outcome() -> Outcome:
    """Three grid points × one seed, 2 neurons × 4 features: dense = two dedicated neurons; middle =
    one dedicated + one shared by features 2 and 3; sparse = both shared."""
    W = np.array(
        [
            [[1.0, 0.0, 0.0, -0.2], [0.0, 1.0, 0.0, 0.0]],
            [[1.0, 0.0, 0.0, 0.0], [0.0, -0.5, 0.8, 0.8]],
            [[0.7, 0.7, 0.0, 0.0], [0.0, 0.0, 0.7, 0.7]],
        ]
    )[:, None]  # (P, S, H, F)
    points = [{"sparsity": s} for s in (0.0, 0.5, 0.9)]
    return Outcome(points=points, arrays={"W": W, "b": np.zeros((3, 1, 4))})


def _metric(name: str, model: str = "relu_hidden") -> np.ndarray:
    return neuron_metrics[name].fn(_outcome(), _config(model))


def test_metrics_are_in_the_toy_table() -> None:
    assert set(neuron_metrics) <= set(TOY.metrics)


def test_counts_per_grid_point() -> None:
    assert _metric("n_monosemantic")[:, 0].tolist() == [2, 1, 0]
    assert _metric("n_polysemantic")[:, 0].tolist() == [0, 1, 2]
    assert _metric("n_alive_neurons")[:, 0].tolist() == [2, 2, 2]
    assert _metric("monosemantic_features")[:, 0].tolist() == [
        [True, True, False, False],
        [True, False, False, False],
        [False, False, False, False],
    ]
    assert np.allclose(_metric("mean_neuron_feature_count")[:, 0], [1.0, 1.5, 2.0])
    assert _metric("neuron_purity").shape == (3, 1, 2)


def test_without_hidden_relu_negative_weights_count() -> None:
    # relu_output (h = Wx): the −0.2 and −0.5 weights now move the neuron, so the purities drop
    purity = _metric("neuron_purity", "relu_output")[:, 0]
    assert np.isclose(purity[0, 0], 1 / 1.04) and purity[1, 1] < _metric("neuron_purity")[1, 0, 1]
    assert _metric("n_monosemantic", "relu_output")[:, 0].tolist() == [2, 1, 0]


def test_coexistence_is_sweep_wide() -> None:
    assert neuron_metrics["neuron_coexistence"].sweep_wide
    assert _metric("neuron_coexistence")[:, 0].tolist() == [1, 1, 1]  # the middle point has one of each
    o = _outcome()
    o.arrays["W"] = o.arrays["W"][[0, 2]]  # all monosemantic, then all polysemantic: never side by side
    o.points = [o.points[0], o.points[2]]
    assert neuron_metrics["neuron_coexistence"].fn(o, _config())[:, 0].tolist() == [0, 0]


def test_plot_writes_one_png(tmp_path: Path) -> None:
    paths = plot_neurons(_outcome(), _config(), tmp_path, "x-neurons")
    assert paths == [tmp_path / "x-neurons.png"] and paths[0].stat().st_size > 1000
