"""The trainer: hand-written gradients ≡ autograd, fused path ≡ generic path in distribution,
CPU determinism, divergence detection, schedules, thread handling. The CPU switches (drawing
thread, shards, reused buffers) are tested in test_fast_step.py. No timings asserted here (speed
is measured by benchmarks/bench_train.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superposition_lab.data import SparseUniform
from superposition_lab.models import MODELS
from superposition_lab.models.toy import ReLUOutputToy
from superposition_lab.train import (
    TrainConfig,
    TrainingDiverged,
    _step,
    best_of_restarts,
    clip_instance_grad_norm,
    evaluate,
    lr_factor,
    train,
)


class PlainSampler:
    """The same distribution behind a type the fused path does not know: forces the autograd path."""

    def __init__(self, inner: SparseUniform) -> None:
        self.inner = inner

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return self.inner.sample(batch_size, generator)


class ShiftedReLU(ReLUOutputToy):
    """Overrides forward, so the hand-written gradient no longer applies."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.preactivation(x) - 0.1)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    st.sampled_from(["linear", "relu_output"]),
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(1, 4),
    st.integers(1, 40),
    st.integers(0, 30),
    st.integers(0, 10**6),
)
def test_hand_gradients_equal_autograd(name: str, n: int, F: int, H: int, R: int, zero_rows: int, seed: int) -> None:
    """On random parameters and data (float64), with zero rows appended: gradient and loss agree."""
    g = torch.Generator().manual_seed(seed)
    model = MODELS[name](n, F, H, generator=g, dtype=torch.float64)
    with torch.no_grad():
        model.b.normal_(generator=g)
    imp = torch.rand((n, F), generator=g, dtype=torch.float64)
    x = torch.rand((n, R, F), generator=g, dtype=torch.float64) * (torch.rand((n, R, F), generator=g) < 0.5)
    full = torch.cat([x, torch.zeros((n, zero_rows, F), dtype=torch.float64)], dim=1)  # (n, B, F)
    loss = sum(model.loss_terms(full, imp).values())
    loss.sum().backward()
    gW, gb, fused = model.fused_loss_and_grads(
        model.W.detach(), model.b.detach(), x.transpose(1, 2).contiguous(), imp, zero_rows, loss=True
    )
    assert torch.allclose(gW, model.W.grad, rtol=1e-10, atol=1e-12)
    assert torch.allclose(gb, model.b.grad, rtol=1e-10, atol=1e-12)
    assert torch.allclose(fused, loss.detach(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["linear", "relu_output"])
def test_sparse_entries_give_the_same_gradient(name: str) -> None:
    """Subtracting x only at its listed nonzeros (padding entries included) ≡ the dense formula."""
    g = torch.Generator().manual_seed(4)
    model = MODELS[name](3, 7, 2, generator=g, dtype=torch.float64)
    with torch.no_grad():
        model.b.normal_(generator=g)
    imp = torch.rand((3, 7), generator=g, dtype=torch.float64)
    x = torch.rand((3, 7, 50), generator=g, dtype=torch.float64) * (torch.rand((3, 7, 50), generator=g) < 0.2)
    where = x.view(-1).nonzero().flatten()
    pad = torch.full((5,), x.numel())
    entries = (torch.cat([where, pad]), torch.cat([x.view(-1)[where], torch.rand(5, dtype=torch.float64)]))
    W, b = model.W.detach(), model.b.detach()
    dense = model.fused_loss_and_grads(W, b, x, imp, 3, loss=True)
    sparse = model.fused_loss_and_grads(W, b, x, imp, 3, loss=True, entries=entries)
    for d, s in zip(dense, sparse):
        assert torch.allclose(d, s, rtol=1e-12, atol=1e-14)


def test_skip_draw_lists_its_entries() -> None:
    from superposition_lab.sparse_draw import Block, draw_block_entries

    x, (idx, vals) = draw_block_entries(
        Block([0, 1], "skip", 256, 20, torch.full((2, 3), 0.05), 256), torch.Generator().manual_seed(0)
    )
    real = idx < x.numel()
    assert torch.equal(torch.sort(idx[real]).values, x.view(-1).nonzero().flatten())
    assert torch.equal(x.view(-1)[idx[real]], vals[real])


@pytest.mark.parametrize("name", ["linear", "relu_output", "relu_hidden"])
def test_hand_gradients_equal_autograd_in_float32(name: str) -> None:
    g = torch.Generator().manual_seed(0)
    model = MODELS[name](8, 20, 5, generator=g)
    imp = 0.7 ** torch.arange(20.0).expand(8, 20)
    x = SparseUniform(torch.full((8, 20), 0.1)).sample(1024, g)  # (I, B, F)
    sum(model.loss_terms(x, imp).values()).sum().backward()
    gW, gb, _ = model.fused_loss_and_grads(model.W.detach(), model.b.detach(), x.transpose(1, 2), imp)
    assert torch.allclose(gW, model.W.grad, rtol=1e-4, atol=1e-6)
    assert torch.allclose(gb, model.b.grad, rtol=1e-4, atol=1e-6)


def test_fused_step_only_for_the_unmodified_tied_models() -> None:
    g = torch.Generator().manual_seed(0)
    assert MODELS["linear"](1, 3, 2, generator=g).has_fused_step()
    assert MODELS["relu_output"](1, 3, 2, generator=g).has_fused_step()
    assert MODELS["relu_hidden"](1, 3, 2, generator=g).has_fused_step()
    assert not ShiftedReLU(1, 3, 2, generator=g).has_fused_step()
    # an L1 penalty on h is a loss term the hand-written gradient does not have
    assert not MODELS["relu_output"](1, 3, 2, generator=g, hidden_l1=torch.tensor([0.1])).has_fused_step()
    assert MODELS["relu_output"](1, 3, 2, generator=g, hidden_l1=torch.tensor([0.0])).has_fused_step()


SEEDS = 8
DENSITIES = torch.tensor([1.0, 0.3, 0.1, 0.03])


def _setup(name: str = "relu_output", seed: int = 0, seeds: int = 3):
    """A 5→2 model, `seeds` instances at each of four densities, importance 0.7^i."""
    I = len(DENSITIES) * seeds
    density = DENSITIES.repeat_interleave(seeds)[:, None].expand(I, 5).contiguous()
    imp = (0.7 ** torch.arange(5.0)).expand(I, 5).contiguous()
    g = torch.Generator().manual_seed(seed)
    return MODELS[name](I, 5, 2, generator=g), SparseUniform(density), imp, g


def test_cpu_training_is_bit_identical_for_a_seed() -> None:
    for wrap in (lambda s: s, PlainSampler):  # fused path, generic path
        runs = []
        for _ in range(2):
            model, sampler, imp, g = _setup()
            train(model, wrap(sampler), imp, TrainConfig(steps=150, lr=0.01), generator=g)
            runs.append((model.W.detach().clone(), model.b.detach().clone()))
        assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])


