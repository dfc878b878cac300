"""Verdict rules on hand-made Outcomes: each rule passes and fails where it should."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from verify.checks import binomial_lower_bound, judge_check
from verify.kind import Metric, Outcome
from verify.registry import ANALYTIC
from verify.spec import Check


def _outcome(values: np.ndarray, axis: list[float] | None = None) -> tuple[Outcome, dict[str, Metric]]:
    points = [{"sparsity": s} for s in axis] if axis else [{}]
    return Outcome(points=points, arrays={"v": values}), {"v": Metric(lambda o, _: o.arrays["v"], "v")}


def _judge(check: Check, values, axis=None):
    outcome, metrics = _outcome(np.asarray(values), axis)
    return judge_check(check, outcome, None, metrics, ANALYTIC)


def test_equal_and_close() -> None:
    assert _judge(Check(metric="v", rule="equal", expect=3), [[3, 3]]).passed
    r = _judge(Check(metric="v", rule="equal", expect=3), [[3, 4]])
    assert not r.passed and "seed 1" in r.detail
    assert _judge(Check(metric="v", rule="close", expect=1.0, rel_tol=0.05), [[1.04, 0.96]]).passed
    assert not _judge(Check(metric="v", rule="close", expect=1.0, rel_tol=0.05), [[1.06, 1.0]]).passed
    assert _judge(Check(metric="v", rule="close", expect=0.0, abs_tol=0.1), [[0.05, -0.09]]).passed


def test_masks_compare_whole_sets() -> None:
    m = np.array([[[True, True, False], [True, False, True]]])  # (P=1, S=2, F=3)
    r = _judge(Check(metric="v", rule="equal", expect=[1, 1, 0]), m)
    assert not r.passed and "measured [0, 2]" in r.detail


def test_thresholds() -> None:
    assert _judge(Check(metric="v", rule="at_most", expect=5), [[5, 4]]).passed
    assert not _judge(Check(metric="v", rule="at_most", expect=5), [[5.1, 4]]).passed
    assert _judge(Check(metric="v", rule="at_least", expect=5, abs_tol=0.2), [[4.9, 6]]).passed


def test_at_selects_points_and_reduce_combines_seeds() -> None:
    values = [[1, 1, 1], [2, 9, 2]]
    check = Check(metric="v", rule="at_most", expect=2, at={"sparsity": 0.5})
    assert not _judge(check, values, [0.0, 0.5]).passed
    check = Check(metric="v", rule="at_most", expect=2, at={"sparsity": 0.5}, reduce="median")
    assert _judge(check, values, [0.0, 0.5]).passed
    with pytest.raises(ValueError, match="at: no grid point has sparsity=0.7"):
        _judge(Check(metric="v", rule="at_most", expect=2, at={"sparsity": 0.7}), values, [0.0, 0.5])


def test_at_takes_a_list_of_values_per_axis() -> None:
    values = [[1, 1], [2, 2], [9, 9]]
    check = Check(metric="v", rule="at_most", expect=2, at={"sparsity": [0.0, 0.5]})
    assert _judge(check, values, [0.0, 0.5, 0.9]).passed
    assert not _judge(attrs.evolve(check, at={"sparsity": [0.5, 0.9]}), values, [0.0, 0.5, 0.9]).passed
    with pytest.raises(ValueError, match=r"at: no grid point has sparsity=0.7\|0.8"):
        _judge(attrs.evolve(check, at={"sparsity": [0.7, 0.8]}), values, [0.0, 0.5, 0.9])


def test_monotone_uses_median_over_seeds() -> None:
    axis = [0.9, 0.0, 0.5]  # unsorted on purpose
    up = [[9, 8, 9], [5, 5, 5], [6, 1, 7]]  # medians 9, 5, 6 along sorted axis 5, 6, 9
    assert _judge(Check(metric="v", rule="monotone", axis="sparsity"), up, axis).passed
    down = [[5, 5, 5], [5, 5, 5], [6, 6, 6]]  # 5 → 6 → 5
    r = _judge(Check(metric="v", rule="monotone", axis="sparsity"), down, axis)
    assert not r.passed and "between sparsity=0.5 and 0.9" in r.detail
    flat = [[5, 5], [5, 5], [5, 5]]
    assert _judge(Check(metric="v", rule="monotone", axis="sparsity"), flat, axis).passed
    assert not _judge(Check(metric="v", rule="monotone", axis="sparsity", strict=True), flat, axis).passed


def test_min_fraction_uses_binomial_lower_bound() -> None:
    assert binomial_lower_bound(10, 10, 0.9) == pytest.approx(0.1 ** (1 / 10))
    assert binomial_lower_bound(0, 10, 0.9) == 0.0
    ok = [[1] * 19 + [0]]  # 19/20 pass: 90% lower bound ≈ 0.80
    assert _judge(Check(metric="v", rule="equal", expect=1, min_fraction=0.75), ok).passed
    assert not _judge(Check(metric="v", rule="equal", expect=1, min_fraction=0.85), ok).passed
    # three seeds can never show a 90% rate at 90% confidence, even when all pass
    assert not _judge(Check(metric="v", rule="equal", expect=1, min_fraction=0.9), [[1, 1, 1]]).passed


def test_failing_boolean_scalar_is_a_fail_not_a_crash() -> None:
    """Regression: np.round on a bool measurement raised instead of reporting the failure."""
    r = _judge(Check(metric="v", rule="equal", expect=True), np.array([[True, False]]))
    assert not r.passed and "measured False, expected True" in r.detail


def test_a_sweep_wide_metric_counts_once_per_seed() -> None:
    """A value that describes the whole sweep, repeated at 4 grid points × 3 seeds, is 3 cases, not 12:
    the binomial bound must not grow with the number of grid points."""
    per_seed = np.array([2.0, 2.0, 0.5])
    values = np.broadcast_to(per_seed, (4, 3)).copy()
    outcome = Outcome(points=[{"sparsity": s} for s in (0.0, 0.3, 0.6, 0.9)], arrays={"v": values})
    metrics = {"v": Metric(lambda o, _: o.arrays["v"], "v", sweep_wide=True)}
    r = judge_check(Check(metric="v", rule="at_least", expect=1.0), outcome, None, metrics, ANALYTIC)
    assert not r.passed and r.detail.startswith("2/3 cases pass") and "the sweep, seed 2" in r.detail
    check = Check(metric="v", rule="at_least", expect=1.0, min_fraction=0.2, confidence=0.9)
    assert judge_check(check, outcome, None, metrics, ANALYTIC).detail.startswith("2/3 cases pass")
    repeated = {"v": Metric(lambda o, _: o.arrays["v"], "v")}  # the same array, not marked: 8/12
    assert judge_check(check, outcome, None, repeated, ANALYTIC).detail.startswith("8/12 cases pass")


def test_a_value_per_point_is_compared_with_every_feature_of_that_point() -> None:
    """expect = "experiment.<field>" (one number per grid point) against (P, S, F) cases: aligned on the
    point axis, not on the trailing one (regression: (3, 1) against (3, 2, 5) did not broadcast)."""

    values = np.broadcast_to(np.array([0.1, 0.2, 0.3])[:, None, None], (3, 2, 5)).copy()
    outcome = Outcome(points=[{"sparsity": s} for s in (0.1, 0.2, 0.3)], arrays={"v": values})
    metrics = {"v": Metric(lambda o, _: o.arrays["v"], "v")}
    check = Check(metric="v", rule="close", expect="experiment.sparsity", abs_tol=1e-9)
    assert judge_check(check, outcome, attrs_config(), metrics, ANALYTIC).passed
    values[2, 1, 4] = 0.5
    assert not judge_check(check, outcome, attrs_config(), metrics, ANALYTIC).passed


@attrs.frozen
class _AxisConfig:
    """A one-field config whose `sparsity` is a grid axis (at_point evolves it)."""

    sparsity: float | list[float] = attrs.field(factory=lambda: [0.1, 0.2, 0.3])


def attrs_config() -> _AxisConfig:
    return _AxisConfig()
