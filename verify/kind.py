"""What an experiment kind is: what a spec's [experiment] table means, how it runs, what it can measure.

An experiment kind bundles an attrs config (the fields a spec may set), a `run` function that
trains or computes everything for one config and returns an `Outcome` of numpy arrays, the metrics
that read an Outcome, the fields that may be grid axes, and an optional plot for the report.
Outcomes are what the runner caches, so changing a check never retrains anything.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from superposition_lab.train import TrainConfig

__all__ = [
    "Outcome",
    "Metric",
    "ExperimentKind",
    "Parts",
    "RunContext",
    "Optimiser",
    "SCHEDULES",
    "grid_points",
    "at_point",
    "part_seed",
    "split_evenly",
    "merged_info",
]

SCHEDULES = ("constant", "linear", "cosine")


@attrs.frozen(kw_only=True)
class Optimiser:
    """The optimiser fields every training experiment has: AdamW with a learning-rate schedule.

    The defaults are the TMS notebook's (the `full` profile); a kind may give other values per profile
    in `ExperimentKind.defaults` (the toy models' quick profile: 1500 steps at lr 0.02, cosine), and a
    spec states only what differs from those.
    """

    steps: int = attrs.field(default=10_000, validator=v.ge(0))  # TMS notebook; 0 = untrained
    lr: float = attrs.field(default=1e-3, validator=v.gt(0))  # TMS notebook
    batch_size: int = attrs.field(default=1024, validator=v.ge(1))  # TMS notebook
    weight_decay: float = attrs.field(default=0.01, validator=v.ge(0))  # torch AdamW default
    schedule: str = attrs.field(default="constant", validator=v.in_(SCHEDULES))
    warmup: int = attrs.field(default=0, validator=v.ge(0))  # linear warm-up steps
    clip_grad_norm: float = attrs.field(default=0.0, validator=v.ge(0))  # per-model gradient norm cap; 0: off

    def __attrs_post_init__(self) -> None:
        if self.steps and self.warmup >= self.steps:
            raise ValueError(f"warmup: must be < steps (got warmup={self.warmup}, steps={self.steps})")

    def train_config(self) -> TrainConfig:
        """The lab's TrainConfig for these optimiser settings."""
        return TrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            schedule=self.schedule,
            warmup=self.warmup,
            clip_grad_norm=self.clip_grad_norm,
        )


@attrs.define
class Outcome:
    """Arrays with leading axes (points, seeds, …) plus the grid points they belong to. (The Outcome
    of one part of a run (`Parts`) holds whatever its kind's merge reads, in any layout.)"""

    points: list[dict[str, float]]  # one dict of axis values per grid point (P of them)
    arrays: dict[str, np.ndarray]  # name → (P, seeds, …)
    info: dict[str, Any] = attrs.field(factory=dict)  # seconds, device, steps, notes

    def digest(self) -> str:
        """sha256 over the arrays (sorted by name: name, dtype, shape, bytes), so two runs can be
        compared byte for byte without keeping their arrays."""
        h = hashlib.sha256()
        for name in sorted(self.arrays):
            a = np.ascontiguousarray(self.arrays[name])
            h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
            h.update(a.tobytes())
        return h.hexdigest()


@attrs.frozen
class Metric:
    """A measurement on an Outcome: returns (P, seeds, …) (values per grid point and seed).

    A `sweep_wide` metric describes the whole sweep (a plateau's width, whether two curves cross): it
    repeats one value per seed at every grid point, and a check counts it once per seed, not P times.
    """

    fn: Callable[[Outcome, Any], np.ndarray]
    doc: str
    sweep_wide: bool = False


@attrs.frozen
class RunContext:
    device: str = "auto"  # auto | cpu | cuda
    progress: Callable[[int, int], None] | None = None  # (advance, total) — total set on first call
    label: str = ""

    def progress_for(self, total: int) -> Callable[[int], None] | None:
        """A trainer-style callback (steps advanced) for a run of `total` steps, or None when nobody
        listens; announces the total at once."""
        report = self.progress
        if report is None or not total:
            return None
        report(0, total)
        return lambda n: report(n, total)


@attrs.frozen
class Parts:
    """How one config's run splits into independent parts, so that a distributed run can spread a
    large spec (a 25 × 25 phase map, a free-optimum grid) over workers with the Outcome unchanged.

    `count(config)` parts; `run(config, i, ctx)` computes part i alone (an Outcome of whatever the
    kind's merge reads); `merge(config, outcomes)` builds the side's Outcome from all of them, in
    order. A part must depend only on (config, i) — its own random stream, never a generator shared
    with another part — so the run is the same wherever its parts run. A part reports progress in
    units of the whole run (the total it announces is the whole run's). `run_parts` is the kind's
    `run`: the parts one after another in this process, so the single-process Outcome is by
    construction the merge of the same parts.
    """

    count: Callable[[Any], int]
    run: Callable[[Any, int, RunContext], Outcome]
    merge: Callable[[Any, list[Outcome]], Outcome]

    def run_parts(self, config: Any, ctx: RunContext) -> Outcome:
        return self.merge(config, [self.run(config, i, ctx) for i in range(self.count(config))])


def split_evenly(n: int, chunks: int) -> list[np.ndarray]:
    """Indices 0 … n − 1 in `chunks` contiguous runs of near-equal length (fewer when n < chunks): the
    units (cells, (point, seed) groups) of each part of a run split with `chunks`."""
    return [c for c in np.array_split(np.arange(n), min(chunks, n)) if c.size]


def part_seed(seed: int, part: int, parts: int) -> int:
    """The seed of part `part` of `parts`: the config's own seed when the run is one part (so a
    one-part run is the unsplit run, draw for draw), else an independent stream derived from (seed, part)."""
    if parts == 1:
        return seed
    entropy = seed % 2**64  # SeedSequence takes non-negative entropy; a spec may give any integer seed
    return int(np.random.SeedSequence(entropy, spawn_key=(part,)).generate_state(1, dtype=np.uint64)[0] >> 1)


def merged_info(outcomes: list[Outcome]) -> dict[str, Any]:
    """The info of a merged Outcome: the first part's, with seconds and instances summed over the parts."""
    info = dict(outcomes[0].info)
    for key in ("seconds", "instances"):
        if all(key in o.info for o in outcomes):
            info[key] = sum(o.info[key] for o in outcomes)
    info["parts"] = len(outcomes)
    return info


@attrs.frozen
class ExperimentKind:
    name: str
    config: type
    run: Callable[[Any, RunContext], Outcome]
    metrics: dict[str, Metric]
    axes: tuple[str, ...] = ()
    plot: Callable[[Outcome, Any, Path, str], list[Path]] | None = None
    doc: str = ""
    # values a spec gets unless it says otherwise; a value may differ per profile ({quick = …, full = …})
    defaults: dict[str, Any] = attrs.field(factory=dict)
    parts: Parts | None = None  # how a run splits into independent parts (None: it does not)


def grid_points(config: Any, axes: tuple[str, ...]) -> list[dict[str, float]]:
    """The cartesian product of every axis field that holds a list (in field order)."""
    lists = {a: getattr(config, a) for a in axes if isinstance(getattr(config, a), list)}
    names = list(lists)
    return [dict(zip(names, combo)) for combo in itertools.product(*(lists[n] for n in names))]


def at_point(config: Any, point: dict[str, float]) -> Any:
    """The config with each axis fixed to its value at `point` (a single-point config)."""
    return attrs.evolve(config, **point)
