"""Feature distributions for toy models (TMS "Demonstrating Superposition", "Feature Sparsity").

A feature x_i is 0 with probability S_i (its sparsity) and otherwise drawn from U[0, 1]; the density
is p_i = 1 − S_i. Each feature has an importance I_i that weights its reconstruction error.
Every draw goes through an explicit `torch.Generator`: never the global RNG, so a seed fixes the data.
"""

from __future__ import annotations

from typing import Protocol

import attrs
import torch

__all__ = ["importance_profile", "Sampler", "SparseUniform"]


def importance_profile(kind: str, n_features: int, value: float | list[float]) -> torch.Tensor:
    """Importance I_i for i = 0..n−1, shape (F,).

    geometric: I_i = value^i (TMS uses 0.7^i for n=20, 0.9^i for n=80);
    linear:    I_i evenly spaced from value[0] to value[1] (the TDS article uses 1 → 0.1);
    uniform:   I_i = value for every feature (the geometry sections use I = 1).
    """
    if kind == "geometric":
        return float(value) ** torch.arange(n_features, dtype=torch.float64)
    if kind == "linear":
        start, stop = value  # type: ignore[misc]
        return torch.linspace(float(start), float(stop), n_features, dtype=torch.float64)
    if kind == "uniform":
        return torch.full((n_features,), float(value), dtype=torch.float64)
    raise ValueError(f"unknown importance profile {kind!r} (geometric, linear, uniform)")


class Sampler(Protocol):
    """Anything that draws a batch of feature vectors x, shape (I, B, F)."""

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor: ...


@attrs.define
class SparseUniform:
    """Independent sparse features: x_i = 0 w.p. 1 − p_i, else U[0, 1] (U[−1, 1] when `signed`).

    `density` holds p per instance and feature, shape (I, F), on the device the batches go to.
    """

    density: torch.Tensor
    signed: bool = False

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        n_instances, n_features = self.density.shape
        shape = (n_instances, batch_size, n_features)
        kw = dict(generator=generator, device=self.density.device, dtype=self.density.dtype)
        values = torch.rand(shape, **kw)  # (I, B, F)
        if self.signed:
            values = 2.0 * values - 1.0
        on = torch.rand(shape, **kw) < self.density[:, None, :]  # (I, B, F)
        return values * on
