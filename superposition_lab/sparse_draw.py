"""Fast, exact draws of the sparse uniform features of TMS "Demonstrating Superposition".

Feature f of every instance and sample is 0 with probability 1 − p_f, else U[0, 1] (U[−1, 1] when
signed), all independent. On a CPU a random number costs ~3 ns (torch's generator is serial) and
a pass over memory ~0.3 ns per element, so the notebook's draw — two uniforms per entry, then a
comparison and a select — is what a small model's step mostly spends. Three exact draws instead:

  dense  one uniform u per entry: the entry is active iff u < p, and then u/p is U[0, 1) given
         u < p. One random number per entry instead of two.
  skip   sparse columns jump from one active entry to the next: the gap is Geometric(p),
         G = ⌊log V / log(1 − p)⌋ + 1 for V uniform on (0, 1], so a column costs ~2·B·p random
         numbers (a gap and a value per active entry) instead of B.
  rows   only for a loss that is a mean over the batch (the order of rows is irrelevant): draw
         only the rows with an active feature. Their number is K ~ Binomial(B, q) with
         q = 1 − Π_f(1 − p_f); such a row's first active feature is j with probability
         Π_{f<j}(1 − p_f)·p_j / q, the features after j are independent as before, and the
         B − K zero rows enter the loss in closed form (see `ToyModel.fused_loss_and_grads`).

A *plan* splits the instances into blocks, each drawn with one method; a block's tensors are
feature-major, (n, F, R): rows (samples) on the last axis. Skip and rows draw a fixed number of
gaps / rows per step — the (1 − 1e-9) quantile of the binomial count — so shapes are static; on
the rare step that needs more, the draw is extended exactly (a data-dependent branch, which costs
nothing on a CPU). On CUDA every block is dense: random numbers are cheap there, and a dense draw
never waits for the host.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import attrs
import torch

from superposition_lab import host_sync

__all__ = [
    "CpuCost",
    "CPU_COST",
    "step_flops",
    "fused_entry_flops",
    "Block",
    "Entries",
    "plan_blocks",
    "draw_block",
    "draw_block_entries",
]

TAIL = 1e-9  # a cap covers the count of active entries / rows except with this probability
_CAP_RATIO = 1.1  # caps are rounded up to a geometric ladder, so few distinct block sizes exist


# ------------------------------------------------------------------------------------------ the CPU cost model
@attrs.frozen
class CpuCost:
    """The lab's one CPU cost model: what the pieces of a training step cost on one thread, and how
    much matmul work earns a step more threads. It makes every speed choice of the trainer: the
    draw method of each block (`plan_blocks`), a step's intra-op threads and a fused step's compute
    shards (`superposition_lab.fast_step`). Those are choices between exact ways of computing the
    same thing, never what is computed.

    Where the numbers come from: single-thread float32 timings on the 2-core AMD EPYC the lab was
    developed on (torch 2.x); `benchmarks/bench_train.py` measures the trainer they tune. They are
    documented defaults, deliberately not calibrated at run time: a plan decides *which* random
    numbers a seed's batches are made of (a skip block draws gaps where a dense block draws one
    uniform per entry), so a per-machine calibration would make a seed's results depend on the
    machine. Any values give the same distribution of batches; shard counts give bit-identical
    results, and thread counts (which may change float summation order) depend only on the sizes
    of a run. On another CPU the defaults are only less well tuned.
    """

    random_ns: float = 2.8  # one float32 random number (torch's CPU generator is serial)
    pass_ns: float = 0.3  # one elementwise pass over one element
    gap_ns: float = 4.0  # the extra work of skip per gap (log, cumsum, scatter, …)
    flop_ns: float = 0.025  # one FLOP of a small batched matmul
    block_ns: float = 150_000.0  # the fixed cost of one more block (~25 torch calls)
    step_passes: int = 12  # elementwise passes of a training step over each drawn entry
    flops_per_thread: float = 2.5e9  # a step with less matmul work runs on one intra-op thread
    flops_per_shard: float = 1e9  # a fused step on one thread gets one compute thread per this much work

    def entry_ns(self, entry_flops: float) -> float:
        """What a training step spends on each drawn entry: its elementwise passes and matmul FLOPs."""
        return self.step_passes * self.pass_ns + entry_flops * self.flop_ns

    def intra_op_threads(self, step_flops: float, most: int) -> int:
        """Intra-op threads for a step of `step_flops`: one below flops_per_thread, else one per
        flops_per_thread, at most `most`."""
        return 1 if step_flops < self.flops_per_thread else min(most, math.ceil(step_flops / self.flops_per_thread))

    def shards(self, step_flops: float, cores: int) -> int:
        """How many threads a single-threaded fused step is split over: one per flops_per_shard, at most `cores`."""
        return min(cores, int(step_flops // self.flops_per_shard))


CPU_COST = CpuCost()


def step_flops(n_params: int, batch_size: int) -> float:
    """Matmul FLOPs of an autograd training step: 6 per parameter and sample (2 forward, 4 backward)."""
    return 6.0 * batch_size * n_params


def fused_entry_flops(n_hidden: int) -> float:
    """Matmul FLOPs per drawn entry x_f of the tied toy models' fused step: five matmuls of 2·H
    (h = Wx, x' = Wᵀh, ∂L/∂h and ∂L/∂W through both uses of W), so 10·I·B·H·F per step."""
    return 10.0 * n_hidden


DEFAULT_ENTRY_FLOPS = fused_entry_flops(1)  # the consumer `plan_blocks` assumes unless told: a 1-hidden-unit step


class Block:
    """Instances drawn together with one method; `index` selects them (a slice when contiguous)."""

    def __init__(
        self, instances: list[int], method: str, rows: int, gaps: int, density: torch.Tensor, batch_size: int
    ) -> None:
        self.method, self.rows, self.gaps, self.batch_size = method, rows, gaps, batch_size
        self.n = len(instances)
        first = instances[0]
        if instances == list(range(first, first + self.n)):
            self.index: slice | torch.Tensor = slice(first, first + self.n)
        else:
            self.index = torch.tensor(instances, device=density.device)
        self.whole = self.n == density.shape[0]  # the block is every instance, in order
        p = density[self.index].detach().to(torch.float64)  # (n, F)
        dt = density.dtype
        # dense: v = shift + u·(1/p) is u/p where p > 0 and 1 (inactive) where p = 0; active ⇔ v < 1
        self.inv_p = torch.where(p > 0, 1.0 / p, 0.0).to(dt)[:, :, None]  # (n, F, 1)
        self.shift = (p == 0).to(dt)[:, :, None]  # (n, F, 1)
        # skip: G = ⌊log V · (1/log(1 − p))⌋ + 1 per column; a column with p = 0 starts past the end
        C = self.n * p.shape[1]
        self.inv_log_q = torch.where(p > 0, 1.0 / torch.log1p(-p), -1e30).to(dt).reshape(C, 1)  # (C, 1)
        self.skip_start = torch.where(p > 0, -1.0, float(batch_size)).to(dt).reshape(C, 1)  # (C, 1)
        self.skip_base = torch.arange(C, device=p.device).view(C, 1) * batch_size  # (C, 1) where columns start
        # rows: P(first active feature = j | the row has one), cumulated over j
        stay = torch.cumprod(1.0 - p, dim=1)  # (n, F): Π_{f≤j}(1 − p_f)
        self.q_row = 1.0 - stay[:, -1]  # (n,) P(row has an active feature), float64 for torch.binomial
        before = torch.cat([torch.ones_like(stay[:, :1]), stay[:, :-1]], dim=1)  # Π_{f<j}(1 − p_f)
        cdf = torch.cumsum(p * before, dim=1) / self.q_row.clamp_min(1e-300)[:, None]  # (n, F)
        self.cdf_mid = cdf[:, :-1].to(dt)[:, :, None].contiguous()  # (n, F − 1, 1); the last is 1
        self.feature_ids = torch.arange(p.shape[1], device=p.device, dtype=dt).view(1, -1, 1)  # (1, F, 1)
        self.row_ids = torch.arange(batch_size, device=p.device, dtype=dt).view(1, 1, -1)  # (1, 1, B)

    def __repr__(self) -> str:
        return f"Block({self.method}, n={self.n}, rows={self.rows}, gaps={self.gaps})"


def _binomial_cap(batch_size: int, prob: torch.Tensor, tail: float) -> torch.Tensor:
    """Smallest k with P(Binomial(B, p) > k) ≤ tail, elementwise (a float64 tensor)."""
    from scipy.stats import binom  # noqa: PLC0415 — only when a plan is made

    k = binom.isf(tail, batch_size, prob.double().cpu().numpy())
    return torch.from_numpy(k).clamp(0, batch_size)


def _ladder(cap: int, limit: int) -> int:
    """Round a cap up to the next rung of a geometric ladder (≤ 10% more), at most `limit`."""
    return min(limit, math.ceil(8 * _CAP_RATIO ** max(0.0, math.ceil(math.log(max(cap, 8) / 8, _CAP_RATIO) - 1e-9))))


def _split(caps: list[int], unit_cost: Callable[[int], float], block_ns: float) -> list[tuple[int, int]]:
    """Cut instances sorted by cap into consecutive groups, minimising Σ (block_ns + n · unit_cost(group's cap)).

    Returns (start, stop) ranges over the sorted list; a dynamic programme over the distinct caps.
    """
    distinct = sorted(set(caps))
    ends = [bisect.bisect_right(caps, c) for c in distinct]  # caps is sorted
    best, cut = [0.0] + [math.inf] * len(distinct), [0] * (len(distinct) + 1)
    for k in range(1, len(distinct) + 1):
        for j in range(k):
            n = ends[k - 1] - (ends[j - 1] if j else 0)
            cost = best[j] + block_ns + n * unit_cost(distinct[k - 1])
            if cost < best[k]:
                best[k], cut[k] = cost, j
    groups, k = [], len(distinct)
    while k:
        groups.append((ends[cut[k] - 1] if cut[k] else 0, ends[k - 1]))
        k = cut[k]
    return groups[::-1]


def plan_blocks(
    density: torch.Tensor,
    batch_size: int,
    *,
    compact: bool,
    entry_flops: float = DEFAULT_ENTRY_FLOPS,
    tail: float = TAIL,
    cost: CpuCost = CPU_COST,
) -> list[Block]:
    """Split the instances of `density` (I, F) into blocks and pick each block's draw method.

    `compact` allows the rows method (only for a consumer that treats the batch as a multiset);
    `entry_flops` is the consumer's matmul work per drawn entry (e.g. `fused_entry_flops`), which
    `cost` weighs against the cost of each draw method.
    """
    n_inst, F = density.shape
    B, every = batch_size, list(range(density.shape[0]))
    if not host_sync.reads_are_free(density):  # skip and rows read counts back to the host (a GPU sync)
        return [Block(every, "dense", B, 0, density, B)]
    p = density.detach().double().cpu()
    gaps_i = (_binomial_cap(B, p, tail) + 1).max(dim=1).values.long().tolist()  # K-th gap passes the end
    rows_i = _binomial_cap(B, 1.0 - torch.prod(1.0 - p, dim=1), tail).long().clamp_min(1).tolist()
    step, rnd, pas = cost.entry_ns(entry_flops), cost.random_ns, cost.pass_ns  # per drawn entry
    unit = {  # ns per instance and step, by method and cap
        "dense": lambda _: F * B * (rnd + 3 * pas + step),
        "skip": lambda k: F * k * (2 * rnd + cost.gap_ns) + F * B * (pas + step),
        "rows": lambda r: r * (rnd + F * (rnd + 10 * pas + step)),
    }
    own_cap = {
        "dense": [B] * n_inst,
        "skip": [_ladder(k, B + 1) for k in gaps_i],
        "rows": [_ladder(r, B) for r in rows_i],
    }
    methods = ("dense", "skip", "rows") if compact else ("dense", "skip")
    choice = [min(methods, key=lambda m: unit[m](own_cap[m][i])) for i in every]
    blocks = []
    for method in methods:
        members = sorted((own_cap[method][i], i) for i in every if choice[i] == method)
        caps = [c for c, _ in members]
        for start, stop in _split(caps, unit[method], cost.block_ns) if members else []:
            inst = sorted(i for _, i in members[start:stop])
            cap = caps[stop - 1]
            blocks.append(
                Block(inst, method, cap if method == "rows" else B, cap if method == "skip" else 0, density, B)
            )
    return blocks


Entries = tuple[torch.Tensor, torch.Tensor]  # flat positions into x (x.numel() = none) and values


def draw_block(block: Block, generator: torch.Generator, *, signed: bool = False) -> torch.Tensor:
    """One batch for the block's instances, feature-major (n, F, R).

    For the rows method R ≥ block.rows rows are drawn and the rest of the batch, B − R rows, is
    zero; for dense and skip R = B.
    """
    return draw_block_entries(block, generator, signed=signed)[0]


def draw_block_entries(
    block: Block, generator: torch.Generator, *, signed: bool = False
) -> tuple[torch.Tensor, Entries | None]:
    """`draw_block`, plus for the skip method where its active entries are: (flat index into x, value),
    with indices equal to x.numel() to be ignored; None for the other methods."""
    if block.method == "dense":
        return _dense(block, generator, signed), None
    if block.method == "skip":
        return _skip(block, generator, signed)
    return _rows(block, generator, signed), None


def _dense(block: Block, gen: torch.Generator, signed: bool) -> torch.Tensor:
    n, F = block.inv_p.shape[:2]
    dev, dt = block.inv_p.device, block.inv_p.dtype
    u = torch.rand((n, F, block.batch_size), generator=gen, device=dev, dtype=dt)  # (n, F, B)
    if not signed:  # in place: −u/p kept where > −1 (u < p), else 0; p = 0 gives 1/p = 0, so 0
        torch.threshold_(u.mul_(block.inv_p).neg_(), -1.0, 0.0)
        return u.neg_()
    v = torch.addcmul(block.shift, u, block.inv_p)  # u/p, which is U[0, 1) given u < p
    active = torch.lt(v, 1.0, out=u)  # a float mask (a bool mask costs ~10× more to apply on the CPU)
    return v.mul_(2.0).sub_(1.0).mul_(active)


def _skip(block: Block, gen: torch.Generator, signed: bool) -> tuple[torch.Tensor, Entries]:
    n, F = block.inv_p.shape[:2]
    dev, dt = block.inv_p.device, block.inv_p.dtype
    B, K, C = block.batch_size, block.gaps, n * F
    out = torch.zeros(C * B + 1, device=dev, dtype=dt)  # the columns one after another, then a scratch entry
    cols: torch.Tensor | None = None  # None: every column; else the (rare) columns to extend
    start = block.skip_start  # (C, 1): −1, or B for columns with p = 0 (never active)
    found: list[Entries] = []
    while True:
        inv_log_q = block.inv_log_q if cols is None else block.inv_log_q[cols]  # (m, 1)
        m = inv_log_q.shape[0]
        v = torch.rand((m, K), generator=gen, device=dev, dtype=dt).neg_().add_(1.0)  # (m, K) in (0, 1]
        pos = v.log_().mul_(inv_log_q).floor_().add_(1.0).cumsum_(dim=1).add_(start)  # next K active positions
        pos.clamp_max_(B)
        idx = pos.long().add_(block.skip_base if cols is None else block.skip_base[cols])  # (m, K) flat
        idx = torch.where(pos < B, idx, C * B)  # past the end of its column: the scratch entry
        vals = torch.rand((m, K), generator=gen, device=dev, dtype=dt)
        if signed:
            vals.mul_(2.0).sub_(1.0)
        out.scatter_(0, idx.view(-1), vals.view(-1))
        found.append((idx.view(-1), vals.view(-1)))
        more = pos[:, -1] < B  # the K-th entry is still inside: the column may go on
        if not bool(more.any()):  # a host sync, but this method only runs on the CPU
            break
        every = torch.arange(C, device=dev) if cols is None else cols
        cols, start = every[more], pos[more, -1:]  # rare: extend those columns exactly
    entries = found[0] if len(found) == 1 else (torch.cat([i for i, _ in found]), torch.cat([v for _, v in found]))
    return out[:-1].view(n, F, B), entries


def _rows(block: Block, gen: torch.Generator, signed: bool) -> torch.Tensor:
    n, F = block.inv_p.shape[:2]
    dev, dt = block.inv_p.device, block.inv_p.dtype
    full = torch.full((n,), float(block.batch_size), dtype=torch.float64, device=dev)
    count = torch.binomial(full, block.q_row, generator=gen).to(dt)  # (n,) rows with an active feature
    R = max(block.rows, int(count.max()))  # rare: more rows than the cap this step
    u0 = torch.rand((n, 1, R), generator=gen, device=dev, dtype=dt)  # (n, 1, R) picks the first active j
    # j = #{k < F−1 : u0 ≥ cdf_k}; d = f − j per feature and row
    j = torch.ge(u0, block.cdf_mid, out=torch.empty((n, F - 1, R), device=dev, dtype=dt)).sum(1, keepdim=True)
    d = torch.sub(block.feature_ids, j)  # (n, F, R)
    u = torch.rand((n, F, R), generator=gen, device=dev, dtype=dt)  # (n, F, R): values, and masks after j
    v = torch.addcmul(block.shift, u, block.inv_p)  # u/p as in the dense draw
    at = torch.eq(d, 0.0, out=torch.empty_like(u))  # f = j: always active, and its own u is its value
    after = torch.gt(d, 0.0, out=d).mul_(torch.lt(v, 1.0, out=torch.empty_like(u)))  # f > j and active
    x = v.mul_(after).addcmul_(u, at)
    if signed:
        x.mul_(2.0).sub_(after.add_(at))  # 2x − 1 on the active entries
    used = torch.lt(block.row_ids[:, :, :R], count.view(n, 1, 1), out=torch.empty((n, 1, R), device=dev, dtype=dt))
    return x.mul_(used)  # zero the rows beyond the count
