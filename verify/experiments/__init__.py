"""Experiment kinds: what a spec's [experiment] table means, how it runs, what it can measure.

An experiment kind bundles an attrs config (the fields a spec may set), a `run` function that
trains or computes everything for one config and returns an `Outcome` of numpy arrays, the metrics
that read an Outcome, the fields that may be grid axes, and an optional plot for the report.
Outcomes are what the runner caches, so changing a check never retrains anything.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable

import attrs
import numpy as np

__all__ = ["Outcome", "Metric", "ExperimentKind", "RunContext", "grid_points", "at_point", "train_config",
           "save_figure"]

# The optimiser fields every training experiment declares (each kind with defaults of its own).
TRAIN_FIELDS = ("steps", "batch_size", "lr", "weight_decay", "schedule", "warmup")


@attrs.define
class Outcome:
    """Arrays with leading axes (points, seeds, …) plus the grid points they belong to."""

    points: list[dict[str, float]]  # one dict of axis values per grid point (P of them)
    arrays: dict[str, np.ndarray]  # name → (P, seeds, …)
    info: dict[str, Any] = attrs.field(factory=dict)  # seconds, device, steps, notes


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


@attrs.frozen
class ExperimentKind:
    name: str
    config: type
    run: Callable[[Any, RunContext], Outcome]
    metrics: dict[str, Metric]
    axes: tuple[str, ...] = ()
    plot: Callable[[Outcome, Any, Path, str], list[Path]] | None = None
    doc: str = ""


def grid_points(config: Any, axes: tuple[str, ...]) -> list[dict[str, float]]:
    """The cartesian product of every axis field that holds a list (in field order)."""
    lists = {a: getattr(config, a) for a in axes if isinstance(getattr(config, a), list)}
    names = list(lists)
    return [dict(zip(names, combo)) for combo in itertools.product(*(lists[n] for n in names))]


def at_point(config: Any, point: dict[str, float]) -> Any:
    """The config with each axis fixed to its value at `point` (a single-point config)."""
    return attrs.evolve(config, **point)


def train_config(config: Any) -> "TrainConfig":
    """The lab's TrainConfig from an experiment config's optimiser fields (TRAIN_FIELDS)."""
    from superposition_lab.train import TrainConfig

    return TrainConfig(**{f: getattr(config, f) for f in TRAIN_FIELDS})


def save_figure(fig: Any, out_dir: Path, stem: str, *, dpi: int = 110,
                rect: tuple[float, float, float, float] | None = None) -> list[Path]:
    """Lay the figure out (within `rect`, if given), write it to out_dir/<stem>.png and close it;
    returns the path list a kind's plot function hands to the report."""
    import matplotlib.pyplot as plt

    fig.tight_layout(rect=rect)
    path = out_dir / f"{stem}.png"
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return [path]
