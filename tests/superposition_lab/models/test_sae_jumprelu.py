"""JumpReLU SAE (arXiv:2407.14435): forward, L0 term, straight-through pseudo-derivatives for θ."""

from __future__ import annotations

import math

import pytest
import torch

from superposition_lab.models import JumpReLUSAE
from superposition_lab.models.sae_jumprelu import jumprelu, step
from tests.superposition_lab.models.hand_gradient import assert_hand_gradient_is_autograds, assert_same_training, pair


def test_forward_keeps_values_above_the_threshold_only() -> None:
    z = torch.tensor([[[0.05, 0.2, 0.5, -1.0]]])
    theta = torch.tensor([[[0.1, 0.3, 0.3, 0.1]]])
    eps = torch.tensor([[[0.01]]])
    torch.testing.assert_close(jumprelu(z, theta, eps), torch.tensor([[[0.0, 0.0, 0.5, 0.0]]]))
    torch.testing.assert_close(step(z, theta, eps), torch.tensor([[[0.0, 0.0, 1.0, 0.0]]]))


def test_pseudo_derivatives_eq_11_and_12() -> None:
    # z within ε/2 of θ gets the rectangle kernel; far away gets nothing
    eps = torch.tensor([[[0.2]]])
    z = torch.tensor([[[0.25], [0.35], [0.9]]], requires_grad=True)  # (1, 3, 1): batch of 3, one latent
    theta = torch.tensor([[[0.3]]], requires_grad=True)
    g = torch.tensor([[[1.0], [2.0], [4.0]]])
    dz, dtheta = torch.autograd.grad(jumprelu(z, theta, eps), [z, theta], g)
    # eq. 11: ð/ðθ = −(θ/ε) K((z − θ)/ε) = −1.5 for the first two, 0 for the third; summed with g
    torch.testing.assert_close(dtheta, torch.tensor([[[-1.5 * (1.0 + 2.0)]]]))
    torch.testing.assert_close(dz, torch.tensor([[[0.0], [2.0], [4.0]]]))  # H(z − θ)·g
    dz, dtheta = torch.autograd.grad(step(z, theta, eps), [z, theta], g)
    # eq. 12: ð/ðθ H = −(1/ε) K = −5 for the first two; no gradient to z
    torch.testing.assert_close(dtheta, torch.tensor([[[-5.0 * 3.0]]]))
    torch.testing.assert_close(dz, torch.zeros_like(z))


def test_step_pseudo_gradient_estimates_minus_the_density_at_theta() -> None:
    # d/dθ E[H(z − θ)] = −p_z(θ); for z ~ U[0, 2] that is −1/2, and the STE is a kernel estimate of it
    z = 2.0 * torch.rand(1, 200_000, 1, generator=torch.Generator().manual_seed(0))
    theta = torch.tensor([[[0.7]]], requires_grad=True)
    (dtheta,) = torch.autograd.grad(step(z, theta, torch.tensor([[[0.05]]])).mean(), [theta])
    assert abs(float(dtheta) + 0.5) < 0.03


def hand_model(penalty: float = 0.1) -> JumpReLUSAE:
    m = JumpReLUSAE(
        1, 2, 2, generator=torch.Generator().manual_seed(0), penalty=penalty, bandwidth=0.1, threshold_init=0.25
    )
    with torch.no_grad():
        m.W_dec.copy_(torch.eye(2)[None])
        m.W_enc.copy_(torch.eye(2)[None])
    return m


def test_hand_computed_sae_loss() -> None:
    m = hand_model(penalty=0.1)
    torch.testing.assert_close(m.threshold, torch.full((1, 2), 0.25))
    x = torch.tensor([[[0.5, 0.2], [0.1, 0.9]]])
    torch.testing.assert_close(m.encode(x), torch.tensor([[[0.5, 0.0], [0.0, 0.9]]]))
    t = m.loss_terms(x)
    # errors (0, 0.2) and (0.1, 0): mse = (0.04 + 0.01)/2; one active latent per sample: l0 = 0.1·1
    torch.testing.assert_close(t["mse"], torch.tensor([0.025]))
    torch.testing.assert_close(t["l0"], torch.tensor([0.1]))


def test_l0_term_trains_thresholds_only() -> None:
    m = hand_model(penalty=1.0)
    x = torch.tensor(
        [[[0.27, 0.0], [0.6, 0.24]]]
    )  # z within ε/2 = 0.05 of θ = 0.25: first row latent 0, second latent 1
    l0 = m.loss_terms(x)["l0"].sum()
    g_log_theta, g_enc = torch.autograd.grad(l0, [m.log_threshold, m.W_enc], allow_unused=True)
    assert g_enc is None or torch.count_nonzero(g_enc) == 0
    # ∂/∂ log θ = θ · ð/ðθ = θ · (−1/ε) · (count in window)/B = 0.25 · (−10) · 1/2 per latent
    torch.testing.assert_close(g_log_theta, torch.tensor([[-1.25, -1.25]]))
    assert math.isclose(float(m.bandwidth[0]), 0.1, rel_tol=1e-6)


# ---- form = "shifted_relu": the SAE overview's "JumpReLU" (seeds/003 §5.2), ReLU(z − θ), not the paper's model


