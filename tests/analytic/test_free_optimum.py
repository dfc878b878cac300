"""Tests for analytic.free_optimum: the exact losses it minimises and the free-boundary bisection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytic import free_optimum, linear, two_in_one
from analytic.two_in_one import Boundary

FAST = settings(deadline=None, max_examples=8, derandomize=True)


def _linear_monte_carlo(W, b, importance, p, n_samples=400_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n_samples, W.shape[1])) * (rng.random((n_samples, W.shape[1])) < p)  # (B, F)
    per_sample = ((x - (x @ (W.T @ W) + b)) ** 2) @ importance
    return per_sample.mean(), per_sample.std(ddof=1) / np.sqrt(n_samples)


@settings(deadline=None, max_examples=5, derandomize=True)  # 400k samples each
@given(seed=st.integers(0, 2**16), p=st.floats(0.01, 1.0), m=st.integers(1, 2), n=st.integers(2, 3))
def test_linear_expected_loss_matches_monte_carlo(seed, p, m, n):
    rng = np.random.default_rng(seed)
    W, b, imp = rng.normal(size=(m, n)), rng.normal(0, 0.3, n), rng.uniform(0.1, 1, n)
    mean, se = _linear_monte_carlo(W, b, imp, p, seed=seed)
    assert free_optimum.linear_expected_loss(W, b, imp, 1 - p) == pytest.approx(mean, abs=5 * se + 1e-12)


def test_linear_free_optimum_is_the_pca_solution():
    # the linear model keeps the more important feature at every density: loss min(1, r)·V(p)
    for r, p in [(0.3, 0.1), (3.0, 0.1), (0.5, 0.9)]:
        free = two_in_one.free_optimum(r, p, restarts=1, model="linear")
        assert free.loss == pytest.approx(linear.optimal_loss(two_in_one.importance(r), 1, 1 - p), rel=1e-6)
        assert free.phase == ("not_learned" if r < 1 else "dedicated")
        # where superposition wins, the ReLU closed form is out of the linear model's reach
        closed = two_in_one.losses(r, p)
        assert (free.loss > min(closed.values())) == (two_in_one.phase(r, p) == "superposition")


def test_exact_loss_dispatches_and_rejects_unknown_models():
    W, b, imp = np.array([[1.0, -1.0]]), np.zeros(2), np.ones(2)
    assert free_optimum.exact_loss(W, b, imp, 0.5) == pytest.approx(1 / 12)  # (1 + r)p²/6
    linear = free_optimum.linear_expected_loss(W, b, imp, 0.5)
    assert free_optimum.exact_loss(W, b, imp, 0.5, "linear") == pytest.approx(linear)
    with pytest.raises(ValueError, match="unknown model 'relu'"):
        free_optimum.exact_loss(W, b, imp, 0.5, "relu")


# the bisection, on a made-up free map whose boundary sits at a known place ------------------------
def _fake(boundary_p: float, true_boundary: float):
    def boundaries_fn(r):
        return [Boundary(boundary_p, "superposition", "not_learned")]

    def free_fn(r, p, restarts, seed):
        name = "superposition" if p < true_boundary else "not_learned"
        return free_optimum.FreeOptimum(0.0, np.zeros((1, 2)), np.zeros(2), name, "fake")

    return boundaries_fn, free_fn


@pytest.mark.parametrize("true_boundary", [0.2, 0.37, 0.9])
def test_free_boundary_bisection_finds_the_change(true_boundary):
    found = free_optimum.find_free_boundary(*_fake(0.3, true_boundary), r=1.0, tol=0.001)
    assert found.below == "superposition" and found.closed == 0.3
    assert abs(np.log10(found.free / true_boundary)) <= 0.001
    assert found.shift == pytest.approx(np.log10(true_boundary / 0.3), abs=0.001)


def test_free_boundary_edge_cases():
    assert free_optimum.find_free_boundary(*_fake(0.3, 1.5), r=1.0).free == 1.0  # still below at p = 1
    assert np.isnan(free_optimum.find_free_boundary(*_fake(0.3, 0.1), r=1.0).free)  # not below even at 0.15
    # the real 2-in-1 free boundary (0.04 decades above the closed form at r = 0.3) is checked in
    # tests/verify/test_phase_experiment.py::test_free_optimum_kind_and_its_linear_control


@FAST
@given(r=st.floats(-1.0, 1.0).map(lambda t: 10.0**t))
def test_one_sided_slopes_see_the_closed_form_kink_and_nothing_elsewhere(r):
    def best(p):
        return min(two_in_one.losses(r, p).values())

    b = two_in_one.boundaries(r)[0]
    left, right = free_optimum.one_sided_slopes(best, b.p)
    jump = two_in_one.slope_jump(r, b.p)
    # the anchors sit 0.005 decades off the kink: the slopes there differ by |L''|·Δp ≲ 0.01·(1 + r)
    assert abs(left - jump.left) <= 0.01 * (1 + r) and abs(right - jump.right) <= 0.01 * (1 + r)
    assert (right - left) / jump.jump > 0.9
    left, right = free_optimum.one_sided_slopes(best, b.p * 10**-0.3)  # inside superposition: smooth
    assert abs(right - left) <= 0.03 * abs(jump.jump)
