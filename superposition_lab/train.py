"""One trainer for every model in the lab: all instances in one tensor program.

Follows the TMS notebook's set-up: AdamW (lr 1e-3, torch's default weight decay 0.01), batch 1024,
a fresh batch every step. The instances of a run are independent models (grid points × seeds ×
restarts); their losses are summed, which leaves each instance's gradient untouched, and restarts
are reduced afterwards by `best_of_restarts` (lowest final loss wins).

A `Step` does one optimiser step: draw a batch, each instance's loss from the model's `loss_terms`,
autograd, the model's `before_step` / `after_step` hooks. A model with `loss_and_grads(x, importance,
loss=…)` (every SAE variant, the abs-value model) writes its gradients by hand instead of autograd —
autograd's numbers, bit for bit (an SAE's b_dec within float rounding), at less cost.
Where the model has a hand-written gradient (the tied toy models) and the data is `SparseUniform`,
`fast_step.FusedStep` does the same step faster (`_step` is the one place that chooses);
`fast_step` also holds the CPU tuning both paths share (intra-op threads, drawing the next batch on
a second thread, or — when drawing is cheap — an SAE sweep's hand gradient in two instance ranges on
two threads, `InstanceShards`). Both use torch's fused AdamW kernel where the device has one (`adamw.FusedAdamW`,
foreach otherwise): the update rule and hyperparameters of the notebook's `torch.optim.AdamW`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Protocol

import attrs
import torch
from torch import nn

from superposition_lab.adamw import make_adamw
from superposition_lab.data import Sampler, SparseUniform
from superposition_lab.fast_step import FusedStep, InstanceShards, cpu_threads, prefetched
from superposition_lab.models.toy import ToyModel

__all__ = [
    "TrainConfig",
    "TrainLog",
    "TrainingDiverged",
    "resolve_device",
    "lr_factor",
    "train",
    "evaluate",
    "best_of_restarts",
    "Step",
    "TrainableModel",
    "clip_instance_grad_norm",
]


class TrainableModel(Protocol):
    """What the trainer asks of a model (an `nn.Module`, e.g. a toy model or an SAE): its parameters,
    its named per-instance loss terms (each (I,)), and the hooks around the optimiser step."""

    def parameters(self) -> Iterator[nn.Parameter]: ...

    def named_parameters(self) -> Iterator[tuple[str, nn.Parameter]]: ...

    def loss_terms(self, x: torch.Tensor, importance: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def before_step(self) -> None: ...

    def after_step(self) -> None: ...


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
    threads: int = 0  # CPU intra-op threads; 0: from the step's size (fast_step.cpu_threads)
    prefetch: bool = True  # CPU: draw the next batch on a second thread (results are identical either way)
    shards: int = 0  # CPU: threads a toy fused step or an SAE sweep is split over; 0: auto, 1: none (same results)
    scratch: bool = True  # fused step: reuse buffers for its big intermediates (results are identical either way)
    snapshot_every: int = 0  # keep every parameter (on the host) and the loss every k steps, and the last; 0: none
    clip_grad_norm: float = 0.0  # > 0: scale each instance's gradient to at most this norm (SAELens: 1.0); 0: off


@attrs.define
class TrainLog:
    """What a run kept besides the final model: logged losses and, with `snapshot_every`, snapshots.

    A snapshot at step t holds the parameters the step-t batch was evaluated on (before that step's
    update) and that batch's per-instance loss: the trajectory of every instance for "during training"
    claims (TMS "Learning Dynamics": feature dimensionalities jump between plateaus).
    """

    steps: list[int] = attrs.field(factory=list)
    loss: list[list[float]] = attrs.field(factory=list)  # per logged step: per-instance loss
    snapshot_steps: list[int] = attrs.field(factory=list)
    snapshots: list[dict[str, torch.Tensor]] = attrs.field(factory=list)  # parameter name → host copy
    snapshot_loss: list[torch.Tensor] = attrs.field(factory=list)  # (I,) per snapshot

    def stacked(self, name: str) -> torch.Tensor:
        """Parameter `name` over the snapshots, (T, …): e.g. W as (T, I, H, F)."""
        return torch.stack([s[name] for s in self.snapshots])


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


def _objective(model: TrainableModel, x: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Per-instance objective (I,): the sum of the model's named loss terms."""
    # typeshed's sum() adds Literal[0] (the value of an empty sum); loss_terms always has a term
    return sum(model.loss_terms(x, importance).values())  # type: ignore[return-value]