def test_shifted_relu_hand_computed_code_and_loss() -> None:
    m = hand_model(penalty=0.1)
    m.form = "shifted_relu"
    x = torch.tensor([[[0.5, 0.2], [0.1, 0.9]]])
    # θ = 0.25: the same latents fire as with the jump, but each passes z − θ, not z (continuous at θ)
    torch.testing.assert_close(m.encode(x), torch.tensor([[[0.25, 0.0], [0.0, 0.65]]]))
    t = m.loss_terms(x)
    # errors (0.25, 0.2) and (0.1, 0.25): mse = (0.1025 + 0.0725)/2; the L0 term is the paper's
    torch.testing.assert_close(t["mse"], torch.tensor([0.0875]))
    torch.testing.assert_close(t["l0"], torch.tensor([0.1]))


def test_shifted_relu_theta_gets_the_ordinary_reconstruction_gradient() -> None:
    m = JumpReLUSAE(1, 2, 2, generator=torch.Generator().manual_seed(0), threshold_init=0.25, form="shifted_relu")
    with torch.no_grad():
        m.W_dec.copy_(torch.eye(2)[None])
        m.W_enc.copy_(torch.eye(2)[None])
    x = torch.tensor([[[0.5, 0.0]]])  # latent 0: z = 0.5 > θ, f = 0.25, error 0.25; latent 1 silent
    (g,) = torch.autograd.grad(m.loss_terms(x)["mse"].sum(), [m.log_threshold])
    # mse = (x − (z − θ))²: ∂/∂θ = 2·0.25, ∂/∂log θ = θ · 0.5 = 0.125; the jump's θ gets 0 here (z far from θ)
    torch.testing.assert_close(g, torch.tensor([[0.125, 0.0]]))
    jump = JumpReLUSAE(1, 2, 2, generator=torch.Generator().manual_seed(0), threshold_init=0.25)
    jump.load_state_dict(m.state_dict())
    (g,) = torch.autograd.grad(jump.loss_terms(x)["mse"].sum(), [jump.log_threshold])
    torch.testing.assert_close(g, torch.zeros(1, 2))


def test_default_form_is_the_papers_jump_and_unknown_form_is_an_error() -> None:
    import pytest

    assert JumpReLUSAE(1, 2, 2, generator=torch.Generator().manual_seed(0)).form == "jump"
    with pytest.raises(ValueError, match="form must be one of jump, shifted_relu"):
        JumpReLUSAE(1, 2, 2, generator=torch.Generator().manual_seed(0), form="relu")


def test_direct_threshold_is_saelens_parameterisation() -> None:
    """threshold_param = "direct" stores θ itself (SAELens): same forward pass and loss as log θ at the
    same θ; the θ-gradient is the log one divided by θ (chain rule), and θ is clamped at 0 after a step."""
    import pytest

    g = torch.Generator
    x = torch.rand(2, 16, 4, generator=g().manual_seed(1))
    log_form = JumpReLUSAE(2, 4, 6, generator=g().manual_seed(0), threshold_init=0.1)
    direct = JumpReLUSAE(2, 4, 6, generator=g().manual_seed(0), threshold_init=0.1, threshold_param="direct")
    torch.testing.assert_close(direct.threshold, log_form.threshold)
    a, b = log_form.loss_terms(x), direct.loss_terms(x)
    for name in a:
        torch.testing.assert_close(a[name], b[name])
    (g_log,) = torch.autograd.grad(sum(a.values()).sum(), [log_form.log_threshold])
    (g_dir,) = torch.autograd.grad(sum(b.values()).sum(), [direct.theta])
    torch.testing.assert_close(g_dir, g_log / log_form.threshold.detach())
    with torch.no_grad():
        direct.theta.sub_(1.0)
    direct.after_step()
    assert float(direct.threshold.detach().min()) == 0.0
    with pytest.raises(ValueError, match="threshold_param"):
        JumpReLUSAE(1, 2, 2, generator=g().manual_seed(0), threshold_param="exp")


def _jumprelu_pair(I: int, H: int, D: int, seed: int, **kw):
    penalty = torch.rand(I, generator=torch.Generator().manual_seed(seed)).tolist()
    # θ and ε put many pre-activations inside the rectangle kernel's window
    return pair(JumpReLUSAE, I, H, D, seed, penalty=penalty, bandwidth=0.3, threshold_init=0.2, **kw)


@pytest.mark.parametrize("form", ["jump", "shifted_relu"])
@pytest.mark.parametrize("threshold_param", ["log", "direct"])
@pytest.mark.parametrize("shape", [(1, 1024, 32, 64), (3, 100, 7, 13), (6, 512, 12, 48)])
def test_hand_gradient_is_autograds(form: str, threshold_param: str, shape) -> None:
    I, B, H, D = shape
    a, b, g = _jumprelu_pair(I, H, D, seed=I + D, form=form, threshold_param=threshold_param)
    assert_hand_gradient_is_autograds(a, b, torch.relu(torch.randn(I, B, H, generator=g)))


@pytest.mark.parametrize("threshold_param", ["log", "direct"])
def test_training_on_the_hand_gradient_follows_autograd(threshold_param: str) -> None:
    a, b, _ = _jumprelu_pair(2, 8, 16, seed=5, threshold_param=threshold_param)
    assert_same_training(a, b)
