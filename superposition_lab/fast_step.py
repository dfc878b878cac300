"""The trainer's CPU fast path: the same optimiser step as `train.Step`, computed faster.

`FusedStep` is the step of the tied toy models (`has_fused_step`) on `SparseUniform` data. Each
step draws the batch block by block with the exact fast draws of `sparse_draw` (feature-major, its
all-zero rows left out, since the loss is a mean over the batch) and gets the gradient of the TMS
objective from the hand-written `fused_loss_and_grads` instead of autograd; the loss itself is only
computed on the steps that look at it (NaN checks, logging). On the CPU a big enough step is split
into shards of instances computed on worker threads, and its big intermediates go to reused
buffers (`Scratch`).

For every step, fused or not: `cpu_threads` picks the intra-op thread count from the step's size
and `prefetched` draws the next batch on a second thread while the step computes. All of it is
chosen by one cost model (`sparse_draw.CpuCost`); the switches (`TrainConfig.prefetch`, `.shards`,
`.scratch`) change speed only — the same draws in the same order, bit-identical results.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from superposition_lab.data import SparseUniform
from superposition_lab.sparse_draw import CPU_COST, Block, Entries, draw_block_entries, fused_entry_flops, step_flops

if TYPE_CHECKING:
    from superposition_lab.models.toy import ToyModel
    from superposition_lab.train import TrainableModel

__all__ = ["cpu_threads", "prefetched", "INLINE_DRAW_S", "InstanceShards", "FusedStep", "Scratch", "shard_plan"]

T = TypeVar("T")
Ranges = list[tuple[int, int, int]]  # (block k, first instance, last instance + 1) of one shard
Pieces = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]  # a block's (∂L/∂W, ∂L/∂b, loss)


@contextlib.contextmanager
def cpu_threads(model: TrainableModel, batch_size: int, threads: int, device: torch.device) -> Iterator[None]:
    """Run with a deterministic number of CPU intra-op threads, then restore torch's setting.

    `threads`, or when 0 the cost model's count for the step's matmul work (6·B·parameters). A
    toy-model step is ~30 small torch calls; with two threads each call ends in a barrier, and on a
    busy machine (other processes on the cores) a barrier can wait a whole scheduler slice:
    measured on 2 shared cores, a 20→5 step took 7–140 ms with 2 threads against 0.9 ms with 1.
    Even 400→30 × 20 instances (1.5 GFLOP) stays on one thread: with the two cores shared,
    2 threads ran it at 0.35× the notebook baseline's speed and 1 thread at 2.2× (load average 6.5).
    The choice depends only on the sizes, so results stay reproducible (the thread count may
    change float summation order).
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    flops = step_flops(sum(p.numel() for p in model.parameters()), batch_size)
    torch.set_num_threads(threads or CPU_COST.intra_op_threads(flops, before))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _single_threaded_workers(n: int) -> ThreadPoolExecutor:
    """n worker threads, each running torch ops on one intra-op thread (OpenMP's thread count is per
    thread: a new thread would use every core again, and its barriers would stall the caller's)."""
    return ThreadPoolExecutor(max_workers=n, initializer=torch.set_num_threads, initargs=(1,))


# A draw that takes less than this is done inline: handing a batch over from a second thread costs
# ~0.1 ms a step (measured on 2 cores: a pre-drawn pool of SAE batches, 0.93 → 0.76 ms a step
# without the thread), more than such a draw saves. Timed on the run's first draw (which may pay
# one-time costs: then the thread is used, as before); the choice changes speed only (the same
# draws in the same order either way).
INLINE_DRAW_S = 2e-4


