"""The geometry side of the `toy` experiment and the `polytope` experiment.

Most tests build Outcomes by hand — the configurations TMS describes, and their failures — and
judge the real specs' checks on them, so each claim's verdict is shown to flip without training.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest

from analytic import polytopes
from tests.conftest import SPECS
from verify.checks import judge_check
from verify.errors import structure_errors
from verify.experiments import geometry_metrics
from verify.experiments.polytope import POLYTOPE, PolytopeConfig
from verify.experiments.toy import TOY, ToyConfig, _random_directions, run_toy
from verify.kind import Outcome, RunContext
from verify.loading import load_specs
from verify.registry import ANALYTIC
from verify.spec import converter
from verify.validation import experiment_config


def spec_and_config(spec_id: str, control: bool = False):
    (spec,) = load_specs([SPECS / f"{spec_id}.toml"])
    return spec, experiment_config(spec, "quick", control)


def verdicts(spec, outcome: Outcome, config) -> dict[str, bool]:
    return {f"{c.metric}@{c.at}": judge_check(c, outcome, config, TOY.metrics, ANALYTIC).passed for c in spec.check}


def outcome(points: list[dict], W: np.ndarray, **arrays: np.ndarray) -> Outcome:
    """W (P, S, H, F); b defaults to 0."""
    arrays = {"W": W, "b": np.zeros(W.shape[:2] + W.shape[3:]), **arrays}
    return Outcome(points=points, arrays=arrays)


def rotated(W: np.ndarray, seed: int) -> np.ndarray:
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((W.shape[0], W.shape[0])))
    return Q @ W


# 1) Config validation.


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"data": "correlated", "perturbed_density": 0.01}, "perturbed_density"),
        ({"plots": ["circles"]}, "plots"),
        ({"data": "correlated", "set_size": 4, "n_sets": 2}, "n_sets"),
        ({"perturbed_density": [0.05, 0.0]}, "perturbed_density"),
    ],
)
def test_config_errors_name_the_field(extra, field):
    raw = {"model": "relu_output", "n_features": 6, "n_hidden": 2, **extra}
    with pytest.raises(Exception) as failure:
        converter.structure(raw, ToyConfig)
    errors = structure_errors(failure.value, "experiment")
    assert errors and errors[0][0] == f"experiment.{field}", errors


# 2) A tiny real run: correlated data, restarts, the randomize control.


def test_tiny_correlated_run_and_randomize():
    raw = dict(
        model="relu_output",
        n_features=6,
        n_hidden=2,
        data="correlated",
        sparsity=[0.9, 0.5],
        seeds=2,
        restarts=3,
        steps=150,
        eval_samples=4096,
        batch_size=256,
    )
    cfg = converter.structure(raw, ToyConfig)
    o = run_toy(cfg, RunContext(device="cpu"))
    assert o.arrays["W"].shape == (2, 2, 2, 6)
    assert o.arrays["restart_norms"].shape == (2, 2, 3, 6) and o.arrays["restart_loss"].shape == (2, 2, 3)
    assert TOY.metrics["set_cosines"].fn(o, cfg).shape == (2, 2, 3)
    r = run_toy(attrs.evolve(cfg, randomize=True), RunContext(device="cpu"))
    np.testing.assert_allclose(np.linalg.norm(r.arrays["W"], axis=2), np.linalg.norm(o.arrays["W"], axis=2))
    assert not np.allclose(r.arrays["W"], o.arrays["W"])
    np.testing.assert_array_equal(r.arrays["restart_loss"], o.arrays["restart_loss"])  # same training


def test_perturbed_density_overrides_only_the_last_feature():
    raw = dict(
        model="relu_output",
        n_features=5,
        n_hidden=2,
        sparsity=0.95,
        perturbed_density=[0.05, 0.01],
        steps=1,
        eval_samples=16,
    )
    from verify.experiments.toy import _instance_table

    cfg = converter.structure(raw, ToyConfig)
    density, _, _ = _instance_table(cfg, [{"perturbed_density": 0.05}, {"perturbed_density": 0.01}])
    np.testing.assert_allclose(density, [[0.05] * 5, [0.05] * 4 + [0.01]])


# 3) Hand-checked sweep helpers.


def test_plateau_width():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert geometry_metrics.plateau_width(x, np.array([1.0, 0.5, 0.52, 0.49, 0.3]), 0.5, 0.05) == 2.0
    # order-free
    assert geometry_metrics.plateau_width(x[::-1], np.array([0.3, 0.49, 0.52, 0.5, 1.0]), 0.5, 0.05) == 2.0
    assert geometry_metrics.plateau_width(x, np.array([1.0, 0.7, 0.5, 0.3, 0.2]), 0.5, 0.05) == 1.0
    assert geometry_metrics.plateau_width(x, np.full(5, 0.8), 0.5, 0.05) == 0.0


def test_nearest_fraction_never_counts_twice():
    k = geometry_metrics.nearest_fraction(np.array([1.0, 0.74, 0.5, 0.39, 0.38, 0.45, 0.1]), tol=0.03)
    names = [float(geometry_metrics.FRACTIONS[i]) if i >= 0 else None for i in k]
    assert names == [1.0, 0.75, 0.5, 0.4, 0.375, None, None]


# 4) Each geometry claim's checks flip between the configuration TMS describes and its failure.


def _dstar_outcome(x: np.ndarray, dstar: np.ndarray, m: int = 6, n: int = 48) -> Outcome:
    # W = [I_m | 0] / √D* has ‖W‖_F² = m/D*
    W = np.zeros((len(x), 1, m, n))
    W[:, 0, :, :m] = np.eye(m) / np.sqrt(dstar)[:, None, None]
    return outcome([{"sparsity": 1 - 1 / xi} for xi in x], W)


def test_dstar_sticky_checks_flip():
    spec, cfg = spec_and_config("tms.dstar-sticky")
    x = 1 / (1 - np.array(cfg.sparsity))
    sticky = np.interp(np.log(x), np.log([1, 1.2, 1.6, 2.1, 3.7, 12]), [1.0, 0.98, 0.8, 0.5, 0.49, 0.21])
    assert all(verdicts(spec, _dstar_outcome(x, sticky), cfg).values())
    # a smooth fall with the same end points: no plateau anywhere
    smooth = x ** (np.log(0.21) / np.log(12))
    v = verdicts(spec, _dstar_outcome(x, smooth), cfg)
    assert not v["dstar_plateau_half@{}"] and not v["dstar_plateau_one@{}"]


def _tegum_model(names: list[str], m: int, n: int, seed: int) -> np.ndarray:
    W = polytopes.tegum_product(*[polytopes.configuration(k) for k in names])
    W = np.pad(W, ((0, m - W.shape[0]), (0, n - W.shape[1])))
    return rotated(W, seed)


def test_dimensionality_fraction_and_sum_checks_flip():
    spec, cfg = spec_and_config("tms.dimensionality-fractions")
    m, n = cfg.n_hidden, cfg.n_features
    mixes = [["digon"] * 6, ["pentagon", "pentagon", "digon", "digon"], ["tetrahedron", "triangle", "digon"]]
    W = np.stack([_tegum_model(mixes[p % 3], m, n, p)[None] for p in range(len(cfg.sparsity))])
    pts = [{"sparsity": s} for s in cfg.sparsity]
    assert all(verdicts(spec, outcome(pts, W), cfg).values())
    assert not any(verdicts(spec, outcome(pts, _random_directions(W, 0)), cfg).values())

    spec, cfg = spec_and_config("tms.dimensionality-sum")
    W = W[: len(cfg.sparsity)]
    pts = [{"sparsity": s} for s in cfg.sparsity]
    assert all(verdicts(spec, outcome(pts, W), cfg).values())
    assert not any(verdicts(spec, outcome(pts, _random_directions(W, 1)), cfg).values())


def test_pentagon_checks_flip():
    spec, cfg = spec_and_config("tms.pentagon")
    W = 1.13 * polytopes.regular_polygon(5)
    b = np.full(5, 1 - 1.13**2)  # ‖W_i‖² = 1 − b_i
    good = outcome([{}], np.stack([W, rotated(W, 3)])[None], b=np.stack([b, b])[None])
    assert all(verdicts(spec, good, cfg).values())
    square = W.copy()
    square[:, 4] = 0  # one dropped, four left
    bad = outcome([{}], np.stack([square, square])[None], b=np.stack([b, b])[None])
    assert not any(verdicts(spec, bad, cfg).values())


def _collapse_outcome(densities: list[float], threshold: float) -> Outcome:
    """Pentagon above `threshold`, two digons below; restarts find both branches everywhere,
    with losses that cross at the threshold."""
    pent = 1.13 * polytopes.regular_polygon(5)
    digons = np.concatenate([polytopes.regular_polygon(4), np.zeros((2, 1))], axis=1)
    W, norms, losses = [], [], []
    for d in densities:
        W.append((pent if d > threshold else digons)[None])
        norms.append([[np.linalg.norm(pent, axis=0), np.linalg.norm(digons, axis=0)]])
        gap = np.log(threshold / d)  # pentagon − digon loss: < 0 above the threshold
        losses.append([[0.01 + 0.001 * gap, 0.01]])
    return outcome(
        [{"perturbed_density": d} for d in densities],
        np.array(W),
        restart_norms=np.array(norms),
        restart_loss=np.array(losses),
    )


def test_pentagon_collapse_checks_flip():
    spec, cfg = spec_and_config("tms.pentagon-collapse")
    assert all(verdicts(spec, _collapse_outcome(cfg.perturbed_density, 0.014), cfg).values())
    # the threshold lies beyond the sweep: it stays a pentagon, the curves never cross
    v = verdicts(spec, _collapse_outcome(cfg.perturbed_density, 0.001), cfg)
    assert v["n_represented@{'perturbed_density': 0.05}"]
    assert not any(x for k, x in v.items() if "perturbed_density" not in k)


def test_correlated_and_anticorrelated_checks_flip():
    spec, cfg = spec_and_config("tms.correlated-collapse")
    hexagon = polytopes.regular_polygon(6)  # pairs (0,1), (2,3), (4,5) side by side
    collapsed = np.repeat(polytopes.regular_polygon(3), 2, axis=1)  # each pair on one direction
    shuffled = hexagon[:, [0, 3, 1, 4, 2, 5]]  # pairs antipodal instead
    pts = [{"sparsity": s} for s in cfg.sparsity]
    by_point = lambda dense, sparse: np.stack(  # noqa: E731
        [np.stack([dense if s < 0.9 else sparse] * cfg.seeds) for s in cfg.sparsity]
    )
    assert all(verdicts(spec, outcome(pts, by_point(collapsed, hexagon)), cfg).values())
    v = verdicts(spec, outcome(pts, by_point(shuffled, shuffled)), cfg)
    assert v["angular_gaps@{'sparsity': 0.995}"]  # still a hexagon …
    assert not v["set_cosines@{'sparsity': 0.995}"] and not v["set_cosines@{'sparsity': 0.5}"]  # … of the wrong kind

    spec, cfg = spec_and_config("tms.anticorrelated-antipodal")
    # (0,1), (2,3), … antipodal
    pairs = polytopes.tegum_product(*[polytopes.configuration("digon")] * (cfg.n_features // 2))
    crossed = pairs[:, np.r_[0 : cfg.n_features : 2, 1 : cfg.n_features : 2]]  # antipodes in other pairs
    pts = [{"sparsity": s} for s in cfg.sparsity]
    stack = lambda W: np.broadcast_to(W, (len(pts), cfg.seeds, *W.shape)).copy()  # noqa: E731
    assert all(verdicts(spec, outcome(pts, stack(pairs)), cfg).values())
    assert not verdicts(spec, outcome(pts, stack(crossed)), cfg)["set_cosines@{}"]


def test_correlated_orthogonal_checks_flip():
    spec, cfg = spec_and_config("tms.correlated-orthogonal")
    eye = np.eye(cfg.n_hidden)
    Q = rotated(eye, 5)
    # each set of ten an orthonormal basis, the two bases at an angle: superposed but locally orthogonal
    good = np.concatenate([eye, Q], axis=1)
    mixed = good[:, np.r_[0:20:2, 1:20:2]]  # the same vectors with the set labels mixed
    pts = [{"sparsity": s} for s in cfg.sparsity]
    stack = lambda W: np.broadcast_to(W, (len(pts), cfg.seeds, *W.shape)).copy()  # noqa: E731
    assert all(verdicts(spec, outcome(pts, stack(good)), cfg).values())
    assert not verdicts(spec, outcome(pts, stack(mixed)), cfg)["within_set_interference@{}"]


# 5) The polytope experiment.


@pytest.mark.parametrize("n", [2, 3, 4, 9])
def test_polytope_experiment_builds_the_simplex(n):
    o = POLYTOPE.run(PolytopeConfig(n=n, seed=n), RunContext())
    np.testing.assert_allclose(POLYTOPE.metrics["dimensionality"].fn(o, None), (n - 1) / n, atol=1e-12)
    np.testing.assert_allclose(POLYTOPE.metrics["pairwise_cosines"].fn(o, None), -1 / (n - 1), atol=1e-12)
    assert POLYTOPE.metrics["codimension"].fn(o, None).item() == 1


def test_polytope_control_is_not_uniform():
    o = POLYTOPE.run(PolytopeConfig(n=4, direction="ramp"), RunContext())
    D = POLYTOPE.metrics["dimensionality"].fn(o, None)
    assert D.max() - D.min() > 0.1


# 6) The figures.


def test_geometry_plots_write_files(tmp_path: Path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    _, cfg = spec_and_config("tms.pentagon-collapse")
    o = _collapse_outcome(cfg.perturbed_density, 0.014)
    paths = TOY.plot(o, attrs.evolve(cfg, plots=["circle", "geometry_loss"]), tmp_path, "collapse")
    _, cfg = spec_and_config("tms.dstar-sticky")
    x = 1 / (1 - np.array(cfg.sparsity))
    paths += TOY.plot(_dstar_outcome(x, x**-0.6), cfg, tmp_path, "dstar")
    assert [p.name for p in paths] == [
        "collapse-circle.png",
        "collapse-geometry_loss.png",
        "dstar-dstar.png",
        "dstar-dimensionality.png",
    ]
    assert all(p.stat().st_size > 1000 for p in paths)
