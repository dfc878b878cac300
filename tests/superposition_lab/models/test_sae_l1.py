"""L1 SAE (Bricken et al. 2023): hand-computed forward and loss, per-instance λ, resampling."""

from __future__ import annotations

import torch

from superposition_lab.models import L1SAE


def tiny(penalty=0.5, **kw) -> L1SAE:
    """One instance, m = 2, two latents with atoms e1, e2 and the encoder = identity."""
    m = L1SAE(1, 2, 2, generator=torch.Generator().manual_seed(0), penalty=penalty, **kw)
    with torch.no_grad():
        m.W_dec.copy_(torch.eye(2)[None])
        m.W_enc.copy_(torch.eye(2)[None])
        m.b_enc.copy_(torch.tensor([[-0.25, 0.0]]))
        m.b_dec.zero_()
    return m


def test_hand_computed_forward_and_loss() -> None:
    m = tiny()
    x = torch.tensor([[[1.0, -0.5], [0.2, 0.3]]])  # (1, 2, 2)
    f = m.encode(x)
    # f = ReLU(x + b_enc): [0.75, 0] and [0, 0.3]
    torch.testing.assert_close(f, torch.tensor([[[0.75, 0.0], [0.0, 0.3]]]))
    terms = m.loss_terms(x)
    # errors: (0.25, −0.5) → 0.3125 and (0.2, 0) → 0.04; mean 0.17625. L1: λ·mean(0.75, 0.3) = 0.2625
    torch.testing.assert_close(terms["mse"], torch.tensor([0.17625]))
    torch.testing.assert_close(terms["l1"], torch.tensor([0.2625]))


def test_soft_threshold_is_the_code_for_aligned_atoms() -> None:
    # with b_enc = −λ/2 the code is the closed-form optimum (a − λ/2)₊ of analytic/sae.py
    lam = 0.6
    m = tiny(penalty=lam)
    with torch.no_grad():
        m.b_enc.fill_(-lam / 2)
    a = torch.linspace(0, 1, 11)
    x = torch.stack([a, torch.zeros_like(a)], dim=-1)[None]  # (1, 11, 2)
    torch.testing.assert_close(m.encode(x)[0, :, 0], torch.clamp(a - lam / 2, min=0))


def test_penalty_is_per_instance() -> None:
    m = L1SAE(3, 4, 5, generator=torch.Generator().manual_seed(1), penalty=[0.0, 0.1, 0.2])
    x = torch.rand(3, 6, 4, generator=torch.Generator().manual_seed(2))
    l1 = m.loss_terms(x)["l1"]
    norm = m.encode(x).sum(-1).mean(1)
    torch.testing.assert_close(l1, torch.tensor([0.0, 0.1, 0.2]) * norm)


def test_resampling_revives_dead_latents_from_high_loss_inputs() -> None:
    m = tiny(dead_window=2, resample_at=[2])
    with torch.no_grad():
        m.b_enc[0, 1] = -10.0  # latent 1 is dead
    x = torch.tensor([[[0.5, 0.0], [0.0, 0.9]]])  # the second input is lost entirely: the high-loss one
    for _ in range(2):
        m.loss_terms(x)
        m.after_step()  # step 2 is a resampling step
    assert m.resampled == [(2, [1])]
    # the revived atom points along the unexplained input e2; encoder row: same direction at the mean
    # alive encoder norm × 0.2; encoder bias 0; its dead counter is reset
    torch.testing.assert_close(m.W_dec[0, :, 1], torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(m.W_enc[0, :, 1], torch.tensor([0.0, 0.2]))
    assert m.b_enc[0, 1] == 0.0 and int(m.steps_since_fired[0, 1]) == 0
    torch.testing.assert_close(m.W_dec[0, :, 0], torch.tensor([1.0, 0.0]))  # alive latent untouched
    assert m.encode(x)[0, 1, 1] > 0  # it fires again


def test_resampling_from_the_residual_and_scale() -> None:
    m = tiny(dead_window=1, resample_at=[1], resample_from="residual", resample_scale=1.0)
    with torch.no_grad():
        m.b_enc[0, 1] = -10.0
        m.b_dec.copy_(torch.tensor([[0.0, 0.3]]))
    x = torch.tensor([[[0.0, 1.0]]])  # residual x − x̂ = (0, 0.7) (latent 0 silent, b_dec = 0.3 e2)
    m.loss_terms(x)
    m.after_step()
    torch.testing.assert_close(m.W_dec[0, :, 1], torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(m.W_enc[0, :, 1], torch.tensor([0.0, 1.0]))