def prefetched(
    draw: Callable[[int], T],
    sizes: list[int],
    device: torch.device,
    enabled: bool = True,
    threaded: Callable[[bool], None] | None = None,
) -> Generator[T, None, None]:
    """The batches draw(size) for each size in turn; on the CPU each is drawn on a second thread
    while the caller computes with the previous one, unless a draw is cheaper than the hand-over
    (`INLINE_DRAW_S`, e.g. batches served from memory).

    Drawing is serial (torch's CPU generator) and a small model's step runs on one thread, so the
    two overlap on two cores without any barrier between them (not done when the step already
    uses every core). The draws happen in the same order as without the thread, so results are
    bit-identical either way. Close the iterator to stop the thread early. `threaded(used)` is told,
    before the first batch is handed out, whether the drawing thread is used.
    """
    if not enabled or device.type != "cpu" or len(sizes) < 2 or torch.get_num_threads() >= (os.cpu_count() or 1):
        if threaded is not None:
            threaded(False)
        for size in sizes:
            yield draw(size)
        return
    start = time.perf_counter()
    first = draw(sizes[0])
    inline = time.perf_counter() - start < INLINE_DRAW_S
    if threaded is not None:
        threaded(not inline)
    if inline:
        yield first
        for size in sizes[1:]:
            yield draw(size)
        return
    with _single_threaded_workers(1) as pool:
        pending = pool.submit(draw, sizes[1])
        yield first
        for k in range(1, len(sizes)):
            batch = pending.result()
            if k + 1 < len(sizes):
                pending = pool.submit(draw, sizes[k + 1])
            yield batch


class InstanceShards:
    """A model's hand-written gradient (`loss_and_grads`) computed in parts, the instances split into
    `n` ranges, one per thread (each with one intra-op thread, so no barrier between them): the SAE
    variants' steps are many passes over (I, B, D) intermediates, which at I = 8 no longer fit in
    cache, and a second core can take half of them. Each part runs on `instance_views` of the model,
    so every instance is computed exactly as in the whole; the parts' gradients are joined into the
    model's own `.grad` (`gather_views`: contiguous, the layout the whole computes). Used when a core
    is free — the batches come inline (`prefetched`) — and the step runs on one intra-op thread.
    `close()` stops its threads.
    """

    def __init__(self, model: Any, n: int) -> None:
        bounds = [round(k * model.n_instances / n) for k in range(n + 1)]
        self.model, self.views = model, model.instance_views(bounds)
        self.bounds = bounds
        self.pool = _single_threaded_workers(n - 1)

    def __call__(self, x: torch.Tensor, importance: torch.Tensor, *, loss: bool = True) -> torch.Tensor | None:
        """`model.loss_and_grads(x, importance, loss=loss)`, computed in parts: the same values,
        gradients and fired latents."""
        b = self.bounds
        others = [
            self.pool.submit(view.loss_and_grads, x[b[k + 1] : b[k + 2]], importance[b[k + 1] : b[k + 2]], loss=loss)
            for k, view in enumerate(self.views[1:])
        ]
        first = self.views[0].loss_and_grads(x[b[0] : b[1]], importance[b[0] : b[1]], loss=loss)
        outs = [first] + [f.result() for f in others]
        self.model.gather_views(self.views, x)
        return torch.cat(outs) if loss else None

    def close(self) -> None:
        self.pool.shutdown()


class Scratch:
    """Reusable buffers, one per slot, grown when a step needs more: the big intermediates of a fused
    step land in memory the process already has instead of fresh pages (one Scratch per thread).
    `scratch(slot, shape)` is an uninitialised tensor of that shape, `like`'s dtype and device."""

    def __init__(self, like: torch.Tensor) -> None:
        self.like = like
        self.buffers: dict[int, torch.Tensor] = {}

    def __call__(self, slot: int, shape: tuple[int, ...]) -> torch.Tensor:
        numel = math.prod(shape)
        buf = self.buffers.get(slot)
        if buf is None or buf.numel() < numel:
            buf = self.buffers[slot] = self.like.new_empty(numel)
        return buf[:numel].view(shape)


