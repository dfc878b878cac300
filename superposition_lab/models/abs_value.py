"""The absolute-value model of TMS "Computation in Superposition", batched over instances.

    h = ReLU(W1 x + b1),   y = ReLU(W2 h + b2),   target |x|

Unlike the toy models the weights are untied: W1 is (I, H, F) — row k holds neuron k's input
weights, so a neuron computes ReLU(x_i) when W1_ki > 0 and ReLU(−x_i) when W1_ki < 0 — and W2 is
(I, F, H) — column k is what neuron k writes to each output. b1 is (I, H), b2 is (I, F). With
dense features and m ≥ 2n the obvious circuit is |x_i| = ReLU(x_i) + ReLU(−x_i): two neurons per
feature. The loss is the importance-weighted squared error against |x| (the paper's), summed
over features and averaged over the batch. Inputs come from `data.SparseUniform(density, signed=True)`:
0 with probability S, else U[−1, 1]. The trainer takes its generic step (`train.Step`) with the
hand-written gradient `loss_and_grads` — autograd's operations in autograd's order, so autograd's
bits (tests/superposition_lab/models/test_abs_value.py) without its per-node overhead — unless a
subclass overrides the forward, the loss or a hook (`has_fused_step`); then autograd.

Init as the tied toy models: weights Xavier-normal, biases 0, drawn from the given generator.
"""

from __future__ import annotations

import torch
from torch import nn

from superposition_lab.models.toy import xavier_normal

__all__ = ["AbsValueModel"]


class AbsValueModel(nn.Module):
    """y = ReLU(W2 ReLU(W1 x + b1) + b2), trained to output |x| (TMS "Computation in Superposition")."""

    def __init__(
        self,
        n_instances: int,
        n_features: int,
        n_hidden: int,
        *,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.n_instances, self.n_features, self.n_hidden = n_instances, n_features, n_hidden
        I, F, H = n_instances, n_features, n_hidden
        self.W1 = nn.Parameter(xavier_normal((I, H, F), generator, device, dtype))  # (I, H, F): neuron k's inputs
        self.W2 = nn.Parameter(xavier_normal((I, F, H), generator, device, dtype))  # (I, F, H): output i's inputs
        self.b1 = nn.Parameter(torch.zeros((I, H), device=device, dtype=dtype))  # (I, H)
        self.b2 = nn.Parameter(torch.zeros((I, F), device=device, dtype=dtype))  # (I, F)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The neurons h = ReLU(W1 x + b1), (I, B, F) → (I, B, H)."""
        return torch.relu(torch.baddbmm(self.b1[:, None, :], x, self.W1.transpose(1, 2)))  # (I, B, F) @ (I, F, H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The output y = ReLU(W2 h + b2), (I, B, F) → (I, B, F)."""
        h = self.hidden(x)  # (I, B, H)
        return torch.relu(torch.baddbmm(self.b2[:, None, :], h, self.W2.transpose(1, 2)))  # (I, B, H) @ (I, H, F)

    def loss_terms(self, x: torch.Tensor, importance: torch.Tensor) -> dict[str, torch.Tensor]:
        """Σ_i I_i (|x_i| − y_i)² per instance, averaged over the batch: {"reconstruction": (I,)}.

        importance is (I, F).
        """
        err = (x.abs() - self(x)) ** 2  # (I, B, F)
        return {"reconstruction": (err.mean(dim=1) * importance).sum(dim=-1)}

    # what `loss_and_grads` computes: overriding any of these in a subclass sends training to autograd
    HAND_GRADIENT_READS = ("hidden", "forward", "loss_terms", "before_step", "after_step")

    def has_fused_step(self) -> bool:
        """True when `loss_and_grads` computes exactly this model's loss (nothing it reads is overridden)."""
        return all(getattr(type(self), name) is getattr(AbsValueModel, name) for name in self.HAND_GRADIENT_READS)

    @torch.no_grad()
    def loss_and_grads(self, x: torch.Tensor, importance: torch.Tensor, *, loss: bool = True) -> torch.Tensor | None:
        """The objective (I,) of `loss_terms` on the batch x (I, B, F), with the gradient of its sum written
        to each parameter's `.grad` by hand: autograd's operations in autograd's order, so its bits. With
        `loss=False` the objective is not formed (None).

        With d = |x| − y and c = I_f / B (the mean's backward, as autograd rounds it), ∂/∂y = −2c·d,
        formed as one product d·(−2c): doubling and negating are exact, so it rounds as autograd's
        c·(2d) does. Then through each ReLU (`threshold_backward` on its output) and baddbmm."""
        n_batch = x.shape[1]
        # forward, as `forward` computes it; the ReLUs in place on the fresh baddbmm outputs
        h = torch.baddbmm(self.b1[:, None, :], x, self.W1.transpose(1, 2)).relu_()  # (I, B, H)
        y = torch.baddbmm(self.b2[:, None, :], h, self.W2.transpose(1, 2)).relu_()  # (I, B, F)
        d = torch.sub(x.abs(), y)  # |x| − y
        out = ((d**2).mean(dim=1) * importance).sum(dim=-1) if loss else None  # (I,)
        # backward: ∂/∂y, then each layer (baddbmm's gradients: Σ_b for the bias, two bmm)
        g_y = d.mul_((importance / n_batch).mul_(-2.0)[:, None, :])
        g_y = torch.ops.aten.threshold_backward.grad_input(g_y, y, 0.0, grad_input=g_y)  # ∂/∂(W2 h + b2)
        g_h = torch.bmm(g_y, self.W2)  # (I, B, H)
        self.W2.grad = torch.bmm(h.transpose(1, 2), g_y).transpose(1, 2).contiguous()  # in W2's layout
        self.b2.grad = g_y.sum(dim=1)
        g_h = torch.ops.aten.threshold_backward.grad_input(g_h, h, 0.0, grad_input=g_h)  # ∂/∂(W1 x + b1)
        self.W1.grad = torch.bmm(x.transpose(1, 2), g_h).transpose(1, 2).contiguous()
        self.b1.grad = g_h.sum(dim=1)
        return out

    def before_step(self) -> None:
        """Hook between backward and the optimiser step (nothing to do here)."""

    def after_step(self) -> None:
        """Hook after the optimiser step (no constraint here)."""
