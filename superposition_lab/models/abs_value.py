"""The absolute-value model of TMS "Computation in Superposition", batched over instances.

    h = ReLU(W1 x + b1),   y = ReLU(W2 h + b2),   target |x|

Unlike the toy models the weights are untied: W1 is (I, H, F) — row k holds neuron k's input
weights, so a neuron computes ReLU(x_i) when W1_ki > 0 and ReLU(−x_i) when W1_ki < 0 — and W2 is
(I, F, H) — column k is what neuron k writes to each output. b1 is (I, H), b2 is (I, F). With
dense features and m ≥ 2n the obvious circuit is |x_i| = ReLU(x_i) + ReLU(−x_i): two neurons per
feature. The loss is the importance-weighted squared error against |x| (the paper's), summed
over features and averaged over the batch; there is no hand-written gradient, so the trainer takes
its generic autograd path (`train.TrainableModel`). Inputs come from
`data.SparseUniform(density, signed=True)`: 0 with probability S, else U[−1, 1].

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

    def before_step(self) -> None:
        """Hook between backward and the optimiser step (nothing to do here)."""

    def after_step(self) -> None:
        """Hook after the optimiser step (no constraint here)."""
