"""Tests for analytic.three_in_two (TMS "Superposition as a Phase Change", 3 features in 2 dimensions).

The closed forms are checked against independent evaluations of the expected loss in
test_phase_closed_forms.py. A 3-in-2 free solve takes ~1 s a start: by default one start runs;
the full multi-start solves and the check of a free optimum's loss by 3-D quadrature (~10 s) are
marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

from analytic import relu_output, three_in_two, two_in_one
from analytic.free_optimum import minimise_expected_loss
from tests.analytic.helpers import quadrature_loss

FAST = settings(deadline=None, max_examples=6, derandomize=True)
ratios = st.floats(-1.0, 1.0).map(lambda t: 10.0**t)  # r ∈ [0.1, 10], log-uniform
densities = st.floats(0.01, 1.0)


# closed forms ------------------------------------------------------------------------------------
def test_hand_computed_values():
    losses = three_in_two.losses(2.0, 0.5)  # V(0.5) = 5/48
    assert losses == pytest.approx(
        {"not_learned": 10 / 48, "dedicated": 5 / 48, "superposition": 0.125, "antipodal_pair": 1 / 12}
    )
    assert three_in_two.phase(2.0, 0.5) == "antipodal_pair" and three_in_two.phase(2.0, 0.9) == "dedicated"
    assert three_in_two.phase(0.5, 0.1) == "superposition" and three_in_two.phase(0.5, 0.9) == "not_learned"
    assert three_in_two.PHASES == ("not_learned", "dedicated", "superposition", "antipodal_pair")


def test_vectorised_over_broadcast_grids():
    r, p = np.logspace(-1, 1, 6)[:, None], np.linspace(0.01, 1, 5)[None, :]
    names = three_in_two.phase(r, p)
    assert names.shape == (6, 5)
    for i, j in np.ndindex(6, 5):
        assert names[i, j] == three_in_two.phase(float(r[i, 0]), float(p[0, j]))
    np.testing.assert_allclose(three_in_two.boundary(r[:, 0]), three_in_two.critical_density(r[:, 0]), rtol=1e-12)


# phase structure ---------------------------------------------------------------------------------
@FAST
@given(r=ratios, p=densities)
def test_reduces_to_two_in_one_below_r_1_and_to_4_7_above(r, p):
    # r < 1: only not_learned vs superposition compete, with 2-in-1's losses;
    # r > 1: only dedicated vs antipodal_pair, which cross at p = 4/7 whatever r is
    if r < 1:
        assert three_in_two.phase(r, p) in ("not_learned", "superposition")
        assert three_in_two.boundary(r) == pytest.approx(two_in_one.boundary(r), rel=1e-12)
        assert three_in_two.phase(r, p) == two_in_one.phase(r, p)
    elif r > 1:
        assert three_in_two.phase(r, p) in ("dedicated", "antipodal_pair")
        assert three_in_two.boundary(r) == pytest.approx(4 / 7, rel=1e-12)


@FAST
@given(r=ratios)
def test_boundary_is_a_true_crossing(r):
    (b,) = three_in_two.boundaries(r)
    assert b.p == pytest.approx(three_in_two.critical_density(r), rel=1e-12)
    L = three_in_two.losses(r, b.p)
    assert L[b.below] == pytest.approx(L[b.above], rel=1e-12)
    for p, sign in ((b.p - 1e-6, -1), (b.p + 1e-6, 1)):
        L = three_in_two.losses(r, p)
        assert np.sign(L[b.below] - L[b.above]) == sign
        assert min(L, key=L.get) == (b.below if sign < 0 else b.above)


def test_quadruple_point():
    assert len(set(np.round(list(three_in_two.losses(1.0, 4 / 7).values()), 14))) == 1
    assert three_in_two.boundaries(1.0) == [three_in_two.Boundary(pytest.approx(4 / 7), "superposition", "not_learned")]
    for r in (1 - 1e-6, 1 + 1e-6):
        assert three_in_two.boundary(r) == pytest.approx(4 / 7, abs=1e-6)
    assert np.isnan(three_in_two.crossing(2.0, ("superposition", "antipodal_pair")))  # both ∝ p²: no crossing


@FAST
@given(r=ratios)
def test_optimal_loss_has_a_kink_at_the_boundary(r):
    b = three_in_two.boundaries(r)[0]
    jump = three_in_two.slope_jump(r, b.p)
    dropped = r if b.above == "not_learned" else 1.0  # importance of the feature dropped above
    assert jump.jump == pytest.approx(-dropped / 3, rel=1e-9)
    h = 1e-6
    best = lambda p: min(three_in_two.losses(r, p).values())
    assert (best(b.p) - best(b.p - h)) / h == pytest.approx(jump.left, abs=1e-5)
    assert (best(b.p + h) - best(b.p)) / h == pytest.approx(jump.right, abs=1e-5)


# classify ----------------------------------------------------------------------------------------
def _swap_12(W):
    return W[..., [1, 0, 2]]


@FAST
@given(p=densities, seed=st.integers(0, 2**16))
def test_classify_recognises_named_solutions(p, seed):
    rng = np.random.default_rng(seed)
    sols = three_in_two.solutions(1.0, p)
    for name, (W, b) in sols.items():
        assert three_in_two.classify(W, b) == name
        assert three_in_two.classify(_swap_12(W)) == name  # features 1 and 2 play the same role
        Q = special_ortho_group.rvs(2, random_state=rng) * rng.choice([-1.0, 1.0], (2, 1))
        moved = Q @ W * rng.uniform(0.9, 1.1, 3)  # rotate, flip hidden units, rescale norms
        assert three_in_two.classify(moved, b) == name
    stack = np.stack([W for W, _ in sols.values()])  # (I, H, F)
    assert list(three_in_two.classify(stack)) == list(sols)


def test_classify_other():
    angles = 2 * np.pi * np.arange(3) / 3
    triangle = np.stack([np.cos(angles), np.sin(angles)])  # W ⊥ [1, 1, 1]
    assert three_in_two.classify(triangle) == three_in_two.OTHER
    assert three_in_two.classify(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])) == three_in_two.OTHER  # only the extra


# free optimum (exact expected loss) --------------------------------------------------------------
def test_free_antipodal_optimum_beats_fixed_magnitudes():
    # freeing the magnitudes and biases of the antipodal pair alone (one start of `free_optimum`)
    start = {"antipodal_pair": three_in_two.solutions(1.0, 0.5)["antipodal_pair"]}
    free = minimise_expected_loss(start, three_in_two.importance(1.0), 0.5, three_in_two.classify, restarts=0, seed=0)
    assert free.phase in ("superposition", "antipodal_pair")  # the same solution at r = 1
    assert free.loss < 1 / 12 - 1e-3  # ≈ 0.0763 vs p²/3 = (1 + r)p²/6 = 0.0833
    exact = relu_output.expected_loss(free.W, free.b, three_in_two.importance(1.0), 0.5)
    assert free.loss == pytest.approx(exact, rel=1e-12)


@pytest.mark.slow
def test_free_optimum_from_every_start_beats_fixed_magnitudes():
    free = three_in_two.free_optimum(1.0, 0.5, restarts=0, seed=0)
    assert free.phase in ("superposition", "antipodal_pair")
    assert free.loss < 1 / 12 - 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("r,p", [(3.0, 0.3)])  # (0.3, 0.2) passes too (~5 s more)
def test_free_optimum_never_worse_than_closed_forms(r, p):
    free = three_in_two.free_optimum(r, p, restarts=0, seed=0)
    L = three_in_two.losses(r, p)
    assert free.loss <= min(L.values()) + 1e-12
    assert free.phase == min(L, key=L.get)
    exact = quadrature_loss(free.W, free.b, three_in_two.importance(r), p, tol=1e-9)
    assert free.loss == pytest.approx(exact, abs=1e-8)


def test_near_boundary():
    # r = 1 separates superposition from antipodal_pair at every p (and not_learned from dedicated)
    assert three_in_two.near_boundary(1.1, 0.01, 0.1) and three_in_two.near_boundary(0.9, 0.9, 0.1)
    assert not three_in_two.near_boundary(2.0, 0.01, 0.1) and not three_in_two.near_boundary(2.0, 0.9, 0.1)
    assert three_in_two.near_boundary(5.0, 0.6, 0.1) and not three_in_two.near_boundary(5.0, 0.4, 0.1)  # p = 4/7
