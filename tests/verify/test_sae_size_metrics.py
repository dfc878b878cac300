"""Metrics across dictionary sizes: a d_sae sweep in one run, feature splitting, the power-law fit."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
import torch

from verify.checks import judge_check
from verify.experiments.sae import _ground_truth, run_sae
from verify.experiments.sae_config import SAEConfig
from verify.experiments.sae_measures import sae_metrics
from verify.experiments.sae_size_metrics import family_winners, power_law_fit, size_metrics
from verify.kind import Outcome, RunContext
from verify.registry import ANALYTIC
from verify.spec import Check, converter

BASE = dict(variant="l1", n_features=5, n_dims=8, d_sae=8, density=0.2, steps=30, eval_samples=2048)


def config(**kw) -> SAEConfig:
    return converter.structure({**BASE, **kw}, SAEConfig)


# ---------------------------------------------------------------- the power-law fit
def test_an_exact_power_law_is_fitted_exactly() -> None:
    d = np.array([8.0, 16, 32, 64])
    fit = power_law_fit(d, 3.0 * d**-0.5)
    assert fit.exponent == pytest.approx(-0.5) and fit.r2 == pytest.approx(1.0)
    assert fit.stderr == pytest.approx(0.0, abs=1e-12) and fit.upper() == pytest.approx(-0.5)


def test_the_interval_is_the_t_interval_of_the_slope() -> None:
    # y = 1/x with log-residuals ±e, symmetric about the line: slope −1, σ̂² = RSS/(n − 2) by hand
    x = np.array([1.0, 2.0, 4.0, 8.0])
    e = 0.1
    y = x**-1.0 * np.exp(np.array([e, -e, -e, e]))
    fit = power_law_fit(x, y)
    u = np.log(x)
    slope_se = np.sqrt((4 * e**2) / 2 / ((u - u.mean()) ** 2).sum())  # σ̂² = RSS/(n − 2)
    assert fit.exponent == pytest.approx(-1.0) and fit.stderr == pytest.approx(slope_se)
    assert fit.upper() == pytest.approx(-1.0 + 4.302653 * slope_se, rel=1e-5)  # t_{0.975, 2}
    assert 0 < fit.r2 < 1


def test_a_fit_needs_three_positive_points() -> None:
    with pytest.raises(ValueError, match="3 points"):
        power_law_fit(np.array([1.0, 2.0]), np.array([1.0, 0.5]))
    assert np.isnan(power_law_fit(np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 0.5])).exponent)


def _sweep(fvu: list[list[float]]) -> Outcome:
    sizes = [8, 16, 32, 64]
    return Outcome(points=[{"d_sae": d} for d in sizes], arrays={"fvu": np.array(fvu)})


def test_scaling_metrics_are_sweep_wide_and_flip_the_verdict() -> None:
    d = np.array([8.0, 16, 32, 64])[:, None]
    power = _sweep((0.8 * d ** np.array([[-0.5, -0.4]])).tolist())  # two seeds
    flat = _sweep((0.01 + 0.002 * np.array([[1, -1], [-1, 1], [1, 1], [-1, -1]])).tolist())
    b = size_metrics["scaling_exponent"].fn(power, None)
    assert b.shape == (4, 2) and np.allclose(b, [[-0.5, -0.4]] * 4)
    assert size_metrics["scaling_exponent"].sweep_wide
    c = config(d_sae=[8, 16, 32, 64])
    check = Check(metric="scaling_exponent_upper", rule="at_most", expect=0.0)
    assert judge_check(check, power, c, sae_metrics, ANALYTIC).detail == "2/2 cases pass"  # once per seed
    assert not judge_check(check, flat, c, sae_metrics, ANALYTIC).passed
    assert not judge_check(
        Check(metric="scaling_r2", rule="at_least", expect=0.95), flat, c, sae_metrics, ANALYTIC
    ).passed


def test_scaling_metrics_need_a_size_sweep() -> None:
    o = Outcome(points=[{"k": 1.0}, {"k": 2.0}, {"k": 4.0}], arrays={"fvu": np.ones((3, 1))})
    with pytest.raises(ValueError, match="d_sae a list"):
        size_metrics["scaling_exponent"].fn(o, None)


# ---------------------------------------------------------------- feature splitting
def test_each_variant_is_won_by_its_strongest_latent() -> None:
    response = np.array([[[0.0, 2.0, 1.0], [0.0, 0.5, 3.0], [0.0, 0.0, 0.0]]])  # (1, V = 3, D = 3)
    assert family_winners(response).tolist() == [[1, 2, -1]]  # no latent fires on the third


def test_family_metrics_count_distinct_winners_and_their_cosines() -> None:
    # two variants in R²: e₁ and e₂; latent 0's atom is e₁, latent 1's is (e₁ + e₂)/√2
    dirs = np.eye(2)[None]  # (S = 1, H, F)
    W = np.array([[1.0, 1 / np.sqrt(2)], [0.0, 1 / np.sqrt(2)]])
    split = np.array([[1.0, 0.0], [0.0, 1.0]])  # variant k → latent k
    merged = np.array([[0.0, 1.0], [0.0, 1.0]])  # both → latent 1
    o = Outcome(
        points=[{"d_sae": 2}, {"d_sae": 4}],
        arrays={
            "family_response": np.stack([merged, split])[:, None],
            "W_dec": np.stack([W, W])[:, None],
            "directions": dirs,
        },
    )
    assert size_metrics["family_latents"].fn(o, None).tolist() == [[1.0], [2.0]]
    np.testing.assert_allclose(
        size_metrics["family_variant_cos"].fn(o, None), [[1 / np.sqrt(2)], [(1 + 1 / np.sqrt(2)) / 2]]
    )
    with pytest.raises(ValueError, match="variants"):
        size_metrics["family_latents"].fn(Outcome(points=[{}], arrays={}), None)


# ---------------------------------------------------------------- a d_sae sweep with a feature family, run
@pytest.fixture(scope="module")
def family_run() -> tuple[Outcome, SAEConfig]:
    c = config(variants=2, variant_spread=0.5, directions="orthogonal", d_sae=[4, 8], seeds=2)
    return run_sae(c, RunContext(device="cpu")), c


def test_a_size_sweep_pads_the_latent_axes_to_the_largest_size(family_run) -> None:
    o, c = family_run
    assert o.points == [{"d_sae": 4}, {"d_sae": 8}]
    assert o.arrays["W_dec"].shape == (2, 2, 8, 8) and o.arrays["b_enc"].shape == (2, 2, 8)
    assert o.arrays["family_response"].shape == (2, 2, 2, 8)
    assert o.arrays["fvu"].shape == (2, 2) and o.arrays["family_direction"].shape == (2, 8)
    assert (o.arrays["W_dec"][0, :, :, 4:] == 0).all() and (o.arrays["family_response"][0, :, :, 4:] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(o.arrays["W_dec"][1], axis=1), 1.0, atol=1e-5)
    for name in ("family_latents", "family_variant_cos"):
        assert size_metrics[name].fn(o, c).shape == (2, 2), name
    with pytest.raises(ValueError, match="3 points"):  # two sizes: a line but no interval
        size_metrics["scaling_exponent"].fn(o, c)


def test_each_size_trains_as_its_own_run(family_run) -> None:
    """The rows of a sweep are the runs at a single size: one program per size, nothing shared."""
    o, c = family_run
    alone = run_sae(attrs.evolve(c, d_sae=4), RunContext(device="cpu"))
    np.testing.assert_array_equal(alone.arrays["W_dec"][0], o.arrays["W_dec"][0, :, :, :4])
    np.testing.assert_array_equal(alone.arrays["fvu"][0], o.arrays["fvu"][0])


def test_the_family_directions_sit_at_the_derived_cosines(family_run) -> None:
    o, _ = family_run
    dirs, d0 = o.arrays["directions"], o.arrays["family_direction"]  # (S, H, F), (S, H)
    eps = 0.5
    np.testing.assert_allclose(np.einsum("sh,shv->sv", d0, dirs[:, :, :2]), 1 / np.sqrt(1 + eps**2), atol=1e-6)
    np.testing.assert_allclose(np.einsum("sh,sh->s", dirs[:, :, 0], dirs[:, :, 1]), 1 / (1 + eps**2), atol=1e-6)


def test_density_decay_gives_a_zipf_spectrum_of_firing_rates() -> None:
    o = run_sae(config(density=0.5, density_decay=1.0, steps=0, eval_samples=512), RunContext(device="cpu"))
    assert np.isfinite(o.arrays["fvu"]).all()
    c = config(density=0.5, density_decay=1.0)
    data = _ground_truth(c, [{}], torch.eye(8, 5)[None])
    np.testing.assert_allclose(data.firing[0].numpy(), 0.5 / np.arange(1, 6))
