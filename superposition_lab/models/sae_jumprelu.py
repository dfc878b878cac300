"""JumpReLU SAE — Rajamanoharan et al. 2024, "Jumping Ahead: Improving Reconstruction Fidelity with
JumpReLU Sparse Autoencoders", arXiv:2407.14435.

§3: a latent passes its pre-activation z only above a learned threshold θ > 0, and sparsity is
penalised by L0 directly:

    f = JumpReLU_θ(z) = z · H(z − θ),   z = W_enc (x − b_dec) + b_enc,
    loss = ‖x − x̂‖² + λ ‖f‖₀,   ‖f‖₀ = Σ_j H(z_j − θ_j).

H has zero derivative almost everywhere, so §4 trains θ with straight-through pseudo-derivatives
(eq. 11–12) built from a kernel K of bandwidth ε — here the rectangle K(u) = 1[|u| < ½]:

    ð/ðθ JumpReLU_θ(z) = −(θ/ε) K((z − θ)/ε),      ð/ðθ H(z − θ) = −(1/ε) K((z − θ)/ε),

while the derivative in z is the ordinary one: H(z − θ) for JumpReLU and 0 for the step. So the L0
term trains only the thresholds; the encoder learns from the reconstruction. θ is stored as log θ
(as in the paper's pseudo-code) to stay positive; ε and λ are per-instance.

`form = "shifted_relu"` is the SAE overview's simplification (seeds/003, §5.2), not the paper's model:
its "JumpReLU" is ReLU(z − θ) with a learned θ — a ReLU whose bias is shifted by θ, continuous at
the threshold (active values start at 0, not at θ). Only the forward changes: f = ReLU(z − θ), with
its ordinary gradients in z and θ; the L0 term, its straight-through θ-gradient and the
parametrisation are the paper's, so the comparison isolates the nonlinearity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from superposition_lab.models.sae import SAE, one_of, squared_error_grad

__all__ = ["JumpReLUSAE", "jumprelu", "step", "FORMS", "THRESHOLD_PARAMS"]

# The nonlinearity: "jump" (the paper's z · H(z − θ)) or "shifted_relu" (the overview's ReLU(z − θ)).
FORMS = ("jump", "shifted_relu")
# How θ is a parameter: "log" (the paper's pseudo-code: log θ, so Adam moves θ by a factor of about
# e^{±lr} per step) or "direct" (SAELens 6.54: θ itself, clamped at 0 after each step, so it moves by
# about ±lr — from a small start it reaches a useful size in far fewer steps).
THRESHOLD_PARAMS = ("log", "direct")


def _rectangle(z: torch.Tensor, theta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """K((z − θ)/ε)/ε with the rectangle kernel K(u) = 1[−½ < u < ½]."""
    inside = torch.lt((z - theta).abs_(), eps / 2, out=torch.empty_like(z))  # 1/0 as floats at once (cheaper)
    return inside.div_(eps)


def _sum_to(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient back to the shape of the tensor it came from."""
    while grad.ndim > len(shape):
        grad = grad.sum(dim=0)
    for d, n in enumerate(shape):
        if n == 1 and grad.shape[d] != 1:
            grad = grad.sum(dim=d, keepdim=True)
    return grad


