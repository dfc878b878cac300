"""One trainer for every model in the lab: all instances in one tensor program.

Follows the TMS notebook's set-up: AdamW (lr 1e-3, torch's default weight decay 0.01), batch 1024,
a fresh batch every step. The instances of a run are independent models (grid points × seeds ×
restarts); their losses are summed, which leaves each instance's gradient untouched, and restarts
are reduced afterwards by `best_of_restarts` (lowest final loss wins).

Two paths compute the same thing. The generic one runs any model through autograd with its
`loss_terms`, `before_step` and `after_step`. The fused one is taken when the model has a
hand-written gradient (`has_fused_step`: the tied toy models) and the data is `SparseUniform`:
each step draws the batch block by block with the exact fast draws of `sparse_draw` (feature-major,
zero rows left out where the loss allows) and gets the gradient from `fused_loss_and_grads`; the
loss itself is only computed on the steps that look at it (NaN checks, logging). Both use torch's
fused AdamW kernel where the device has one (foreach otherwise) — the same update rule and
hyperparameters as the notebook's `torch.optim.AdamW`. On the CPU both draw the next batch on a
second thread while the step computes (`_batches`; same draws in the same order).
"""

from __future__ import annotations

import contextlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import attrs
import torch
from torch import nn

from superposition_lab.data import Sampler, SparseUniform
from superposition_lab.sparse_draw import Block, Entries, draw_block_entries

__all__ = ["TrainConfig", "TrainLog", "TrainingDiverged", "resolve_device", "lr_factor", "train",
           "evaluate", "best_of_restarts"]


class TrainingDiverged(RuntimeError):
    """Raised when an instance's loss becomes NaN or infinite; names the instances and step."""

    def __init__(self, step: int, instances: list[int]) -> None:
        shown = ", ".join(map(str, instances[:10])) + (" …" if len(instances) > 10 else "")
        super().__init__(f"training diverged at step {step}: non-finite loss in instance(s) {shown}")
        self.step, self.instances = step, instances


@attrs.frozen
class TrainConfig:
    steps: int = 10_000  # TMS notebook
    batch_size: int = 1024  # TMS notebook
    lr: float = 1e-3  # TMS notebook
    weight_decay: float = 0.01  # torch AdamW default, as the notebook used it
    schedule: str = "constant"  # constant | cosine | linear (decay to 0 over the run)
    warmup: int = 0  # linear warm-up steps before the schedule
    check_every: int = 250  # how often to look for NaN/inf (a host sync, so not every step)
    threads: int = 0  # CPU intra-op threads; 0: one per FLOPS_PER_THREAD of step work (see _cpu_threads)