def test_fused_and_generic_paths_reach_the_same_losses() -> None:
    """Same models, data distribution and schedule, different draws: per density, the mean evaluated
    loss over 8 seeds agrees within 4 standard errors of the seed-to-seed spread (plus 1% for
    Monte Carlo), and so does the number of represented features (‖W_i‖ > 0.5) within half a
    feature. (Measured: |t| < 1 at every density, for both models and two seeds.)"""
    cfg = TrainConfig(steps=600, lr=0.01, schedule="cosine")
    results = []
    for wrap in (lambda s: s, PlainSampler):
        model, sampler, imp, g = _setup(seeds=SEEDS)
        train(model, wrap(sampler), imp, cfg, generator=g)
        # both evaluated on the same draws, so Monte Carlo noise mostly cancels
        loss = evaluate(model, sampler, imp, 2**16, generator=torch.Generator().manual_seed(9)).view(4, SEEDS)
        results.append((loss, (model.W.detach().norm(dim=1) > 0.5).sum(-1).view(4, SEEDS).float()))
    (lf, nf), (lp, np_) = results
    t = (lf.mean(1) - lp.mean(1)).abs() / torch.sqrt(lf.var(1) / SEEDS + lp.var(1) / SEEDS + (0.01 * lp.mean(1)) ** 2)
    assert float(t.max()) < 4, (lf.mean(1), lp.mean(1), t)
    assert float((nf.mean(1) - np_.mean(1)).abs().max()) <= 0.5, (nf.mean(1), np_.mean(1))


