"""SAE metrics against ground truth: γ, L0, FVU, dead fraction, MMCS (plain and matched), absorption;
the streaming SAEStatistics behind them."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analytic import sae as analytic_sae
from superposition_lab import sae_metrics

SETTINGS = settings(deadline=None, derandomize=True, max_examples=20)


@SETTINGS
@given(c=st.floats(0.05, 5.0), seed=st.integers(0, 2**16))
def test_gamma_of_a_rescaled_reconstruction_is_the_scale(c: float, seed: int) -> None:
    x = torch.randn(2, 64, 5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gamma = sae_metrics.relative_reconstruction_bias(x, c * x)
    torch.testing.assert_close(gamma, torch.full((2,), c, dtype=torch.float64))


@SETTINGS
@given(seed=st.integers(0, 2**16))
def test_gamma_agrees_with_the_analytic_helper(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 50, 3, generator=g, dtype=torch.float64)
    x_hat = x * 0.7 + 0.05 * torch.randn(1, 50, 3, generator=g, dtype=torch.float64)
    expect = analytic_sae.relative_reconstruction_bias(x[0].numpy(), x_hat[0].numpy())
    assert abs(float(sae_metrics.relative_reconstruction_bias(x, x_hat)) - expect) < 1e-12


def test_gamma_is_nan_without_overlap() -> None:
    x = torch.ones(1, 4, 2)
    assert torch.isnan(sae_metrics.relative_reconstruction_bias(x, torch.zeros_like(x))).all()


def test_l0_mse_fvu_dead_fraction() -> None:
    f = torch.tensor([[[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]])  # (1, 2, 3): L0 2 and 1; latent 1 never fires
    assert sae_metrics.l0_per_sample(f).tolist() == [[2, 1]]
    assert float(sae_metrics.l0(f)) == 1.5
    assert float(sae_metrics.dead_fraction(f)) == 1 / 3
    x = torch.tensor([[[1.0, 0.0], [3.0, 2.0]]])
    assert float(sae_metrics.mse(x, torch.zeros_like(x))) == (1 + 13) / 2
    assert float(sae_metrics.fvu(x, x)) == 0.0
    mean = x.mean(dim=1, keepdim=True).expand_as(x)
    assert abs(float(sae_metrics.fvu(x, mean)) - 1.0) < 1e-6  # predicting the mean explains nothing


def test_dead_fraction_counts_a_latent_alive_from_min_fires() -> None:
    # latents fire on 0, 1, 2 and 4 of 4 samples (a negative code counts as firing)
    f = torch.tensor([[[0.0, 1.0, 2.0, 1.0], [0.0, 0.0, -1.0, 1.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]]])
    assert [float(sae_metrics.dead_fraction(f, k)) for k in (1, 2, 3, 5)] == [0.25, 0.5, 0.75, 1.0]
    stats = sae_metrics.SAEStatistics(1, 0, 4)
    stats.add_codes(f[:, :1])
    stats.add_codes(f[:, 1:])  # counts add up over batches
    assert stats.fires.tolist() == [[0, 1, 2, 4]] and float(stats.dead_fraction(2)) == 0.5


def test_mmcs_permutations_duplicates_and_matching() -> None:
    D = torch.eye(3)[None]  # three true features e1, e2, e3
    perm = D[:, :, [2, 0, 1]]
    assert float(sae_metrics.mmcs(D, perm)) == 1.0 and float(sae_metrics.matched_mmcs(D, perm)) == 1.0
    assert sae_metrics.match_features(D, perm).tolist() == [[1, 2, 0]]
    # one atom between e1 and e2 plus e3: MMCS credits the shared atom twice, the matching only once
    shared = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]]) / torch.tensor([2**0.5, 1.0])
    assert abs(float(sae_metrics.mmcs(D, shared)) - (2 / 2**0.5 + 1) / 3) < 1e-6
    assert abs(float(sae_metrics.matched_mmcs(D, shared)) - (1 / 2**0.5 + 1) / 3) < 1e-6
    assert sae_metrics.match_features(D, shared)[0].tolist().count(-1) == 1
    assert float(sae_metrics.recovered_fraction(D, shared)) == 1 / 3


def test_cosine_matrix_normalises_and_checks_shapes() -> None:
    D = torch.tensor([[[2.0], [0.0]]])
    W = torch.tensor([[[3.0, 1.0], [0.0, 1.0]]])
    torch.testing.assert_close(sae_metrics.cosine_matrix(D, W), torch.tensor([[[1.0, 2**-0.5]]]))
    try:
        sae_metrics.cosine_matrix(D, torch.zeros(1, 3, 2))
    except ValueError:
        pass
    else:
        raise AssertionError("mismatched dims must be refused")


def test_absorption_rate_and_column_cosine() -> None:
    c = torch.tensor([[[1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]])  # both active on samples 0, 1
    f = torch.tensor([[[0.0, 1.0], [2.0, 1.0], [1.0, 0.0], [0.0, 1.0]]])  # parent latent 0 silent on sample 0
    assert float(sae_metrics.absorption_rate(c, f, 0, 1, torch.tensor([0]))) == 0.5
    assert torch.isnan(sae_metrics.absorption_rate(c[:, 2:], f[:, 2:], 0, 1, torch.tensor([0]))).all()
    W = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    D = torch.eye(2)[None]
    assert abs(float(sae_metrics.column_cosine(W, torch.tensor([1]), D, torch.tensor([0]))) - 2**-0.5) < 1e-6
    np.testing.assert_allclose(sae_metrics.column_cosine(W, torch.tensor([0]), D, torch.tensor([1])).numpy(), [0.0])


@SETTINGS
@given(seed=st.integers(0, 2**16), cuts=st.lists(st.integers(1, 30), min_size=1, max_size=4))
def test_streaming_in_pieces_equals_one_batch(seed: int, cuts: list[int]) -> None:
    """SAEStatistics over any split of a sample gives the one-batch functions' numbers (up to summation order)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 100, 3, generator=g, dtype=torch.float64) + 0.5  # an offset: FVU must centre
    x_hat = 0.8 * x + 0.1 * torch.randn(2, 100, 3, generator=g, dtype=torch.float64)
    f = torch.relu(torch.randn(2, 100, 6, generator=g, dtype=torch.float64) - 1.0)
    f[:, :, 5] = 0  # a dead latent
    c = (torch.rand(2, 100, 2, generator=g) < 0.5).double()
    parent_latent = torch.tensor([0, 1])
    stats = sae_metrics.SAEStatistics(2, 3, 6)
    bounds = sorted({0, 100, *(min(99, 3 * k) for k in cuts)})
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        stats.add(x[:, lo:hi], x_hat[:, lo:hi], f[:, lo:hi])
        stats.add_absorption(c[:, lo:hi], f[:, lo:hi], 0, 1, parent_latent)
    assert stats.n_codes == stats.n_inputs == 100
    torch.testing.assert_close(stats.l0(), sae_metrics.l0(f))
    torch.testing.assert_close(stats.mse(), sae_metrics.mse(x, x_hat))
    torch.testing.assert_close(stats.fvu(), sae_metrics.fvu(x, x_hat))
    torch.testing.assert_close(stats.gamma(), sae_metrics.relative_reconstruction_bias(x, x_hat))
    torch.testing.assert_close(stats.dead_fraction(), sae_metrics.dead_fraction(f))
    torch.testing.assert_close(
        stats.absorption_rate(), sae_metrics.absorption_rate(c, f, 0, 1, parent_latent), equal_nan=True
    )
    per = sae_metrics.l0_per_sample(f)
    assert stats.l0_min().tolist() == per.min(dim=1).values.double().tolist()
    assert stats.l0_max().tolist() == per.max(dim=1).values.double().tolist()
    # FVU is centred: Σ‖x − x̂‖² / Σ‖x − x̄‖², whatever the inputs' mean
    centred = ((x - x.mean(dim=1, keepdim=True)) ** 2).sum(dim=(1, 2))
    torch.testing.assert_close(stats.fvu(), ((x - x_hat) ** 2).sum(dim=(1, 2)) / centred)


def test_one_batch_functions_keep_the_inputs_dtype() -> None:
    x = torch.rand(2, 50, 3, generator=torch.Generator().manual_seed(0))  # float32
    for fn in (sae_metrics.mse, sae_metrics.fvu, sae_metrics.relative_reconstruction_bias):
        assert fn(x, 0.9 * x).dtype == torch.float32
    torch.testing.assert_close(sae_metrics.relative_reconstruction_bias(x, 0.9 * x), torch.full((2,), 0.9))
