"""The jump detector of TMS "Learning Dynamics" on synthetic trajectories: steps fire, smooth ones do not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from superposition_lab import trajectories as tr

RULE = tr.JumpRule(jump_window=6, plateau_window=20, min_jump=0.1, band=0.05)


def _step(levels: list[float], at: list[int], T: int = 200) -> np.ndarray:
    """Piecewise-constant D: levels[0] until at[0], then levels[1], …"""
    y = np.full(T, levels[0], dtype=float)
    for level, t in zip(levels[1:], at):
        y[t:] = level
    return y


def test_a_step_between_plateaus_is_one_jump_at_its_place() -> None:
    y = _step([0.0, 0.5], [100])
    (jump,) = tr.find_jumps(y, RULE)
    assert jump.size == pytest.approx(0.5)
    assert jump.start <= 100 <= jump.start + RULE.jump_window  # the gap holds the step


def test_energy_levels_one_half_two_fifths_give_three_jumps_with_signs() -> None:
    # 0 → 1 → 1/2 → 2/5: the paper's "jumps between dimensionalities", with SGD-like jitter inside the band
    rng = np.random.default_rng(0)
    y = _step([0.0, 1.0, 0.5, 0.4], [60, 120, 180], T=240) + rng.uniform(-0.015, 0.015, 240)
    sizes = [round(j.size, 1) for j in tr.find_jumps(y, RULE)]
    assert sizes == [1.0, -0.5, -0.1]


def test_a_step_smeared_over_more_than_the_gap_is_not_a_jump() -> None:
    t = np.arange(200, dtype=float)
    fast = 0.5 / (1 + np.exp(-(t - 100) / 1.0))  # 10–90% in ~4 snapshots < gap 6
    slow = 0.5 / (1 + np.exp(-(t - 100) / 15.0))  # 10–90% in ~66 snapshots
    assert len(tr.find_jumps(fast, RULE)) == 1
    assert tr.find_jumps(slow, RULE) == []


def test_steps_too_close_to_the_ends_have_no_plateau_and_do_not_count() -> None:
    assert tr.find_jumps(_step([0.0, 0.5], [10]), RULE) == []
    assert tr.find_jumps(_step([0.0, 0.5], [195]), RULE) == []
    assert tr.find_jumps(np.zeros(30), RULE) == []  # shorter than one span


def test_the_lab_rule_cannot_fire_on_a_ramp() -> None:
    assert tr.ramp_never_fires(RULE)
    assert not tr.ramp_never_fires(tr.JumpRule(jump_window=6, plateau_window=8, min_jump=0.1, band=0.05))


@settings(max_examples=60, deadline=None)
@given(
    slope=st.floats(-0.05, 0.05),
    offset=st.floats(-1.0, 1.0),
    noise=st.floats(0.0, 0.02),
    seed=st.integers(0, 2**16),
)
def test_no_straight_line_fires_with_or_without_noise(slope: float, offset: float, noise: float, seed: int) -> None:
    y = offset + slope * np.arange(200) + np.random.default_rng(seed).uniform(-noise, noise, 200)
    assert tr.find_jumps(y, RULE) == []


def test_smooth_interpolation_between_the_levels_of_a_jumping_trajectory_does_not_fire() -> None:
    # the same start and end as a 0 → 1/2 → 2/5 staircase, joined by a smooth cosine path
    t = np.linspace(0, 1, 240)
    y = 0.4 * (1 - np.cos(np.pi * t)) / 2 + 0.1 * np.sin(np.pi * t)
    assert tr.find_jumps(y, RULE) == []
    staircase = _step([0.0, 0.5, 0.4], [80, 160], T=240)
    assert len(tr.find_jumps(staircase, RULE)) == 2


def test_a_random_walk_with_small_steps_rarely_fires() -> None:
    # the linear model's D_i drift like this; a ±0.003 walk over 240 snapshots
    rng = np.random.default_rng(1)
    walks = np.cumsum(rng.normal(0, 0.003, (200, 240)), axis=1)
    fired = sum(len(tr.find_jumps(w, RULE)) for w in walks)
    assert fired == 0


def test_jump_share_is_one_for_a_staircase_and_zero_for_a_ramp() -> None:
    stairs = np.stack([_step([0.0, 0.5], [100]), _step([0.2, 0.2], [0])], axis=1)  # (T, 2)
    assert tr.jump_share(stairs, RULE) == pytest.approx(1.0)
    ramp = np.linspace(0, 0.5, 200)[:, None]
    assert tr.jump_share(ramp, RULE) == 0.0
    assert tr.jump_share(np.zeros((200, 3)), RULE) == 0.0  # nothing moves


def test_coarse_variation_ignores_jitter_and_counts_a_step() -> None:
    rng = np.random.default_rng(2)
    jitter = 0.5 + rng.uniform(-0.02, 0.02, 200)
    assert tr.coarse_variation(jitter, 20) < 0.1
    assert tr.coarse_variation(_step([0.0, 0.5], [100]), 10) == pytest.approx(0.5)


def test_loss_noise_recovers_the_batch_noise_of_a_falling_curve() -> None:
    rng = np.random.default_rng(3)
    loss = 3 + np.exp(-np.arange(2000) / 300) + rng.normal(0, 0.05, 2000)
    assert tr.loss_noise(loss) == pytest.approx(0.05, rel=0.1)


def test_loss_drop_z_sees_a_drop_in_the_gap_and_not_a_smooth_decline() -> None:
    rng = np.random.default_rng(4)
    T, sigma = 300, 0.02
    t = np.arange(T)
    smooth = 3 + np.exp(-t / 100)
    dropped = smooth - 0.1 * (t >= 150)  # a drop of 0.1 at snapshot 150
    z_drop = tr.loss_drop_z(dropped + rng.normal(0, sigma, T), 147, RULE, sigma)
    assert z_drop[0] > 5
    # at every snapshot of the smooth curve, z ≥ 2 about as often as a one-sided normal tail says
    z_null = np.concatenate([tr.loss_drop_z(smooth + rng.normal(0, sigma, T), t, RULE, sigma) for _ in range(20)])
    z_null = z_null[np.isfinite(z_null)]
    assert z_null.size > 1000 and np.mean(z_null >= 2) < 0.05
    # a start without a full span around it is NaN
    assert np.isnan(tr.loss_drop_z(dropped, [2, T - 3], RULE, sigma)).all()


def test_dimensionality_trajectories_is_dimensionality_per_snapshot() -> None:
    # one snapshot: an antipodal pair and a dedicated dimension (D = 1/2, 1/2, 1); another: all zero
    W = np.zeros((2, 2, 3))
    W[0, :, 0], W[0, :, 1], W[0, :, 2] = [1, 0], [-1, 0], [0, 1]
    D = tr.dimensionality_trajectories(W[None])  # (1, T=2, F=3)
    assert D.shape == (1, 2, 3)
    np.testing.assert_allclose(D[0, 0], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(D[0, 1], [0, 0, 0])