@attrs.define
class TrainLog:
    steps: list[int] = attrs.field(factory=list)
    loss: list[list[float]] = attrs.field(factory=list)  # per logged step: per-instance loss


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when available, else the CPU; `cuda` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device(device)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier on the base learning rate at `step` (0-based)."""
    # 1) linear warm-up
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    # 2) the schedule proper over the remaining steps
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "linear":
        return 1.0 - frac
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    raise ValueError(f"unknown schedule {cfg.schedule!r} (constant, linear, cosine)")


FLOPS_PER_THREAD = 2.5e9  # matmul FLOPs of one step below which the step runs on one CPU thread
PREFETCH = True  # CPU: draw the next batch on a second thread (results are the same either way)
SHARD_FLOPS = 1e9  # CPU: a fused step gets one compute thread per this many matmul FLOPs (≤ cores)
SHARDS = True  # switch for tests and benchmarks (results are the same either way)
SCRATCH = True  # fused steps reuse buffers for their big intermediates (results are the same either way)


@contextlib.contextmanager
def _cpu_threads(model: nn.Module, batch_size: int, cfg_threads: int, device: torch.device) -> Iterator[None]:
    """Run with a deterministic number of CPU threads chosen from the step's size, then restore.

    A toy-model step is ~30 small torch calls; with two threads each call ends in a barrier, and on a
    busy machine (other processes on the cores) a barrier can wait a whole scheduler slice: measured
    on 2 shared cores, a 20→5 step took 7–140 ms with 2 threads against 0.9 ms with 1. So a step
    with less than FLOPS_PER_THREAD of matmul work (≈ 6 × batch × parameters) runs on one thread
    (and the next batch is drawn on a second one, see `_batches`); a bigger step gets one thread
    per FLOPS_PER_THREAD, up to torch's default. Even 400→30 × 20 instances (1.5 GFLOP) stays on
    one thread: with the two cores shared, 2 threads ran it at 0.35× the baseline's speed and 1
    thread at 2.2× (load average 6.5). The choice depends only on the sizes, so results stay
    reproducible (the thread count may change float summation order).
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    flops = 6.0 * batch_size * sum(p.numel() for p in model.parameters())
    n = cfg_threads or (1 if flops < FLOPS_PER_THREAD else min(before, math.ceil(flops / FLOPS_PER_THREAD)))
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _objective(model: nn.Module, x: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Per-instance objective (I,): the sum of the model's named loss terms."""
    return sum(model.loss_terms(x, importance).values())  # type: ignore[return-value]


def _optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (torch's defaults for betas and eps) as one fused kernel where the device has it."""
    try:
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # torch < 2.4 on the CPU, or an unsupported device
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


def _fused_blocks(model: nn.Module, sampler: Sampler, batch_size: int) -> list[Block] | None:
    """The draw plan of the fused path, or None when the model or the data does not allow it."""
    has = getattr(model, "has_fused_step", None)
    if not (isinstance(sampler, SparseUniform) and has is not None and has()):
        return None
    return sampler.blocks(batch_size, compact=True, n_hidden=model.n_hidden)


def _batches(draw: Callable[[int], list], sizes: list[int], device: torch.device) -> Iterator[list]:
    """The batches draw(size) for each size in turn; on the CPU each is drawn on a second thread while
    the caller computes with the previous one.

    Drawing is serial (torch's CPU generator) and the step's arithmetic runs on one thread for
    small models, so the two overlap on two cores without any barrier between them (not done when
    the step already uses every core). The draws
    happen in the same order as without the thread, so results are bit-identical either way.
    """
    if not PREFETCH or device.type != "cpu" or len(sizes) < 2 or torch.get_num_threads() >= (os.cpu_count() or 1):
        for size in sizes:
            yield draw(size)
        return
    # OpenMP's thread count is per thread: a new thread would use every core again
    with ThreadPoolExecutor(max_workers=1, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        pending = pool.submit(draw, sizes[0])
        for k in range(len(sizes)):
            batch = pending.result()
            if k + 1 < len(sizes):
                pending = pool.submit(draw, sizes[k + 1])
            yield batch


def _shard_plan(blocks: list[Block], n_shards: int) -> list[list[tuple[int, int, int]]]:
    """Split a step's work into n_shards lists of (block k, first, last + 1) instance ranges of about
    equal size (an instance's work ∝ the rows its block draws)."""
    weights = [(k, block.rows) for k, block in enumerate(blocks) for _ in range(block.n)]
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
    idx, vals = entries[0][lo * F * gaps:hi * F * gaps], entries[1][lo * F * gaps:hi * F * gaps]
    return idx - lo * F * R, vals  # padding (n·F·R) stays ≥ the sub-block's size


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


def _fused_pass(model: nn.Module, blocks: list[Block], xs: list[tuple[torch.Tensor, Entries | None]],
                importance: torch.Tensor, *, grads: bool, loss: bool,
                shards: list[list[tuple[int, int, int]]] | None = None,
                pool: ThreadPoolExecutor | None = None, scratch: list[Scratch] | None = None
                ) -> torch.Tensor | None:
    """One batch, drawn block by block (xs[k] is block k's x, feature-major (n, F, R), its all-zero
    rows left out, and where its nonzeros are when known), through the hand-written loss and
    gradient; sets W.grad and b.grad. With `shards`, the instance ranges of shards[1:] are computed
    on `pool`'s threads while this thread does shards[0] (each with one intra-op thread, so there
    is no barrier between them, and every range is computed exactly as it would be alone).
    `scratch` holds one `Scratch` per shard (the thread that computes it); results are the same
    without it.

    Returns the per-instance loss (I,) when asked, else None.
    """
    W, b = model.W.detach(), model.b.detach()

    def run(ranges: list[tuple[int, int, int]], shard: int = 0) -> list[tuple[slice | torch.Tensor, tuple]]:
        buffers = scratch[shard] if scratch is not None else None
        done = []
        for k, lo, hi in ranges:
            block, (x, entries) = blocks[k], xs[k]
            if (lo, hi) != (0, block.n):
                entries = _sub_entries(entries, x, block.gaps, lo, hi) if entries is not None else None
                index, x = _sub_index(block.index, lo, hi), x[lo:hi]
            else:
                index = block.index
            done.append((index, model.fused_loss_and_grads(W[index], b[index], x, importance[index],
                                                           block.batch_size - x.shape[-1], grads=grads,
                                                           loss=loss, entries=entries, scratch=buffers)))
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
                    full[index] = piece
    if grads:
        model.W.grad, model.b.grad = gW, gb
    return out


@contextlib.contextmanager
def _compute_shards(model: nn.Module, blocks: list[Block] | None, batch_size: int, device: torch.device
                    ) -> Iterator[tuple[list | None, ThreadPoolExecutor | None]]:
    """Shards and worker threads for a fused step big enough to split over the cores (CPU, one
    intra-op thread): ≥ SHARD_FLOPS of matmul work (10·I·B·H·F), one shard per SHARD_FLOPS, at
    most one per core. Each shard's torch calls run single-threaded, so a busy core slows one
    shard down instead of stalling every call at a barrier."""
    cores = os.cpu_count() or 1
    flops = 10.0 * batch_size * model.W.numel() if blocks is not None else 0.0
    n = min(cores, int(flops // SHARD_FLOPS))
    if not SHARDS or device.type != "cpu" or torch.get_num_threads() != 1 or n < 2:
        yield None, None
        return
    with ThreadPoolExecutor(max_workers=n - 1, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        yield _shard_plan(blocks, n), pool  # type: ignore[arg-type]


def train(model: nn.Module, sampler: Sampler, importance: torch.Tensor, cfg: TrainConfig, *,
          generator: torch.Generator, progress: Callable[[int], None] | None = None,
          log_every: int = 0) -> TrainLog:
    """Train every instance of `model` for cfg.steps steps on fresh batches from `sampler`.

    importance is (I, F). `progress(n)` is called with the number of steps done since its last
    call (every ~1% of the run), so a progress bar costs nothing per step. Raises TrainingDiverged.
    The loss is read back to the host only every cfg.check_every steps (and when logging).
    """
    device = next(model.parameters()).device
    with _cpu_threads(model, cfg.batch_size, cfg.threads, device):
        return _train(model, sampler, importance, cfg, generator, progress, log_every)


def _train(model: nn.Module, sampler: Sampler, importance: torch.Tensor, cfg: TrainConfig,
           generator: torch.Generator, progress: Callable[[int], None] | None, log_every: int) -> TrainLog:
    opt = _optimizer(list(model.parameters()), cfg)
    blocks = _fused_blocks(model, sampler, cfg.batch_size)
    if blocks is not None:
        signed = sampler.signed  # type: ignore[attr-defined]
        draw = lambda _: [draw_block_entries(k, generator, signed=signed) for k in blocks]  # noqa: E731
    else:
        draw = lambda size: sampler.sample(size, generator)  # noqa: E731
    batches = _batches(draw, [cfg.batch_size] * cfg.steps, importance.device)
    try:
        with _compute_shards(model, blocks, cfg.batch_size, importance.device) as (shards, pool):
            return _loop(model, importance, cfg, progress, log_every, opt, blocks, batches, shards, pool)
    finally:
        batches.close()  # stops the drawing thread if a step raised


def _loop(model: nn.Module, importance: torch.Tensor, cfg: TrainConfig,
          progress: Callable[[int], None] | None, log_every: int, opt: torch.optim.Optimizer,
          blocks: list[Block] | None, batches: Iterator, shards: list | None,
          pool: ThreadPoolExecutor | None) -> TrainLog:
    """The steps. `batches` yields the fused path's block draws when `blocks` is set, else x (I, B, F)."""
    log = TrainLog()
    tick = max(1, cfg.steps // 100)
    scratch = None  # the fused step's reused buffers, one Scratch per computing thread
    if SCRATCH and blocks is not None:
        scratch = [Scratch(model.W) for _ in range(len(shards) if shards else 1)]
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, cfg)
        last = step == cfg.steps - 1
        check = (step + 1) % cfg.check_every == 0 or last
        logged = bool(log_every) and (step % log_every == 0 or last)
        if blocks is not None:
            loss = _fused_pass(model, blocks, next(batches), importance, grads=True,
                               loss=check or logged, shards=shards, pool=pool, scratch=scratch)
        else:
            loss = _objective(model, next(batches), importance)  # (I,)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            model.before_step()  # e.g. an SAE removes the gradient component parallel to its decoder atoms
        opt.step()
        model.after_step()
        if check:
            bad = (~torch.isfinite(loss)).nonzero().flatten().tolist()  # type: ignore[arg-type]
            if bad:
                raise TrainingDiverged(step, bad)
        if logged:
            log.steps.append(step)
            log.loss.append(loss.detach().cpu().tolist())  # type: ignore[union-attr]
        if progress is not None and ((step + 1) % tick == 0 or last):
            progress(tick if (step + 1) % tick == 0 else (step + 1) % tick)
    return log


@torch.no_grad()
def evaluate(model: nn.Module, sampler: Sampler, importance: torch.Tensor, n_samples: int, *,
             generator: torch.Generator, batch_size: int = 8192) -> torch.Tensor:
    """Mean objective per instance (I,) over n_samples fresh samples (a Monte Carlo estimate)."""
    device = next(model.parameters()).device
    with _cpu_threads(model, batch_size, 0, device):
        return _evaluate(model, sampler, importance, n_samples, generator, batch_size)


def _evaluate(model: nn.Module, sampler: Sampler, importance: torch.Tensor, n_samples: int,
              generator: torch.Generator, batch_size: int) -> torch.Tensor:
    sizes = [min(batch_size, n_samples - done) for done in range(0, n_samples, batch_size)]
    total = None
    if _fused_blocks(model, sampler, batch_size) is not None:  # the same estimate, hand-written loss
        signed = sampler.signed  # type: ignore[attr-defined]
        plan = lambda b: _fused_blocks(model, sampler, b)  # noqa: E731  (cached per batch size)
        draw = lambda b: [draw_block_entries(k, generator, signed=signed) for k in plan(b)]  # noqa: E731
        with _compute_shards(model, plan(batch_size), batch_size, importance.device) as (shards, pool):
            for b, xs in zip(sizes, _batches(draw, sizes, importance.device)):
                loss = _fused_pass(model, plan(b), xs, importance, grads=False, loss=True,  # type: ignore
                                   shards=shards if b == batch_size else None, pool=pool) * b
                total = loss if total is None else total + loss
    else:
        for b in sizes:
            loss = _objective(model, sampler.sample(b, generator), importance) * b
            total = loss if total is None else total + loss
    return total / n_samples  # type: ignore[operator]


def best_of_restarts(losses: torch.Tensor, n_restarts: int) -> torch.Tensor:
    """Index of the lowest-loss restart for each group of `n_restarts` consecutive instances.

    losses is (I,) with I = G·R laid out restart-fastest; returns the chosen instance indices (G,).
    """
    grouped = losses.reshape(-1, n_restarts)  # (G, R)
    return grouped.argmin(dim=1) + torch.arange(grouped.shape[0], device=losses.device) * n_restarts
