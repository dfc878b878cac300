"""The trainer's CPU fast path (superposition_lab.fast_step): every switch — the drawing thread,
compute shards, reused buffers — leaves parameters and evaluations bit-identical; the pieces
(Scratch, shard plans, the cost model's counts) do what they say."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

from superposition_lab.data import SparseUniform
from superposition_lab.fast_step import INLINE_DRAW_S, FusedStep, InstanceShards, Scratch, prefetched, shard_plan
from superposition_lab.ground_truth import GroundTruth, feature_directions
from superposition_lab.models import MODELS, SAES
from superposition_lab.models.sae_l1 import L1SAE
from superposition_lab.sparse_draw import CPU_COST, Block, fused_entry_flops
from superposition_lab.train import TrainConfig, evaluate, train


class PlainSampler:
    """The same distribution behind a type the fused path does not know: forces the generic path."""

    def __init__(self, inner: SparseUniform) -> None:
        self.inner = inner

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return self.inner.sample(batch_size, generator)


def _setup(seeds: int = 3):
    """A 5→2 ReLU-output model, `seeds` instances at each of four densities, importance 0.7^i."""
    densities = torch.tensor([1.0, 0.3, 0.1, 0.03])
    I = len(densities) * seeds
    density = densities.repeat_interleave(seeds)[:, None].expand(I, 5).contiguous()
    imp = (0.7 ** torch.arange(5.0)).expand(I, 5).contiguous()
    g = torch.Generator().manual_seed(0)
    return MODELS["relu_output"](I, 5, 2, generator=g), SparseUniform(density), imp, g


@pytest.mark.parametrize("wrap", [lambda s: s, PlainSampler], ids=["fused", "generic"])
def test_drawing_on_a_second_thread_changes_nothing(wrap) -> None:
    runs = []
    for prefetch in (True, False):
        model, sampler, imp, g = _setup()
        sampler = wrap(sampler)
        cfg = TrainConfig(steps=60, lr=0.01, prefetch=prefetch)
        train(model, sampler, imp, cfg, generator=g)
        loss = evaluate(model, sampler, imp, 3 * 8192 + 100, generator=torch.Generator().manual_seed(1), cfg=cfg)
        runs.append((model.W.detach().clone(), loss))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])


def test_an_sae_trains_the_same_with_or_without_the_drawing_thread() -> None:
    """The generic path with a model that keeps state between steps (dead-latent counts, its own
    resampling generator) and data drawn on the second thread."""
    runs = []
    for prefetch in (True, False):
        g = torch.Generator().manual_seed(2)
        data = GroundTruth(feature_directions(2, 4, 8, generator=g), torch.full((2, 8), 0.1))
        model = L1SAE(2, 4, 8, generator=g, penalty=0.05, resample_at=(20,), dead_window=10)
        cfg = TrainConfig(steps=40, lr=0.01, batch_size=256, prefetch=prefetch)
        train(model, data, torch.ones(2, 4), cfg, generator=g)
        runs.append([p.detach().clone() for p in model.parameters()] + [model.steps_since_fired.clone()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def _switch_runs(switch: str, shards: int = 2) -> list[tuple[torch.Tensor, ...]]:
    """Train a 40→4 model over 12 densities (dense and skip blocks) with a TrainConfig switch on, then
    off; steps are split into `shards` shards even at this size. Returns (W, b, evaluated loss) per run."""
    density = torch.logspace(-2.3, 0, 12)[:, None].expand(12, 40).contiguous()
    runs = []
    for on in (True, False):
        switches = {"shards": shards if on else 1} if switch == "shards" else {"shards": shards, switch: on}
        cfg = TrainConfig(steps=30, lr=0.01, **switches)
        g = torch.Generator().manual_seed(0)
        model, sampler, imp = MODELS["relu_output"](12, 40, 4, generator=g), SparseUniform(density), torch.ones(12, 40)
        train(model, sampler, imp, cfg, generator=g)
        loss = evaluate(model, sampler, imp, 2 * 8192 + 7, generator=torch.Generator().manual_seed(1), cfg=cfg)
        runs.append((model.W.detach().clone(), model.b.detach().clone(), loss))
    assert {"dense", "skip"} <= {b.method for b in sampler.blocks(1024, compact=True, entry_flops=fused_entry_flops(4))}
    return runs


def test_splitting_a_step_over_threads_changes_nothing() -> None:
    """Shards of instances computed on worker threads (skip blocks cut mid-block) give bit-identical
    parameters and evaluations."""
    runs = _switch_runs("shards")
    assert all(torch.equal(a, b) for a, b in zip(*runs))


@pytest.mark.parametrize("shards", [2, 1])
def test_reusing_buffers_changes_nothing(shards: int) -> None:
    """The fused step's intermediates written into reused buffers (per thread, grown when a step
    needs more) give bit-identical parameters, sharded or not."""
    runs = _switch_runs("scratch", shards)
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_shards_are_used_when_asked_or_big_enough() -> None:
    """`shards=2` splits even a small step (so the tests above exercise the threads); `shards=0`
    leaves it to the cost model, which keeps a small step whole; steps on several intra-op
    threads are never split."""
    model, sampler, imp, g = _setup()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        for shards, expect in ((2, 2), (0, 0), (1, 0)):
            with FusedStep(model, sampler, imp, g, [1024] * 3, None, shards=shards) as step:
                assert len(step.shards or []) == expect and (step.pool is not None) == bool(expect)
        torch.set_num_threads(2)
        with FusedStep(model, sampler, imp, g, [1024] * 3, None, shards=2) as step:
            assert step.shards is None
    finally:
        torch.set_num_threads(before)


def test_cost_model_counts() -> None:
    assert CPU_COST.intra_op_threads(1e9, 8) == 1 and CPU_COST.intra_op_threads(6e9, 8) == 3
    assert CPU_COST.intra_op_threads(1e12, 2) == 2
    assert CPU_COST.shards(0.9e9, 16) == 0 and CPU_COST.shards(3.5e9, 16) == 3 and CPU_COST.shards(1e12, 2) == 2


def test_scratch_grows_and_reuses() -> None:
    s = Scratch(torch.zeros(1, dtype=torch.float64))
    a = s(0, (2, 5))
    assert a.shape == (2, 5) and a.dtype == torch.float64
    assert s(0, (5,)).data_ptr() == a.data_ptr() and s(1, (5,)).data_ptr() != a.data_ptr()
    assert s(0, (4, 5)).numel() == 20


def test_shard_plan_balances_rows() -> None:
    density = torch.full((10, 3), 0.5)
    blocks = [
        Block(list(range(0, 4)), "dense", 100, 0, density, 100),
        Block(list(range(4, 10)), "rows", 50, 0, density, 100),
    ]
    shards = shard_plan(blocks, 2)  # work 4·100 + 6·50 = 700: about 350 each
    assert shards == [[(0, 0, 3)], [(0, 3, 4), (1, 0, 6)]]


@pytest.mark.parametrize("seconds", [0.0, 2e-3])
def test_prefetch_draws_inline_only_what_is_cheaper_than_the_hand_over(seconds, monkeypatch) -> None:
    """A draw under INLINE_DRAW_S stays on the caller's thread; a slower one moves to the drawing
    thread after the first; either way the batches come in the order drawn."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # as on a machine with a core to spare
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    threads = []

    def draw(size: int) -> int:
        threads.append(threading.current_thread())
        time.sleep(seconds)
        return size

    sizes = [3, 1, 4, 1, 5]
    assert list(prefetched(draw, sizes, torch.device("cpu"))) == sizes
    main = threading.current_thread()
    assert threads[0] is main
    assert all(t is main for t in threads) == (seconds < INLINE_DRAW_S)