def shard_plan(blocks: list[Block], n_shards: int) -> list[Ranges]:
    """Split a step's work into n_shards lists of (block k, first, last + 1) instance ranges of about
    equal size (an instance's work ∝ the rows its block draws)."""
    weights = [(k, block.rows) for k, block in enumerate(blocks) for _ in range(block.n)]
    shards: list[Ranges]
    total, done, shards = sum(w for _, w in weights), 0.0, [[] for _ in range(n_shards)]
    first = [0] * len(blocks)  # next instance of each block to hand out
    for k, w in weights:
        s = min(n_shards - 1, int(n_shards * (done + w / 2) / total))  # the shard this instance's middle falls in
        ranges = shards[s]
        if ranges and ranges[-1][0] == k:
            ranges[-1] = (k, ranges[-1][1], ranges[-1][2] + 1)
        else:
            ranges.append((k, first[k], first[k] + 1))
        first[k] += 1
        done += w
    return [s for s in shards if s]


def _sub_index(index: slice | torch.Tensor, lo: int, hi: int) -> slice | torch.Tensor:
    return slice(index.start + lo, index.start + hi) if isinstance(index, slice) else index[lo:hi]


def _sub_entries(entries: Entries | None, x: torch.Tensor, gaps: int, lo: int, hi: int) -> Entries | None:
    """The entries of instances lo..hi−1 of a skip block, re-based; None if the draw was extended
    (then its entries are not in instance order and the dense formula is used)."""
    n, F, R = x.shape
    if entries is None or entries[0].numel() != n * F * gaps:
        return None
    idx, vals = entries[0][lo * F * gaps : hi * F * gaps], entries[1][lo * F * gaps : hi * F * gaps]
    return idx - lo * F * R, vals  # padding (n·F·R) stays ≥ the sub-block's size


def fused_pass(
    model: ToyModel,
    blocks: list[Block],
    xs: list[tuple[torch.Tensor, Entries | None]],
    importance: torch.Tensor,
    *,
    grads: bool,
    loss: bool,
    shards: list[Ranges] | None = None,
    pool: ThreadPoolExecutor | None = None,
    scratch: list[Scratch] | None = None,
) -> torch.Tensor | None:
    """One batch, drawn block by block (xs[k] is block k's x, feature-major (n, F, R), its all-zero
    rows left out, and where its nonzeros are when known), through the hand-written loss and
    gradient; sets W.grad and b.grad when `grads`. With `shards`, the instance ranges of shards[1:]
    are computed on `pool`'s threads while this thread does shards[0] (each with one intra-op
    thread, so there is no barrier between them, and every range is computed exactly as it would
    be alone). `scratch` holds one `Scratch` per shard (the thread that computes it).

    Returns the per-instance loss (I,) when `loss`, else None.
    """
    W, b = model.W.detach(), model.b.detach()  # (I, H, F), (I, F)

    def run(ranges: Ranges, shard: int = 0) -> list[tuple[slice | torch.Tensor, Pieces]]:
        buffers = scratch[shard] if scratch is not None else None
        done = []
        for k, lo, hi in ranges:
            block, (x, entries) = blocks[k], xs[k]
            if (lo, hi) != (0, block.n):
                entries = _sub_entries(entries, x, block.gaps, lo, hi) if entries is not None else None
                index, x = _sub_index(block.index, lo, hi), x[lo:hi]
            else:
                index = block.index
            done.append(
                (
                    index,
                    model.fused_loss_and_grads(
                        W[index],
                        b[index],
                        x,
                        importance[index],
                        block.batch_size - x.shape[-1],
                        grads=grads,
                        loss=loss,
                        entries=entries,
                        scratch=buffers,
                    ),
                )
            )
        return done

    if shards is None or pool is None:
        parts = run([(k, 0, block.n) for k, block in enumerate(blocks)])
    else:
        others = [pool.submit(run, ranges, k + 1) for k, ranges in enumerate(shards[1:])]
        parts = run(shards[0])
        for future in others:
            parts += future.result()
    if len(parts) == 1 and blocks[0].whole:
        gW, gb, out = parts[0][1]
    else:
        gW, gb = (torch.empty_like(W), torch.empty_like(b)) if grads else (None, None)
        out = W.new_empty(W.shape[0]) if loss else None
        for index, part in parts:
            for full, piece in zip((gW, gb, out), part):
                if piece is not None:
                    assert full is not None  # a piece is computed exactly when its tensor is asked for
                    full[index] = piece
    if grads:
        model.W.grad, model.b.grad = gW, gb
    return out


