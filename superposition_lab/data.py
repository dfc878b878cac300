"""Feature distributions for toy models (TMS "Demonstrating Superposition", "Feature Sparsity").

A feature x_i is 0 with probability S_i (its sparsity) and otherwise drawn from U[0, 1]; the density
is p_i = 1 − S_i. Each feature has an importance I_i that weights its reconstruction error.
Every draw goes through an explicit `torch.Generator`: never the global RNG, so a seed fixes the data.
"""

from __future__ import annotations

from typing import Protocol, TypedDict

import attrs
import torch

from superposition_lab.sparse_draw import DEFAULT_ENTRY_FLOPS, Block, draw_block, plan_blocks

__all__ = ["importance_profile", "Sampler", "SparseUniform"]


def importance_profile(kind: str, n_features: int, value: float | list[float]) -> torch.Tensor:
    """Importance I_i for i = 0..n−1, shape (F,).

    geometric: I_i = value^i (TMS uses 0.7^i for n=20, 0.9^i for n=80);
    linear:    I_i evenly spaced from value[0] to value[1] (the TDS article uses 1 → 0.1);
    uniform:   I_i = value for every feature (the geometry sections use I = 1).
    """
    if kind == "geometric":
        assert not isinstance(value, list), "the geometric profile takes one ratio"
        return float(value) ** torch.arange(n_features, dtype=torch.float64)
    if kind == "linear":
        assert not isinstance(value, float), "the linear profile takes [first, last]"
        start, stop = value
        return torch.linspace(float(start), float(stop), n_features, dtype=torch.float64)
    if kind == "uniform":
        assert not isinstance(value, list), "the uniform profile takes one value"
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

    def blocks(
        self, batch_size: int, *, compact: bool = False, entry_flops: float = DEFAULT_ENTRY_FLOPS
    ) -> list[Block]:
        """The draw plan for this batch size (cached): a list of `sparse_draw.Block`.

        `compact` lets blocks leave out all-zero rows (for a loss that is a mean over the batch);
        `entry_flops` is the consumer's matmul work per drawn entry, for the cost model
        (`sparse_draw.CpuCost`).
        """
        key = (batch_size, compact, entry_flops, id(self.density), self.density._version)
        if key not in self._plans:
            self._plans = {k: v for k, v in self._plans.items() if k[3:] == key[3:]}  # density changed: drop
            self._plans[key] = plan_blocks(self.density, batch_size, compact=compact, entry_flops=entry_flops)
        return self._plans[key]

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """A batch (I, B, F), contiguous."""
        return self.sample_feature_major(batch_size, generator).transpose(1, 2).contiguous()

    def sample_feature_major(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """The same batch as `sample` (same draws), laid out feature-major: (I, F, B)."""
        n_instances, n_features = self.density.shape
        blocks = self.blocks(batch_size)
        if len(blocks) == 1 and blocks[0].whole:
            return draw_block(blocks[0], generator, signed=self.signed)
        out = torch.empty(
            (n_instances, n_features, batch_size), device=self.density.device, dtype=self.density.dtype
        )  # (I, F, B)
        for block in blocks:
            out[block.index] = draw_block(block, generator, signed=self.signed)
        return out


# ---------------------------------------------------------------- correlated and anticorrelated sets
# TMS "Correlated and Anticorrelated Features" (setup). Features are grouped into sets; `set_index`
# (F,) names each feature's set, and a feature alone in its set is an ordinary independent feature.


def feature_sets(n_features: int, set_size: int, n_sets: int | None = None) -> torch.Tensor:
    """Set index per feature, (F,): the first n_sets·set_size features form consecutive sets of
    `set_size` (as many as fit when n_sets is None); every remaining feature is a set of its own."""
    if set_size < 1:
        raise ValueError(f"set_size must be >= 1, got {set_size}")
    fit = n_features // set_size
    n_sets = fit if n_sets is None else n_sets
    if not 0 <= n_sets <= fit:
        raise ValueError(f"{n_sets} sets of {set_size} do not fit in {n_features} features")
    grouped = torch.arange(n_sets * set_size) // set_size
    singles = n_sets + torch.arange(n_features - n_sets * set_size)
    return torch.cat([grouped, singles])


class _DrawOptions(TypedDict):
    """Keyword arguments of the torch draws of a batch."""

    generator: torch.Generator
    device: torch.device
    dtype: torch.dtype


@attrs.define
class _FeatureSets:
    """Features grouped into sets: density (I, G) per set, set_index (F,) naming each feature's set."""

    density: torch.Tensor  # (I, G)
    set_index: torch.Tensor  # (F,) long

    def __attrs_post_init__(self) -> None:
        self.set_index = self.set_index.to(self.density.device)
        if int(self.set_index.max()) + 1 != self.density.shape[1]:
            raise ValueError(
                f"density has {self.density.shape[1]} sets, set_index names {int(self.set_index.max()) + 1}"
            )


@attrs.define
class CorrelatedSets(_FeatureSets):
    """Correlated feature sets: one draw per set decides whether the whole set is zero.

    "We simply have the same sample determine whether they're zero": set g is on with probability
    density[:, g], and then each of its features takes an independent U[0, 1] value. So every
    feature keeps the marginal of an independent sparse feature with density p_g, but features of
    a set are always active together. density is (I, G) per set; set_index (F,) from `feature_sets`.
    """

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        n_instances, n_sets = self.density.shape
        kw = _DrawOptions(generator=generator, device=self.density.device, dtype=self.density.dtype)
        values = torch.rand((n_instances, batch_size, self.set_index.shape[0]), **kw)  # (I, B, F)
        on = torch.rand((n_instances, batch_size, n_sets), **kw) < self.density[:, None, :]  # (I, B, G)
        return values * on[..., self.set_index]  # (I, B, F)


@attrs.define
class AnticorrelatedSets(_FeatureSets):
    """Anticorrelated feature sets: at most one feature of a set is active.

    "The feature set [is] entirely zero with probability S, but then only one randomly selected
    feature in the set [is] uniformly sampled from [0,1] if it's active": set g is active with
    probability density[:, g]; one of its k_g features, chosen uniformly, then takes U[0, 1]. A
    feature's marginal density is p_g / k_g and no two features of a set are ever active together.
    """

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        n_instances, n_sets = self.density.shape
        n_features = self.set_index.shape[0]
        kw = _DrawOptions(generator=generator, device=self.density.device, dtype=self.density.dtype)
        shape = (n_instances, batch_size, n_features)
        values = torch.rand(shape, **kw)  # (I, B, F)
        active = torch.rand((n_instances, batch_size, n_sets), **kw) < self.density[:, None, :]  # (I, B, G)
        # the chosen member of each set: the one with the largest of i.i.d. uniform keys
        keys = torch.rand(shape, **kw)  # (I, B, F)
        index = self.set_index.expand(shape)
        top = torch.full((n_instances, batch_size, n_sets), -1.0, device=kw["device"], dtype=kw["dtype"])
        top = top.scatter_reduce(-1, index, keys, reduce="amax")  # (I, B, G)
        chosen = keys == top.gather(-1, index)  # (I, B, F)
        return values * (chosen & active[..., self.set_index])


__all__ += ["feature_sets", "CorrelatedSets", "AnticorrelatedSets"]
