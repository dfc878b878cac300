"""SparseUniform and its fast draws (superposition_lab.sparse_draw): exact distribution, seeding, plans.

Every draw method must give x_f = 0 w.p. 1 − p_f, else U[0, 1] (U[−1, 1] signed), independently
over instances, rows and features. Counts are checked against binomial bounds of 5 standard errors;
all draws are seeded, so each test is deterministic.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superposition_lab.data import SparseUniform
from superposition_lab.sparse_draw import DEFAULT_ENTRY_FLOPS, Block, draw_block, fused_entry_flops, plan_blocks

DENSITY = torch.tensor([[0.01, 0.3, 0.0, 1.0, 0.05], [0.5, 0.5, 0.02, 0.2, 0.9]])  # (I=2, F=5)


def _draws(block: Block, n: int, seed: int = 0, signed: bool = False) -> tuple[torch.Tensor, int]:
    """n batches of the block, rows concatenated: (n_inst, F, total rows), and the batch rows drawn."""
    g = torch.Generator().manual_seed(seed)
    xs = [draw_block(block, g, signed=signed) for _ in range(n)]
    return torch.cat(xs, dim=-1), n * block.batch_size  # zero rows left out by `rows` count as rows


def _assert_binomial(count: torch.Tensor, trials: int, p: torch.Tensor) -> None:
    sd = torch.sqrt(trials * p * (1 - p)).clamp_min(1.0)
    z = (count - trials * p).abs() / sd
    assert float(z.max()) < 5, f"counts {count.tolist()} vs expected {(trials * p).tolist()}"


@pytest.mark.parametrize("method, rows, gaps", [("dense", 512, 0), ("skip", 512, 40), ("rows", 512, 0)])
def test_each_method_draws_the_sparse_uniform_distribution(method: str, rows: int, gaps: int) -> None:
    block = Block([0, 1], method, rows, gaps, DENSITY, 512)
    x, n_rows = _draws(block, 60)  # (2, 5, ≥ rows)
    active = x != 0
    _assert_binomial(active.sum(-1).double(), n_rows, DENSITY.double())
    assert not active[0, 2].any() and active[0, 3].sum() == n_rows  # p = 0 never, p = 1 always
    values = x[active]
    assert float(values.min()) >= 0 and float(values.max()) < 1
    # U[0, 1]: mean 1/2 and variance 1/12, within 5 standard errors
    n = values.numel()
    assert abs(float(values.mean()) - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(float(values.var()) - 1 / 12) < 5 * math.sqrt(1 / 180 / n)
    # independence: co-activation of features 1 and 4 of instance 1 is p_1·p_4
    both = (active[1, 1] & active[1, 4]).sum().double()
    _assert_binomial(both[None], n_rows, torch.tensor([0.5 * 0.9], dtype=torch.float64))


@pytest.mark.parametrize("method, gaps", [("dense", 0), ("skip", 40), ("rows", 0)])
def test_signed_values_are_uniform_on_minus_one_one(method: str, gaps: int) -> None:
    block = Block([0, 1], method, 512, gaps, DENSITY, 512)
    x, n_rows = _draws(block, 40, signed=True)
    active = x != 0
    _assert_binomial(active.sum(-1).double(), n_rows, DENSITY.double())
    values = x[active]
    assert float(values.min()) >= -1 and float(values.max()) < 1
    assert abs(float(values.mean())) < 5 * math.sqrt(1 / 3 / values.numel())


@pytest.mark.parametrize("method", ["skip", "rows"])
def test_tiny_caps_are_extended_exactly(method: str) -> None:
    """A cap far below the count (so every step overflows) still gives the exact distribution."""
    block = Block([0, 1], method, 4, 3, DENSITY, 256)
    x, n_rows = _draws(block, 60)
    assert x.shape[-1] >= 60 * 4
    _assert_binomial((x != 0).sum(-1).double(), n_rows, DENSITY.double())


def test_rows_method_counts_all_zero_rows_in_closed_form() -> None:
    """The rows method returns only rows with an active feature (plus masked slots); the number of
    nonzero rows per batch is Binomial(B, q), q = 1 − Π(1 − p_f)."""
    density = torch.tensor([[0.01, 0.02, 0.03]])
    block = Block([0], "rows", 64, 0, density, 1024)
    g = torch.Generator().manual_seed(3)
    nonzero = torch.tensor([float((draw_block(block, g) != 0).any(dim=1).sum()) for _ in range(200)])
    q = 1 - (0.99 * 0.98 * 0.97)
    _assert_binomial(nonzero.sum()[None], 200 * 1024, torch.tensor([q], dtype=torch.float64))


def test_sample_is_seeded_and_shaped() -> None:
    s = SparseUniform(DENSITY)
    a = s.sample(300, torch.Generator().manual_seed(5))
    b = s.sample(300, torch.Generator().manual_seed(5))
    c = s.sample(300, torch.Generator().manual_seed(6))
    assert a.shape == (2, 300, 5) and a.dtype == torch.float32 and a.is_contiguous()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sample_matches_the_distribution_at_float64() -> None:
    density = torch.full((1, 3), 0.15, dtype=torch.float64)
    x = SparseUniform(density).sample(200_000, torch.Generator().manual_seed(1))[0]  # (B, F)
    assert x.dtype == torch.float64
    pattern = ((x != 0).long() * torch.tensor([1, 2, 4])).sum(-1)
    counts = torch.bincount(pattern, minlength=8).double()
    expected = torch.tensor(
        [math.prod(0.15 if (c >> f) & 1 else 0.85 for f in range(3)) for c in range(8)], dtype=torch.float64
    )
    _assert_binomial(counts, 200_000, expected)  # the joint law of the 8 sparsity patterns


def test_plan_changes_with_the_density() -> None:
    s = SparseUniform(torch.full((3, 4), 0.5))
    first = s.blocks(128)
    assert s.blocks(128) is first  # cached
    s.density = torch.full((3, 4), 0.01)
    assert s.blocks(128) is not first and all(b.method != "dense" for b in s.blocks(128))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12),
    st.integers(1, 4),
    st.sampled_from([1, 7, 256, 1024]),
    st.booleans(),
    st.sampled_from([DEFAULT_ENTRY_FLOPS, fused_entry_flops(30)]),
)
def test_a_plan_covers_every_instance_once(
    densities: list[float], n_features: int, batch: int, compact: bool, entry_flops: float
) -> None:
    """Whatever the cost model picks for a consumer, every instance is drawn exactly once, correctly."""
    density = torch.tensor(densities)[:, None].expand(-1, n_features).contiguous()
    blocks = plan_blocks(density, batch, compact=compact, entry_flops=entry_flops)
    seen = torch.cat([torch.arange(len(densities))[b.index] for b in blocks])
    assert sorted(seen.tolist()) == list(range(len(densities)))
    assert compact or all(b.method != "rows" for b in blocks)
    g = torch.Generator().manual_seed(0)
    for b in blocks:
        x = draw_block(b, g)
        assert x.shape[:2] == (b.n, n_features) and (x.shape[2] == batch if b.method != "rows" else x.shape[2] <= batch)
        assert not (x[density[b.index] == 0] != 0).any()
