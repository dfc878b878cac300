"""The rescale-and-shift fit that undoes an SAE's shrinkage (Rajamanoharan et al. 2024, Figure 9)."""

from __future__ import annotations

import torch

from superposition_lab import sae_metrics
from superposition_lab.sae_rescale import (
    apply_rescale_shift,
    fit_rescale_shift,
    rescale_shift_equations,
    solve_rescale_shift,
)


def _case(seed: int = 0, I: int = 2, B: int = 400, H: int = 5, D: int = 8) -> tuple[torch.Tensor, ...]:
    """True sparse codes f (I, B, D) on unit atoms W (I, H, D) with a bias b: x = W f + b exactly."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(I, H, D, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=1, keepdim=True)
    active = torch.rand(I, B, D, generator=g, dtype=torch.float64) < 0.3
    f = torch.where(active, 0.5 + torch.rand(I, B, D, generator=g, dtype=torch.float64), torch.zeros(()))
    b = torch.randn(I, H, generator=g, dtype=torch.float64)
    return torch.bmm(f, W.transpose(1, 2)) + b[:, None, :], f, W, b


def test_a_known_per_latent_shrinkage_is_restored_exactly() -> None:
    x, f, W, b = _case()
    a_true = torch.linspace(0.4, 0.9, 8, dtype=torch.float64).expand(2, -1)  # shrink each latent by a_j …
    c_true = torch.linspace(-0.2, 0.1, 8, dtype=torch.float64).expand(2, -1)  # … and shift it by c_j
    shrunk = torch.where(f != 0, f * a_true[:, None, :] + c_true[:, None, :], torch.zeros(()))
    scale, shift = fit_rescale_shift(x, shrunk, W, b)
    torch.testing.assert_close(scale, 1 / a_true)  # the inverse map: f = (f̃ − c)/a = f̃/a − c/a
    torch.testing.assert_close(shift, -c_true / a_true)
    restored = apply_rescale_shift(shrunk, scale, shift)
    torch.testing.assert_close(restored, f)
    x_hat = torch.bmm(restored, W.transpose(1, 2)) + b[:, None, :]
    assert sae_metrics.fvu(x, x_hat).max() < 1e-20
    assert (sae_metrics.l0(restored) == sae_metrics.l0(shrunk)).all()  # same support: L0 unchanged


def test_a_global_shrinkage_gives_gamma_one_after_the_fit() -> None:
    x, f, W, b = _case(seed=1)
    shrunk = 0.6 * f
    x_shrunk = torch.bmm(shrunk, W.transpose(1, 2)) + b[:, None, :]
    assert sae_metrics.relative_reconstruction_bias(x - b[:, None, :], x_shrunk - b[:, None, :]).max() < 0.7
    scale, shift = fit_rescale_shift(x, shrunk, W, b)
    torch.testing.assert_close(scale, torch.full_like(scale, 1 / 0.6))
    torch.testing.assert_close(shift, torch.zeros_like(shift), atol=1e-10, rtol=0)


def test_streamed_equations_equal_one_batch_and_the_fit_never_hurts() -> None:
    x, f, W, b = _case(seed=2)
    noisy = (f * 0.7 + 0.05 * torch.randn(f.shape, generator=torch.Generator().manual_seed(3), dtype=f.dtype)) * (
        f != 0
    )
    G1, h1 = rescale_shift_equations(x[:, :150], noisy[:, :150], W, b)
    G2, h2 = rescale_shift_equations(x[:, 150:], noisy[:, 150:], W, b)
    scale, shift = solve_rescale_shift(G1 + G2, h1 + h2)
    one_scale, one_shift = fit_rescale_shift(x, noisy, W, b)
    torch.testing.assert_close(scale, one_scale)
    torch.testing.assert_close(shift, one_shift)

    def err(codes: torch.Tensor) -> torch.Tensor:
        return sae_metrics.mse(x, torch.bmm(codes, W.transpose(1, 2)) + b[:, None, :])

    assert (err(apply_rescale_shift(noisy, scale, shift)) <= err(noisy)).all()  # the identity is a candidate


def test_a_dead_latent_and_a_constant_magnitude_keep_the_identity_part() -> None:
    x, f, W, b = _case(seed=4)
    f[..., 0] = 0.0  # latent 0 never fires: nothing determines its scale or shift
    f[..., 1] = torch.where(f[..., 1] != 0, 0.8, 0.0)  # latent 1 fires at one magnitude: scale and shift collide
    x = torch.bmm(f, W.transpose(1, 2)) + b[:, None, :]
    scale, shift = fit_rescale_shift(x, f, W, b)
    assert torch.isfinite(scale).all() and torch.isfinite(shift).all()
    torch.testing.assert_close(scale[:, 0], torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(shift[:, 0], torch.zeros(2, dtype=torch.float64))
    # latent 1: the data fix only a·0.8 + c = 0.8; the minimum-norm departure from (1, 0) is (0, 0)
    torch.testing.assert_close(scale[:, 1] * 0.8 + shift[:, 1], torch.full((2,), 0.8, dtype=torch.float64))
    torch.testing.assert_close(apply_rescale_shift(f, scale, shift), f)
