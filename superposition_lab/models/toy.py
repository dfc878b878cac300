"""The tied toy models of TMS "Demonstrating Superposition", batched over instances.

    linear:       h = W x,  x' = Wᵀh + b
    relu_output:  h = W x,  x' = ReLU(Wᵀh + b)

W is (I, H, F) — feature i's direction W_i is column i — and b is (I, F). Init follows the TMS
notebook: W Xavier-normal, b = 0, drawn from the given generator so a seed fixes the model.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ToyModel", "LinearToy", "ReLUOutputToy"]


class ToyModel(nn.Module):
    """Shared parameters and loss; subclasses define the output nonlinearity."""

    def __init__(self, n_instances: int, n_features: int, n_hidden: int, *,
                 generator: torch.Generator, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.n_instances, self.n_features, self.n_hidden = n_instances, n_features, n_hidden
        std = math.sqrt(2.0 / (n_hidden + n_features))  # Xavier normal for an (H, F) matrix
        W = torch.randn((n_instances, n_hidden, n_features), generator=generator, device=device, dtype=dtype)
        self.W = nn.Parameter(W * std)  # (I, H, F)
        self.b = nn.Parameter(torch.zeros((n_instances, n_features), device=device, dtype=dtype))  # (I, F)

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """WᵀW x + b for x (I, B, F) → (I, B, F)."""
        h = torch.bmm(x, self.W.transpose(1, 2))  # (I, B, F) @ (I, F, H) → (I, B, H)
        return torch.bmm(h, self.W) + self.b[:, None, :]  # (I, B, H) @ (I, H, F) → (I, B, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss_terms(self, x: torch.Tensor, importance: torch.Tensor) -> dict[str, torch.Tensor]:
        """Importance-weighted squared error per instance, Σ_i I_i (x_i − x'_i)², averaged over the batch.

        importance is (I, F); returns {"reconstruction": (I,)}.
        """
        err = (x - self(x)) ** 2  # (I, B, F)
        return {"reconstruction": (err.mean(dim=1) * importance).sum(dim=-1)}

    def before_step(self) -> None:
        """Hook between backward and the optimiser step, e.g. to edit gradients (none for toy models)."""

    def after_step(self) -> None:
        """Hook for constraints applied after each optimiser step (none for toy models)."""


class LinearToy(ToyModel):
    """x' = WᵀWx + b — the baseline that behaves like PCA and never superposes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.preactivation(x)


class ReLUOutputToy(ToyModel):
    """x' = ReLU(WᵀWx + b) — the model that stores features in superposition when they are sparse."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.preactivation(x))
