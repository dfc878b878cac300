"""The geometry side of the `toy` experiment and the `polytope` experiment.

Most tests build Outcomes by hand — the configurations TMS describes, and their failures — and
judge the real specs' checks on them, so each claim's verdict is shown to flip without training.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest

from analytic import polytopes, relu_output
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


def test_plateau_run_is_the_widest_run_in_x_order():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([0.5, 1.0, 0.5, 0.5, 0.52, 0.2])
    assert geometry_metrics.plateau_run(x, y, 0.5, 0.05).tolist() == [2, 3, 4]
    assert geometry_metrics.plateau_run(x[::-1], y[::-1], 0.5, 0.05).tolist() == [3, 2, 1]  # indices into the input
    assert geometry_metrics.plateau_run(x, np.full(6, 0.8), 0.5, 0.05).size == 0


def test_smooth_fit_follows_a_smooth_fall_and_not_a_plateau():
    x = 2 ** (np.arange(29) / 8)
    power = x**-0.6
    np.testing.assert_allclose(geometry_metrics.smooth_dstar(x, power), power, rtol=1e-10)
    curved = np.exp(-0.5 * np.log(x) - 0.1 * np.log(x) ** 2)  # a quadratic in ln x is fitted exactly
    np.testing.assert_allclose(geometry_metrics.smooth_dstar(x, curved), curved, rtol=1e-10)
    assert geometry_metrics.plateau_excess(x, power, 0.5, 0.05) == 0.0
    assert geometry_metrics.plateau_excess(x, np.ones(29), 1.0, 0.05) == 0.0  # flat at 1 is no excess
    assert geometry_metrics.plateau_excess(x, np.ones(29), 0.5, 0.05) == 0.0  # nothing in either band
    # a fall that holds 1/2 from x = 2 to 4 (one octave) and then falls on
    sticky = np.where(x < 2, x**-1.0, np.where(x <= 4, 0.5, 0.5 * (x / 4) ** -1.0))
    assert geometry_metrics.plateau_excess(x, sticky, 0.5, 0.05) > 2 * np.log(2) / 8


def test_random_directions_keep_the_norms():
    W = rotated(polytopes.tegum_product(polytopes.configuration("pentagon"), np.eye(2)), 0) * 1.3
    R = geometry_metrics.random_directions(W, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(R, axis=0), np.linalg.norm(W, axis=0))
    assert not np.allclose(R, W)


def test_fraction_counts_and_windows():
    # a pentagon, a digon and a dedicated dimension in 5 dims, padded to 10 features (3 not represented)
    W = _tegum_model(["pentagon", "digon", "dedicated"], m=5, n=10, seed=1)
    assert geometry_metrics.fraction_counts(W, 0.01).tolist() == [1, 0, 0, 2, 5, 0]
    assert geometry_metrics.fraction_counts(np.stack([W, 0 * W]), 0.01).tolist() == [[1, 0, 0, 2, 5, 0], [0] * 6]
    win = geometry_metrics.fraction_windows(np.array([0.8, 0.5, 0.3]), 0.05)
    assert win.astype(int).tolist() == [[1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 1, 1]]


def test_null_ratio_smooths_and_the_spread_is_leave_one_out():
    null = np.array([[0, 2, 4], [0, 2, 6], [0, 2, 8]])
    np.testing.assert_allclose(geometry_metrics.null_ratio(np.array([0, 5, 6]), null), [1.0, 2.0, 1.0])
    # draw 3 (8) against the mean of the other two (5): 9/6
    np.testing.assert_allclose(geometry_metrics.null_ratio_spread(null), [1.0, 1.0, 1.5])


def test_trained_polytopes_beat_their_random_direction_null():
    # 2 pentagons + 2 digons in 6 dims: D* = 6/14, below the 1/2 band, so 2/5 and 3/8 are counted
    W = np.stack([_tegum_model(["pentagon", "pentagon", "digon", "digon"], 6, 48, s) for s in range(3)])
    counts, null = geometry_metrics.fraction_null_counts(W, 0.01, 0.05, 32, np.random.default_rng(0))
    assert counts.tolist() == [0, 0, 0, 12, 30, 0] and null.shape == (32, 6)
    ratio = geometry_metrics.null_ratio(counts, null)
    assert ratio[4] > 5 and ratio[3] > 3
    R = geometry_metrics.random_directions(W, np.random.default_rng(1))
    ratio = geometry_metrics.null_ratio(
        *geometry_metrics.fraction_null_counts(R, 0.01, 0.05, 32, np.random.default_rng(0))
    )
    assert (ratio < 2.5).all()


# 4) Each geometry claim's checks flip between the configuration TMS describes and its failure.


def _dstar_outcome(x: np.ndarray, dstar: np.ndarray, m: int = 6, n: int = 48, pairs: bool = True) -> Outcome:
    # W = [I_m | 0] / √D* has ‖W‖_F² = m/D*; within 0.05 of D* = 1/2 (if pairs), [I_m | −I_m] / √(2D*):
    # m antipodal pairs with the same D*
    W = np.zeros((len(x), 1, m, n))
    W[:, 0, :, :m] = np.eye(m) / np.sqrt(dstar)[:, None, None]
    half = pairs & (np.abs(dstar - 0.5) <= 0.05)
    W[half, 0, :, :m] /= np.sqrt(2)
    W[half, 0, :, m : 2 * m] = -W[half, 0, :, :m]
    return outcome([{"sparsity": 1 - 1 / xi} for xi in x], W)


# D* of a quick run of tms.dstar-sticky (seed field 0) at x = 2^(k/8), k = 0 … 28
_STICKY = [1.007, 0.999, 0.993, 0.958, 0.927, 0.859, 0.701, 0.581, 0.534, 0.514, 0.502, 0.497, 0.494, 0.491, 0.490]
_STICKY += [0.490, 0.489, 0.427, 0.361, 0.370, 0.330, 0.308, 0.289, 0.281, 0.274, 0.261, 0.251, 0.238, 0.225]


def test_dstar_sticky_checks_flip():
    spec, cfg = spec_and_config("tms.dstar-sticky")
    x = 1 / (1 - np.array(cfg.sparsity))
    sticky = np.array(_STICKY)
    assert all(verdicts(spec, _dstar_outcome(x, sticky), cfg).values())
    # the same D* without antipodal pairs (orthogonal features of larger norm): only the pair check fails
    v = verdicts(spec, _dstar_outcome(x, sticky, pairs=False), cfg)
    assert not v["plateau_antipodal_share@{}"] and sum(v.values()) == len(v) - 1
    # the smooth fit itself (with the same end points): no plateau anywhere
    v = verdicts(spec, _dstar_outcome(x, geometry_metrics.smooth_dstar(x, sticky)), cfg)
    assert not v["dstar_plateau_excess_half@{}"] and not v["dstar_plateau_excess_one@{}"]
    # the linear control: D* = 1 everywhere
    assert not any(verdicts(spec, _dstar_outcome(x, np.ones_like(x)), cfg).values())


def _tegum_model(names: list[str], m: int, n: int, seed: int) -> np.ndarray:
    W = polytopes.tegum_product(*[polytopes.configuration(k) for k in names])
    W = np.pad(W, ((0, m - W.shape[0]), (0, n - W.shape[1])))
    return rotated(W, seed)


def test_dimensionality_fraction_and_sum_checks_flip():
    spec, cfg = spec_and_config("tms.dimensionality-fractions")
    m, n = cfg.n_hidden, cfg.n_features
    x = 1 / (1 - np.array(cfg.sparsity))
    # tetrahedron + triangle + digon (D* = 6/9) below x = 2, six digons (1/2) up to 3, then two pentagons
    # and two digons (D* = 6/14): every judged fraction in its window
    mixes = [["tetrahedron", "triangle", "digon"], ["digon"] * 6, ["pentagon"] * 2 + ["digon"] * 2]
    mix = [mixes[0] if xi < 2 else mixes[1] if xi < 3 else mixes[2] for xi in x]
    W = np.stack([[_tegum_model(mix[p], m, n, 3 * p + s) for s in range(cfg.seeds)] for p in range(len(x))])
    pts = [{"sparsity": s} for s in cfg.sparsity]
    assert all(verdicts(spec, outcome(pts, W), cfg).values())
    assert not any(verdicts(spec, outcome(pts, _random_directions(W, 0)), cfg).values())
    # antipodal pairs everywhere: 1/2 alone does not make the claim
    pairs = np.stack([[_tegum_model(["digon"] * 6, m, n, 3 * p + s) for s in range(cfg.seeds)] for p in range(len(x))])
    assert not any(verdicts(spec, outcome(pts, pairs), cfg).values())

    spec, cfg = spec_and_config("tms.dimensionality-sum")
    mixes = [["digon"] * 6, ["pentagon", "pentagon", "digon", "digon"], ["tetrahedron", "triangle", "digon"]]
    W = np.stack([_tegum_model(mixes[p % 3], m, n, p)[None] for p in range(len(cfg.sparsity))])
    pts = [{"sparsity": s} for s in cfg.sparsity]
    assert all(verdicts(spec, outcome(pts, W), cfg).values())
    random = verdicts(spec, outcome(pts, _random_directions(W, 1)), cfg)
    assert not random["dimensionality_sum_ratio@{}"]  # same norms, so features_per_dimension still holds
    # an orthogonal, un-superposed W (m features on the axes) also sums to m: the superposition check catches it
    plain = np.zeros_like(W)
    plain[..., :m, :m] = np.eye(m)
    flat = verdicts(spec, outcome(pts, plain), cfg)
    assert flat["dimensionality_sum_ratio@{}"] and not flat["features_per_dimension@{}"]


def test_pentagon_checks_flip():
    """The exact optimum of the symmetric pentagon at each density passes; a square with one feature
    dropped fails every geometric check; a unit-norm pentagon (right shape, wrong size) fails the size."""
    spec, cfg = spec_and_config("tms.pentagon")
    pts = [{"sparsity": s} for s in cfg.sparsity]
    best = [relu_output.regular_polygon_optimum(5, s) for s in cfg.sparsity]
    W = np.stack([[o.norm * polytopes.regular_polygon(5)] * 2 for o in best])  # (P, 2 seeds, 2, 5)
    W[:, 1] = [rotated(w, 3) for w in W[:, 1]]
    b = np.stack([[np.full(5, o.bias)] * 2 for o in best])
    assert all(verdicts(spec, outcome(pts, W, b=b), cfg).values())
    square = W.copy()
    square[..., 4] = 0  # one dropped, four left (same biases: only the bias check can hold)
    assert not any(v for k, v in verdicts(spec, outcome(pts, square, b=b), cfg).items() if k != "bias@{}")
    small = W / np.array([o.norm for o in best])[:, None, None, None]  # unit norms: ‖W_i‖ = 1
    size = verdicts(spec, outcome(pts, small, b=b), cfg)
    assert size["angular_gaps@{}"] and not size["feature_norms@{}"]


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


def _onset_model(n: int, m: int, k: int, pair: tuple[int, int] | None = None) -> np.ndarray:
    """(m, n): TMS's onset layout for k represented features — the 2m − k most important dedicated,
    the next ones in antipodal pairs — or, with `pair`, that pair antipodal and the rest dedicated."""
    W = np.zeros((m, n))
    if pair is not None:
        others = [i for i in range(k) if i not in pair]
        W[np.arange(len(others)), others] = 1.0
        W[m - 1, list(pair)] = [1.0, -1.0]
        return W
    d = 2 * m - k
    W[np.arange(d), np.arange(d)] = 1.0
    for q, i in enumerate(range(d, k, 2)):
        W[d + q, [i, i + 1]] = [1.0, -1.0]
    return W


def test_antipodal_first_checks_flip():
    spec, cfg = spec_and_config("tms.antipodal-first")
    n, m, S = cfg.n_features, cfg.n_hidden, cfg.seeds
    pts = [{"sparsity": s} for s in cfg.sparsity]
    ks = [m, m + 1, m + 3, m + 3]  # onset at the second point with one pair
    W = np.stack([np.stack([rotated(_onset_model(n, m, k), 10 * p + s) for s in range(S)]) for p, k in enumerate(ks)])
    assert all(verdicts(spec, outcome(pts, W), cfg).values())
    v = verdicts(spec, outcome(pts, _random_directions(W, 0)), cfg)  # the control: norms kept, directions not
    assert v["n_represented@{'sparsity': 0.4}"] and not v["onset_layout_mismatch@{}"]
    assert not v["onset_antipodal_cos@{}"]
    # an important feature (2) paired with the least important represented one: the layout is wrong
    wrong = W.copy()
    wrong[1] = np.stack([_onset_model(n, m, m + 1, pair=(2, m))] * S)
    assert not verdicts(spec, outcome(pts, wrong), cfg)["onset_layout_mismatch@{}"]
    # a model that never superposes has no onset: the onset checks cannot be judged (NaN), not failed
    never = np.broadcast_to(_onset_model(n, m, m), W.shape).copy()
    (check,) = [c for c in spec.check if c.metric == "onset_antipodal_cos"]
    assert judge_check(check, outcome(pts, never), cfg, TOY.metrics, ANALYTIC).error


def test_least_important_superpose_reads_the_importance_order():
    cfg = converter.structure(
        {"model": "relu_output", "n_features": 8, "n_hidden": 3, "importance": {"geometric": 0.7}}, ToyConfig
    )
    metric = TOY.metrics["least_important_superpose"].fn
    onset = _onset_model(8, 3, 4)  # features 0, 1 dedicated; 2, 3 paired; the rest dropped
    important_paired = _onset_model(8, 3, 4, pair=(1, 3))  # feature 1 superposed, 2 dedicated
    dense = _onset_model(8, 3, 3)  # no superposition at all: 0, not a vacuous pass
    # a represented feature beyond an unrepresented one is not this metric's business
    skipped = onset.copy()
    skipped[:, [3, 5]] = skipped[:, [5, 3]]
    W = np.stack([onset, important_paired, dense, skipped])[:, None]
    assert metric(outcome([{}] * 4, W), cfg).tolist() == [[1.0], [0.0], [0.0], [1.0]]
    # the order is the importance's, not the index's
    reverse = attrs.evolve(cfg, importance=attrs.evolve(cfg.importance, geometric=1 / 0.7))
    assert metric(outcome([{}], onset[:, ::-1][None, None].copy()), reverse).tolist() == [[1.0]]


def test_onset_layout_mismatch_counts_features_out_of_place():
    W = _onset_model(8, 3, 4, pair=(1, 3))[None, None]  # features 0, 2 dedicated; 1, 3 paired
    o = outcome([{"sparsity": 0.5}], W)
    assert TOY.metrics["onset_layout_mismatch"].fn(o, None).tolist() == [[2.0]]
    assert TOY.metrics["onset_sparsity"].fn(o, None).tolist() == [[0.5]]


def test_rescaled_checks_flip():
    spec, cfg = spec_and_config("tms.rescaled")
    n, m, S = cfg.n_features, cfg.n_hidden, cfg.seeds
    pts = [{"sparsity": s} for s in cfg.sparsity]
    reference = {c.at["sparsity"]: c.expect for c in spec.check}

    def with_fractions(fractions: list[float]) -> Outcome:
        W = np.zeros((len(pts), S, m, n))
        for p, f in enumerate(fractions):
            W[p, :, 0, : round(f * n)] = 1.0  # norms only: the fraction represented
        return outcome(pts, W)

    assert all(verdicts(spec, with_fractions([reference[s] for s in cfg.sparsity]), cfg).values())
    assert not any(verdicts(spec, with_fractions([m / n] * len(pts)), cfg).values())  # a linear model


def test_correlated_m2_checks_flip():
    spec, cfg = spec_and_config("tms.correlated-m2")
    square = polytopes.regular_polygon(4)  # 0°, 90°, 180°, 270°: pairs (0, 1) and (2, 3) orthogonal
    pts = [{"sparsity": s} for s in cfg.sparsity]
    stack = lambda W: np.stack([np.stack([rotated(W, s) for s in range(cfg.seeds)])] * len(pts))  # noqa: E731
    assert all(verdicts(spec, outcome(pts, stack(square)), cfg).values())
    assert not any(verdicts(spec, outcome(pts, stack(square[:, [0, 2, 1, 3]])), cfg).values())  # pairs antipodal
    dropped = square.copy()
    dropped[:, 3] = 0  # a pair member not represented never counts as orthogonal
    assert not any(verdicts(spec, outcome(pts, stack(dropped)), cfg).values())


def _pairs_model(n_collapsed: int) -> np.ndarray:
    """Three pairs at 0°, 120°, 240° in 2-D: the first n_collapsed on one direction each, the others
    side by side at ±30° (cos 0.5)."""
    cols = []
    for g, centre in enumerate(np.radians([0.0, 120.0, 240.0])):
        half = 0.0 if g < n_collapsed else np.radians(30.0)
        cols += [[np.cos(centre - half), np.sin(centre - half)], [np.cos(centre + half), np.sin(centre + half)]]
    return np.array(cols).T


def test_progressive_collapse_checks_flip():
    spec, cfg = spec_and_config("tms.progressive-collapse")
    pts = [{"sparsity": s} for s in cfg.sparsity]

    def sweep(counts: list[int]) -> Outcome:
        return outcome(pts, np.stack([np.stack([_pairs_model(c)] * cfg.seeds) for c in counts]))

    assert cfg.sparsity == sorted(cfg.sparsity)  # the counts below go dense to sparse
    assert all(verdicts(spec, sweep([3, 3, 2, 2, 1, 1, 0]), cfg).values())
    v = verdicts(spec, sweep([3, 3, 3, 3, 3, 3, 0]), cfg)  # all at once
    assert not v["collapse_intermediate_counts@{}"]
    v = verdicts(spec, sweep([0] * len(pts)), cfg)  # the null: nothing collapses
    assert not v["n_collapsed_sets@{'sparsity': 0.5}"] and not v["collapse_intermediate_counts@{}"]


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
