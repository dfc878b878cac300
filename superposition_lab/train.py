"""One trainer for every model in the lab: all instances in one tensor program.

Follows the TMS notebook's set-up: AdamW (lr 1e-3, torch's default weight decay 0.01), batch 1024,
a fresh batch every step. The instances of a run are independent models (grid points × seeds ×
restarts); their losses are summed, which leaves each instance's gradient untouched, and restarts
are reduced afterwards by `best_of_restarts` (lowest final loss wins).
"""

from __future__ import annotations

import math
from typing import Callable

import attrs
import torch
from torch import nn

from superposition_lab.data import Sampler

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


def _objective(model: nn.Module, x: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Per-instance objective (I,): the sum of the model's named loss terms."""
    return sum(model.loss_terms(x, importance).values())  # type: ignore[return-value]


def train(model: nn.Module, sampler: Sampler, importance: torch.Tensor, cfg: TrainConfig, *,
          generator: torch.Generator, progress: Callable[[int], None] | None = None,
          log_every: int = 0) -> TrainLog:
    """Train every instance of `model` for cfg.steps steps on fresh batches from `sampler`.

    importance is (I, F). `progress(n)` is called with the number of steps done since its last
    call (every ~1% of the run), so a progress bar costs nothing per step. Raises TrainingDiverged.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    log = TrainLog()
    tick = max(1, cfg.steps // 100)
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, cfg)
        x = sampler.sample(cfg.batch_size, generator)  # (I, B, F)
        loss = _objective(model, x, importance)  # (I,)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        model.before_step()  # e.g. an SAE removes the gradient component parallel to its decoder atoms
        opt.step()
        model.after_step()
        last = step == cfg.steps - 1
        if (step + 1) % cfg.check_every == 0 or last:
            bad = (~torch.isfinite(loss)).nonzero().flatten().tolist()
            if bad:
                raise TrainingDiverged(step, bad)
        if log_every and (step % log_every == 0 or last):
            log.steps.append(step)
            log.loss.append(loss.detach().cpu().tolist())
        if progress is not None and ((step + 1) % tick == 0 or last):
            progress(tick if (step + 1) % tick == 0 else (step + 1) % tick)
    return log


@torch.no_grad()
def evaluate(model: nn.Module, sampler: Sampler, importance: torch.Tensor, n_samples: int, *,
             generator: torch.Generator, batch_size: int = 8192) -> torch.Tensor:
    """Mean objective per instance (I,) over n_samples fresh samples (a Monte Carlo estimate)."""
    total, done = None, 0
    while done < n_samples:
        b = min(batch_size, n_samples - done)
        loss = _objective(model, sampler.sample(b, generator), importance) * b
        total = loss if total is None else total + loss
        done += b
    return total / n_samples  # type: ignore[operator]


def best_of_restarts(losses: torch.Tensor, n_restarts: int) -> torch.Tensor:
    """Index of the lowest-loss restart for each group of `n_restarts` consecutive instances.

    losses is (I,) with I = G·R laid out restart-fastest; returns the chosen instance indices (G,).
    """
    grouped = losses.reshape(-1, n_restarts)  # (G, R)
    return grouped.argmin(dim=1) + torch.arange(grouped.shape[0], device=losses.device) * n_restarts
