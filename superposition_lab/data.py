"""Feature distributions for toy models (TMS "Demonstrating Superposition", "Feature Sparsity").

A feature x_i is 0 with probability S_i (its sparsity) and otherwise drawn from U[0, 1]; the density
is p_i = 1 − S_i. Each feature has an importance I_i that weights its reconstruction error.
Every draw goes through an explicit `torch.Generator`: never the global RNG, so a seed fixes the data.
"""

from __future__ import annotations

from typing import Protocol

import attrs
import torch

from superposition_lab.sparse_draw import Block, draw_block, plan_blocks

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
    Batches are drawn with the exact fast draws of `superposition_lab.sparse_draw` (one uniform per
    entry, or only the active entries of sparse columns), planned once per batch size.
    """

    density: torch.Tensor
    signed: bool = False
    _plans: dict = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def blocks(self, batch_size: int, *, compact: bool = False, n_hidden: int = 1) -> list[Block]:
        """The draw plan for this batch size (cached): a list of `sparse_draw.Block`.

        `compact` lets blocks leave out all-zero rows (for a loss that is a mean over the batch).
        """
        key = (batch_size, compact, n_hidden, id(self.density), self.density._version)
        if key not in self._plans:
            self._plans = {k: v for k, v in self._plans.items() if k[3:] == key[3:]}  # density changed: drop
            self._plans[key] = plan_blocks(self.density, batch_size, compact=compact, n_hidden=n_hidden)
        return self._plans[key]

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        n_instances, n_features = self.density.shape
        blocks = self.blocks(batch_size)
        if len(blocks) == 1 and blocks[0].whole:
            return draw_block(blocks[0], generator, signed=self.signed).transpose(1, 2).contiguous()
        out = torch.empty((n_instances, batch_size, n_features), device=self.density.device,
                          dtype=self.density.dtype)  # (I, B, F)
        for block in blocks:
            out[block.index] = draw_block(block, generator, signed=self.signed).transpose(1, 2)
        return out