@torch.no_grad()
def clip_instance_grad_norm(params: list[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale each instance's gradient so that its norm over all parameters is at most `max_norm`.

    `torch.nn.utils.clip_grad_norm_` (which SAELens's trainer applies with max_norm 1) on each model
    separately: every parameter's first axis is the instance axis, so instance i's norm is taken over
    its own slices only and clipping one instance never changes another's step. Same rule as torch:
    the factor is min(1, max_norm / (norm + 1e-6)). With one instance it makes torch's own calls, so
    the result is `clip_grad_norm_`'s to the bit. Returns the norms before clipping, (I,).
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(0)
    if grads[0].shape[0] == 1:  # one instance: torch's own calls, so exactly its clip_grad_norm_
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).reshape(1)
        torch._foreach_mul_(grads, (max_norm / (norm[0] + 1e-6)).clamp_(max=1.0))
        return norm
    # one norm over each instance's row of every gradient laid end to end: a handful of torch calls
    # whatever the number of parameters (the step of a small SAE is mostly per-call overhead)
    norm = torch.linalg.vector_norm(torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=1), dim=1)  # (I,)
    factor = (max_norm / (norm + 1e-6)).clamp_(max=1.0)
    torch._foreach_mul_(grads, [factor.reshape((-1,) + (1,) * (g.ndim - 1)) for g in grads])
    return norm


class Step:
    """One optimiser step of any model: a fresh batch x (I, B, F) of each size in `sizes` in turn,
    each instance's objective (the sum of its `loss_terms`), autograd, the model's hooks, AdamW.

    Use as a context manager (with `prefetch` the batches are drawn on a second thread); `opt` may
    be None when only `loss()` is used.
    """

    def __init__(
        self,
        model: TrainableModel,
        sampler: Sampler,
        importance: torch.Tensor,
        generator: torch.Generator,
        sizes: list[int],
        opt: torch.optim.Optimizer | None,
        *,
        prefetch: bool = True,
        clip_grad_norm: float = 0.0,
        shards: int = 0,
    ) -> None:
        self.model, self.importance, self.opt = model, importance, opt
        self.clip_grad_norm = clip_grad_norm
        self.params = [p for p in model.parameters() if p.requires_grad]
        # a model that writes its own gradients (`loss_and_grads`: the SAE variants, the abs-value model)
        hand = getattr(model, "loss_and_grads", None)
        self.loss_and_grads = hand if hand is not None and model.has_fused_step() else None  # type: ignore[attr-defined]
        # ... computed in instance ranges on two threads when the batches come inline (a core is free)
        splittable = (
            self.loss_and_grads is not None
            and hasattr(model, "instance_views")
            and importance.device.type == "cpu"
            and torch.get_num_threads() == 1
            and (os.cpu_count() or 1) >= 2
        )
        self.n_shards = min(shards or 2, getattr(model, "n_instances", 1)) if splittable and shards != 1 else 0
        self.shards: InstanceShards | None = None
        self.batches = prefetched(
            lambda b: sampler.sample(b, generator), sizes, importance.device, prefetch, threaded=self._draws_threaded
        )

    def _draws_threaded(self, threaded: bool) -> None:
        """`prefetched`'s choice: with the batches drawn inline, the hand gradient takes the free core."""
        if not threaded and self.n_shards >= 2 and self.opt is not None:
            self.shards = InstanceShards(self.model, self.n_shards)

    def __call__(self, loss: bool = True) -> torch.Tensor | None:
        """One optimiser step on the next batch; returns the per-instance loss (I,) when `loss` (autograd
        forms it anyway and returns it always; a hand-written gradient leaves it out, None, when not asked)."""
        assert self.opt is not None, "built without an optimiser: only loss() can be used"
        if self.loss_and_grads is not None:
            x = next(self.batches)
            # (I,) or None, and every parameter's .grad
            out = (self.shards or self.loss_and_grads)(x, self.importance, loss=loss)
        else:
            out = _objective(self.model, next(self.batches), self.importance)  # (I,)
            self.opt.zero_grad(set_to_none=True)
            out.sum().backward()
        self.model.before_step()  # e.g. an SAE removes the gradient component parallel to its decoder atoms
        if self.clip_grad_norm:
            clip_instance_grad_norm(self.params, self.clip_grad_norm)
        self.opt.step()
        self.model.after_step()
        return out

    @torch.no_grad()
    def loss(self) -> torch.Tensor:
        """The per-instance loss (I,) of the next batch, without a gradient."""
        return _objective(self.model, next(self.batches), self.importance)

    def __enter__(self) -> Step:
        return self

    def __exit__(self, *exc: object) -> None:
        self.batches.close()  # stops the drawing thread if a step raised
        if self.shards is not None:
            self.shards.close()


def _step(
    model: TrainableModel,
    sampler: Sampler,
    importance: torch.Tensor,
    generator: torch.Generator,
    sizes: list[int],
    opt: torch.optim.Optimizer | None,
    cfg: TrainConfig,
) -> Step | FusedStep:
    """The step for this model and data; the one place that chooses the path.

    The fused step where the model has a hand-written gradient (`has_fused_step`: the unmodified
    tied toy models), the data is `SparseUniform` and gradients are not clipped, else the generic
    one. Both take the same optimiser step on the same distribution of batches (drawn differently,
    so a seed gives other numbers on each path).
    """
    if (
        not cfg.clip_grad_norm
        and isinstance(sampler, SparseUniform)
        and isinstance(model, ToyModel)
        and model.has_fused_step()
    ):
        return FusedStep(
            model,
            sampler,
            importance,
            generator,
            sizes,
            opt,
            prefetch=cfg.prefetch,
            shards=cfg.shards,
            scratch=cfg.scratch,
        )
    return Step(
        model,
        sampler,
        importance,
        generator,
        sizes,
        opt,
        prefetch=cfg.prefetch,
        clip_grad_norm=cfg.clip_grad_norm,
        shards=cfg.shards,
    )


def train(
    model: TrainableModel,
    sampler: Sampler,
    importance: torch.Tensor,
    cfg: TrainConfig,
    *,
    generator: torch.Generator,
    progress: Callable[[int], None] | None = None,
    log_every: int = 0,
) -> TrainLog:
    """Train every instance of `model` for cfg.steps steps on fresh batches from `sampler`.

    importance is (I, F). `progress(n)` is called with the number of steps done since its last
    call (every ~1% of the run), so a progress bar costs nothing per step. Raises TrainingDiverged.
    The loss is read back to the host only every cfg.check_every steps (and when logging).
    """
    device = next(model.parameters()).device
    opt = make_adamw(list(model.parameters()), cfg.lr, cfg.weight_decay)
    bind = getattr(model, "bind_optimizer", None)
    if bind is not None:  # e.g. an SAE, whose resampling resets the Adam moments of the latents it revives
        bind(opt)
    log, tick = TrainLog(), max(1, cfg.steps // 100)
    with (
        cpu_threads(model, cfg.batch_size, cfg.threads, device),
        _step(model, sampler, importance, generator, [cfg.batch_size] * cfg.steps, opt, cfg) as step,
    ):
        for i in range(cfg.steps):
            for group in opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(i, cfg)
            last = i == cfg.steps - 1
            check = (i + 1) % cfg.check_every == 0 or last
            logged = bool(log_every) and (i % log_every == 0 or last)
            snap = bool(cfg.snapshot_every) and (i % cfg.snapshot_every == 0 or last)
            if snap:
                log.snapshot_steps.append(i)
                log.snapshots.append({n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters()})
            loss = step(loss=check or logged or snap)  # (I,); the fused step leaves it out (None) when not asked
            if check:
                assert loss is not None  # asked for
                bad = (~torch.isfinite(loss)).nonzero().flatten().tolist()
                if bad:
                    raise TrainingDiverged(i, bad)
            if logged:
                assert loss is not None  # asked for
                log.steps.append(i)
                log.loss.append(loss.detach().cpu().tolist())
            if snap:
                assert loss is not None  # asked for
                log.snapshot_loss.append(loss.detach().to("cpu", copy=True))
            if progress is not None and ((i + 1) % tick == 0 or last):
                progress(tick if (i + 1) % tick == 0 else (i + 1) % tick)
    return log


@torch.no_grad()
def evaluate(
    model: TrainableModel,
    sampler: Sampler,
    importance: torch.Tensor,
    n_samples: int,
    *,
    generator: torch.Generator,
    batch_size: int = 8192,
    cfg: TrainConfig | None = None,
) -> torch.Tensor:
    """Mean objective per instance (I,) over n_samples fresh samples (a Monte Carlo estimate).

    Drawn and computed like training batches (the same path), batch_size samples at a time; the
    CPU switches of `cfg` (default `TrainConfig()`) apply as in training.
    """
    cfg = cfg or TrainConfig()
    device = next(model.parameters()).device
    sizes = [min(batch_size, n_samples - done) for done in range(0, n_samples, batch_size)]
    total: torch.Tensor | None = None
    with (
        cpu_threads(model, batch_size, cfg.threads, device),
        _step(model, sampler, importance, generator, sizes, None, cfg) as step,
    ):
        for b in sizes:
            loss = step.loss() * b
            total = loss if total is None else total + loss
    assert total is not None, "n_samples must be positive"
    return total / n_samples


def best_of_restarts(losses: torch.Tensor, n_restarts: int) -> torch.Tensor:
    """Index of the lowest-loss restart for each group of `n_restarts` consecutive instances.

    losses is (I,) with I = G·R laid out restart-fastest; returns the chosen instance indices (G,).
    """
    grouped = losses.reshape(-1, n_restarts)  # (G, R)
    return grouped.argmin(dim=1) + torch.arange(grouped.shape[0], device=losses.device) * n_restarts