def test_fused_evaluate_equals_the_generic_estimate() -> None:
    """Two independent Monte Carlo estimates of the same expected loss agree within 5 standard errors."""
    model, sampler, imp, _ = _setup()
    train(model, sampler, imp, TrainConfig(steps=200, lr=0.01), generator=torch.Generator().manual_seed(1))
    n = 2**17
    fused = evaluate(model, sampler, imp, n, generator=torch.Generator().manual_seed(2))
    plain = evaluate(model, PlainSampler(sampler), imp, n, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():  # the per-sample standard deviation, from one more draw
        x = sampler.sample(n, torch.Generator().manual_seed(4))  # (I, n, F)
        per_sample = ((x - model(x)) ** 2 * imp[:, None, :]).sum(-1)  # (I, n)
    se = per_sample.std(dim=1) * (2 / n) ** 0.5  # of the difference of two means
    assert float(((fused - plain).abs() / se).max()) < 5


@pytest.mark.parametrize("plain", [False, True])
def test_divergence_names_the_instances(plain: bool) -> None:
    model, sampler, imp, g = _setup()
    with torch.no_grad():
        model.W[[2, 7]] = float("nan")
    with pytest.raises(TrainingDiverged) as err:
        train(
            model, PlainSampler(sampler) if plain else sampler, imp, TrainConfig(steps=20, check_every=10), generator=g
        )
    assert err.value.instances == [2, 7] and err.value.step == 9


def test_log_and_progress() -> None:
    model, sampler, imp, g = _setup()
    done: list[int] = []
    log = train(model, sampler, imp, TrainConfig(steps=250, lr=0.01), generator=g, progress=done.append, log_every=100)
    assert log.steps == [0, 100, 200, 249] and all(len(row) == 12 for row in log.loss)
    assert sum(done) == 250
    assert log.loss[-1] < log.loss[0]  # per-instance lists compare lexicographically: instance 0 improved


def test_threads_are_restored() -> None:
    before = torch.get_num_threads()
    model, sampler, imp, g = _setup()
    train(model, sampler, imp, TrainConfig(steps=5, threads=1), generator=g)
    assert torch.get_num_threads() == before


def test_schedules_and_restarts() -> None:
    cfg = TrainConfig(steps=110, warmup=10, schedule="cosine")
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(10, cfg) == pytest.approx(1.0) and lr_factor(60, cfg) == pytest.approx(0.5)
    assert lr_factor(60, TrainConfig(steps=110, warmup=10, schedule="linear")) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        lr_factor(0, TrainConfig(schedule="step"))
    assert best_of_restarts(torch.tensor([3.0, 1.0, 2.0, 0.5, 0.7, 0.9]), 3).tolist() == [1, 3]


@pytest.mark.parametrize("plain", [False, True])
def test_the_bias_is_trained(plain: bool) -> None:
    """b starts at 0 and must move: with 2 of 5 features dropped the optimal bias is their mean, not 0
    (a bias with no gradient still trains W, so only this catches it), on the fused and the generic path."""
    model, sampler, imp, g = _setup("linear", seeds=1)
    train(model, PlainSampler(sampler) if plain else sampler, imp, TrainConfig(steps=20, lr=0.02), generator=g)
    assert float(model.b.detach().abs().max()) > 1e-3


def test_the_schedule_changes_the_learning_rate_the_optimiser_uses() -> None:
    """Same seed, same steps: a linear decay to 0 must end elsewhere than the constant rate."""
    ends = []
    for schedule in ("constant", "linear"):
        model, sampler, imp, g = _setup("linear", seeds=1)
        train(model, sampler, imp, TrainConfig(steps=20, lr=0.02, schedule=schedule), generator=g)
        ends.append(model.W.detach().clone())
    assert not torch.allclose(ends[0], ends[1])


@pytest.mark.parametrize("plain", [False, True])
def test_snapshots_hold_the_parameters_each_loss_was_measured_on(plain: bool) -> None:
    """Snapshots every 40 steps and at the last; snapshot t's loss is the step-t batch's loss on
    snapshot t's parameters; snapshotting changes nothing about the run."""
    runs = []
    for every in (0, 40):
        model, sampler, imp, g = _setup()
        data = PlainSampler(sampler) if plain else sampler
        log = train(model, data, imp, TrainConfig(steps=101, lr=0.01, snapshot_every=every), generator=g)
        runs.append((model.W.detach().clone(), log))
    (W0, _), (W1, log) = runs
    assert torch.equal(W0, W1)
    assert log.snapshot_steps == [0, 40, 80, 100] and log.stacked("W").shape == (4, 12, 2, 5)
    model, sampler, imp, g = _setup()
    with torch.no_grad():
        model.W.copy_(log.snapshots[0]["W"]), model.b.copy_(log.snapshots[0]["b"])
    first = evaluate(model, PlainSampler(sampler), imp, 2**15, generator=torch.Generator().manual_seed(5))
    # the step-0 batch (1024 samples) against a 32k-sample estimate: same parameters, same loss ± noise
    assert torch.allclose(log.snapshot_loss[0], first, rtol=0.25)
    assert not torch.equal(log.snapshots[0]["W"], log.snapshots[1]["W"])


def test_clipping_is_torchs_rule_applied_to_each_instance_alone() -> None:
    """Instance i's gradient, over all parameters, is clipped as `torch.nn.utils.clip_grad_norm_` clips
    a model that is instance i alone; the other instances' gradients are left as they are."""
    g = torch.Generator().manual_seed(0)
    W, b = torch.nn.Parameter(torch.zeros(3, 4, 5)), torch.nn.Parameter(torch.zeros(3, 5))
    W.grad = torch.randn(3, 4, 5, generator=g) * torch.tensor([0.01, 1.0, 10.0])[:, None, None]
    b.grad = torch.randn(3, 5, generator=g)
    expected = []
    for i in range(3):
        Wi, bi = torch.nn.Parameter(W[i].detach().clone()), torch.nn.Parameter(b[i].detach().clone())
        Wi.grad, bi.grad = W.grad[i].clone(), b.grad[i].clone()
        norm = torch.nn.utils.clip_grad_norm_([Wi, bi], 1.0)
        expected.append((Wi.grad, bi.grad, norm))
    norms = clip_instance_grad_norm([W, b], 1.0)
    for i, (gW, gb, norm) in enumerate(expected):
        torch.testing.assert_close(W.grad[i], gW)
        torch.testing.assert_close(b.grad[i], gb)
        torch.testing.assert_close(norms[i], norm)


def test_clipping_one_instance_is_torchs_clip_grad_norm_bit_for_bit() -> None:
    """With one instance (the SAELens comparison's case) the clip makes torch's own calls: the same
    norm and gradients to the bit, clipped or not."""
    g = torch.Generator().manual_seed(0)
    for scale in (0.01, 10.0):
        ours = [torch.nn.Parameter(torch.zeros(shape)) for shape in ((1, 4, 5), (1, 5), (1, 4))]
        for p in ours:
            p.grad = torch.randn(p.shape, generator=g) * scale
        torchs = [torch.nn.Parameter(p.detach()[0].clone()) for p in ours]
        for p, q in zip(ours, torchs, strict=True):
            q.grad = p.grad[0].clone()
        norm = clip_instance_grad_norm(ours, 1.0)
        assert torch.equal(norm, torch.nn.utils.clip_grad_norm_(torchs, 1.0).reshape(1))
        for p, q in zip(ours, torchs, strict=True):
            assert torch.equal(p.grad[0], q.grad)


def test_clipping_takes_the_generic_step_and_changes_training() -> None:
    model, sampler, imp, g = _setup()
    clipped = TrainConfig(steps=50, lr=0.01, clip_grad_norm=1e-3)
    opt = torch.optim.AdamW(model.parameters())
    with _step(model, sampler, imp, g, [8], opt, clipped) as step:
        assert type(step).__name__ == "Step"  # the fused step has no clipping
    runs = []
    for cfg in (TrainConfig(steps=50, lr=0.01), clipped):
        model, sampler, imp, g = _setup()
        train(model, PlainSampler(sampler), imp, cfg, generator=g)
        runs.append(model.W.detach().clone())
    assert not torch.equal(runs[0], runs[1])