SHARD_CASES = {
    "l1": ("l1", dict(penalty=0.3, resample_at=(30,), dead_window=10)),
    "topk-auxk": ("topk", dict(k=2, dead_window=5)),  # latents die within the run: AuxK in some parts only
    "gated-frozen": ("gated", dict(penalty=0.3)),
    "gated-trained-sigmoid": ("gated", dict(penalty=0.3, aux_decoder="trained", gate="sigmoid")),
    "jumprelu": ("jumprelu", dict(penalty=0.05)),
    "jumprelu-shifted-direct": ("jumprelu", dict(penalty=0.05, form="shifted_relu", threshold_param="direct")),
}


@pytest.mark.parametrize("case", list(SHARD_CASES))
def test_sae_hand_gradient_in_instance_parts_is_bit_identical(case, monkeypatch) -> None:
    """InstanceShards (the SAE step split by instances over two threads, 3 instances: parts of 2 and 1)
    trains every variant to the same bits as the whole step: parameters, dead-latent counts, losses."""
    name, options = SHARD_CASES[case]
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # a core to spare, whatever the machine
    calls = []
    real_call = InstanceShards.__call__
    monkeypatch.setattr(InstanceShards, "__call__", lambda self, *a, **kw: calls.append(1) or real_call(self, *a, **kw))
    dirs = feature_directions(3, 6, 16, generator=torch.Generator().manual_seed(1))
    data = GroundTruth(dirs, torch.full((3, 16), 0.15))
    runs = []
    for shards in (1, 2):
        model = SAES[name](3, 6, 10, generator=torch.Generator().manual_seed(0), **options)
        with torch.no_grad():
            model.b_enc.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(3))
        cfg = TrainConfig(steps=60, batch_size=64, check_every=7, clip_grad_norm=1.0, shards=shards, prefetch=False)
        log = train(model, data, torch.ones(3, 6), cfg, generator=torch.Generator().manual_seed(2), log_every=9)
        runs.append(([p.detach().clone() for p in model.parameters()], model.steps_since_fired.clone(), log.loss))
    assert len(calls) == 60  # the second run took every step in parts
    (p1, s1, l1), (p2, s2, l2) = runs
    for a, b in zip(p1, p2, strict=True):
        assert torch.equal(a.view(torch.int32), b.view(torch.int32))
    assert torch.equal(s1, s2) and l1 == l2