class FusedStep:
    """The optimiser step of a tied toy model on `SparseUniform` data, with its hand-written gradient.

    Does what `train.Step` does — a fresh batch of each size in `sizes` in turn, the TMS objective
    Σ_f I_f·mean_b (x_f − x'_f)² per instance, one AdamW step — on the fast draws of `sparse_draw`.
    `shards`: threads to split each step over (0: from the cost model, 1: none; only on the CPU
    with one intra-op thread); `scratch`: reuse buffers for the big intermediates of training
    steps; `prefetch`: draw on a second thread. None of them changes a result. Use as a context
    manager (it owns threads); `opt` may be None when only `loss()` is used.
    """

    def __init__(
        self,
        model: ToyModel,
        sampler: SparseUniform,
        importance: torch.Tensor,
        generator: torch.Generator,
        sizes: list[int],
        opt: torch.optim.Optimizer | None,
        *,
        prefetch: bool = True,
        shards: int = 0,
        scratch: bool = True,
    ) -> None:
        self.model, self.importance, self.opt = model, importance, opt
        entry_flops = fused_entry_flops(model.n_hidden)
        self.plans = {b: sampler.blocks(b, compact=True, entry_flops=entry_flops) for b in sorted(set(sizes))}
        signed = sampler.signed
        device = importance.device

        def draw(b: int) -> list[tuple[torch.Tensor, Entries | None]]:
            return [draw_block_entries(block, generator, signed=signed) for block in self.plans[b]]

        self.sizes = iter(sizes)
        self.batches = prefetched(draw, sizes, device, prefetch)
        self.first = sizes[0] if sizes else 0  # the batch size the shards are planned for
        work = self.first * model.b.numel() * entry_flops  # B·I·F drawn entries at most
        n = shards or CPU_COST.shards(work, os.cpu_count() or 1)
        self.shards: list[Ranges] | None = None
        self.pool: ThreadPoolExecutor | None = None
        if sizes and device.type == "cpu" and torch.get_num_threads() == 1 and n >= 2:
            self.shards = shard_plan(self.plans[self.first], n)
            self.pool = _single_threaded_workers(n - 1)
        self.scratch = None  # one Scratch per computing thread, for training steps
        if scratch and opt is not None:
            self.scratch = [Scratch(model.W) for _ in range(len(self.shards) if self.shards else 1)]

    def __call__(self, loss: bool = True) -> torch.Tensor | None:
        """One optimiser step on the next batch; the per-instance loss (I,) when `loss`, else None."""
        assert self.opt is not None, "built without an optimiser: only loss() can be used"
        out = self._pass(grads=True, loss=loss)
        self.opt.step()
        self.model.after_step()
        return out

    def loss(self) -> torch.Tensor:
        """The per-instance loss (I,) of the next batch, without a gradient."""
        out = self._pass(grads=False, loss=True)
        assert out is not None
        return out

    def _pass(self, *, grads: bool, loss: bool) -> torch.Tensor | None:
        b = next(self.sizes)
        return fused_pass(
            self.model,
            self.plans[b],
            next(self.batches),
            self.importance,
            grads=grads,
            loss=loss,
            shards=self.shards if b == self.first else None,
            pool=self.pool,
            scratch=self.scratch,
        )

    def __enter__(self) -> FusedStep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.batches.close()  # stops the drawing thread if a step raised
        if self.pool is not None:
            self.pool.shutdown()