class _JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, theta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z, theta, eps)
        return z * (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        z, theta, eps = ctx.saved_tensors
        dz = (z > theta).to(g.dtype) * g  # the ordinary derivative away from the jump
        dtheta = -(theta * _rectangle(z, theta, eps)) * g  # eq. 11
        return dz, _sum_to(dtheta, theta.shape), None


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, theta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z, theta, eps)
        return (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        z, theta, eps = ctx.saved_tensors
        dtheta = -_rectangle(z, theta, eps) * g  # eq. 12; no gradient to z
        return torch.zeros_like(z), _sum_to(dtheta, theta.shape), None


def jumprelu(z: torch.Tensor, theta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z · H(z − θ) with the straight-through θ-gradient of eq. 11 (θ, ε broadcast against z)."""
    return _JumpReLU.apply(z, theta, eps)


def step(z: torch.Tensor, theta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """H(z − θ) with the straight-through θ-gradient of eq. 12 and zero gradient in z."""
    return _Step.apply(z, theta, eps)


class JumpReLUSAE(SAE):
    """Learned thresholds θ = exp(log_threshold) (I, D); L0 penalty λ and bandwidth ε per instance."""

    penalty: torch.Tensor  # buffer (I,)
    bandwidth: torch.Tensor  # buffer (I,)

    HAND_GRADIENT_READS = (*SAE.HAND_GRADIENT_READS, "threshold")

    def __init__(
        self,
        *args: Any,
        penalty: float | Sequence[float] = 0.01,
        bandwidth: float | Sequence[float] = 0.05,
        threshold_init: float = 0.05,
        form: str = "jump",
        threshold_param: str = "log",
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)  # sizes, generator, device, dtype, dead_window: see SAE
        self.form = one_of("form", form, FORMS)
        self.threshold_param = one_of("threshold_param", threshold_param, THRESHOLD_PARAMS)
        device, dtype = self.W_dec.device, self.W_dec.dtype
        log_theta = torch.full(
            (self.n_instances, self.d_sae), float(torch.log(torch.tensor(threshold_init))), device=device, dtype=dtype
        )
        if threshold_param == "log":
            self.log_threshold = nn.Parameter(log_theta)  # (I, D)
        else:
            self.theta = nn.Parameter(torch.exp(log_theta))  # (I, D)
        self.register_buffer("penalty", self.hyper(penalty))  # λ, (I,)
        self.register_buffer("bandwidth", self.hyper(bandwidth))  # ε, (I,)

    @property
    def threshold(self) -> torch.Tensor:
        if self.threshold_param == "direct":
            return self.theta  # θ, (I, D)
        return torch.exp(self.log_threshold)  # θ, (I, D)

    @torch.no_grad()
    def after_step(self) -> None:
        """The base's step bookkeeping; a directly stored θ is clamped at 0 (SAELens's projection)."""
        super().after_step()
        if self.threshold_param == "direct":
            self.theta.clamp_(min=0.0)

    @torch.no_grad()
    def loss_and_grads(
        self, x: torch.Tensor, importance: torch.Tensor | None = None, *, loss: bool = True
    ) -> torch.Tensor | None:
        """The objective (I,) = E‖x − x̂‖² + λ E‖f‖₀ on the batch x (I, B, H), with the gradient of its
        sum written to each parameter's `.grad` by hand: autograd's operations on `loss_terms` in
        autograd's order — the straight-through θ-gradients of eq. 11–12 as `_JumpReLU` and `_Step`
        compute them — so the gradients are autograd's bit for bit (b_dec's within float rounding:
        `centred_bias_grad`), pinned by tests/superposition_lab/models/test_sae_jumprelu.py, without
        its per-node overhead. With `loss=False` the objective is not formed (None).
        """
        n_batch = x.shape[1]
        xc = x - self.b_dec[:, None, :]  # (I, B, H)
        z = torch.bmm(xc, self.W_enc).add_(self.b_enc[:, None, :])  # (I, B, D)
        threshold = self.threshold  # θ, (I, D)
        theta, eps = threshold[:, None, :], self.bandwidth[:, None, None]
        above = torch.gt(z, theta, out=torch.empty_like(z))  # H(z − θ), 1/0 as floats at once (cheaper)
        f = (z - theta).relu_() if self.form == "shifted_relu" else z * above
        d = self.residual(x, f)  # x − x̂, (I, B, H)
        out = None
        if loss:
            out = (d**2).sum(dim=-1).mean(dim=1) + self.penalty * above.sum(dim=-1).mean(dim=1)  # mse + l0, (I,)
        self._fired = f.abs().sum(dim=1) > 0  # as `loss_terms` records it
        self._last_x = x
        # backward, as autograd takes it
        g = squared_error_grad(d)  # ∂/∂x̂, (I, B, H), over d
        g_f = torch.bmm(g, self.W_dec)  # ∂/∂f, (I, B, D)
        rect = _rectangle(z, theta, eps)  # K((z − θ)/ε)/ε
        # (in place wherever a buffer has no later reader: the same values, fewer buffers)
        if self.form == "shifted_relu":
            g_z = torch.ops.aten.threshold_backward.grad_input(g_f, f, 0.0, grad_input=g_f)  # through the ReLU
            g_theta = (-g_z).sum(dim=1)  # z − θ
        else:
            g_theta = (theta * rect).neg_().mul_(g_f).sum(dim=1)  # eq. 11
            g_z = g_f.mul_(above)  # above · g_f
        g_step = (self.penalty / n_batch)[:, None, None].expand_as(z)  # ∂/∂H of the L0 term
        g_theta = g_theta + rect.neg_().mul_(g_step).sum(dim=1)  # eq. 12, (I, D)
        g_z = g_z.add_(0.0)  # the step's zero z-gradient, accumulated as autograd does (−0 → +0)
        if self.threshold_param == "direct":
            self.theta.grad = g_theta
        else:
            self.log_threshold.grad = g_theta * threshold  # through θ = exp(log θ)
        self.write_affine_grads(xc, g, g_z, torch.bmm(f.transpose(1, 2), g).transpose(1, 2))
        return out

    def encode_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.pre_activation(x)  # (I, B, D)
        theta = self.threshold[:, None, :]  # (I, 1, D)
        eps = self.bandwidth[:, None, None]  # (I, 1, 1)
        if self.form == "shifted_relu":  # the overview's form: continuous at θ, ordinary gradients
            return {"f": torch.relu(z - theta), "z": z, "theta": theta, "eps": eps}
        return {"f": jumprelu(z, theta, eps), "z": z, "theta": theta, "eps": eps}

    def penalties(
        self, x: torch.Tensor, parts: dict[str, torch.Tensor], x_hat: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        l0 = step(parts["z"], parts["theta"], parts["eps"]).sum(dim=-1).mean(dim=1)  # E‖f‖₀, (I,)
        return {"l0": self.penalty * l0}
