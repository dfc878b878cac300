"""Planning one spec side for the runner's seam: its config, cache key and entry, and its jobs.

A side is one job, except on another executor than the inline one:
- a hypothesis [property] side: hypothesis is dry-run with every point passing (`drawn_points`),
  and those points become one job each — all of them for a claim (which needs every point), the
  first `CONTROL_AHEAD` for a control (which should fail early; hypothesis then shrinks, and each
  point it asks for beyond those runs when asked);
- a side whose kind splits into independent parts (`ExperimentKind.parts`: a chunked phase map, the
  free optimum's grid): one job per part, merged by the parent in part order.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import attrs

from verify import cache
from verify.jobs import JobResult, cache_key
from verify.judgement import drawn_points, point_key
from verify.kind import ExperimentKind
from verify.spec import Spec
from verify.validation import experiment_config, experiment_kind

__all__ = ["Side", "plan_side", "job_key", "CONTROL_AHEAD"]

CONTROL_AHEAD = 4  # a control [property] side's points computed ahead; the rest run when hypothesis asks


@attrs.define(eq=False)
class Side:
    """One spec side from planning to its Judgement."""

    index: int  # the spec's position in the run
    spec: Spec
    control: bool
    start: float = 0.0
    key: str = ""
    path: Path | None = None
    config: Any = None
    kind: ExperimentKind | None = None
    lock: contextlib.ExitStack | None = None
    units: int = 1  # progress units: 1, or the number of pre-drawn property points
    # jobs still to submit: None the whole side, a dict a property point, an int a part
    todo: list[dict[str, Any] | int | None] = attrs.field(factory=list)
    results: dict[str, JobResult] = attrs.field(factory=dict)  # what came back, by `job_key` ("" = the side)
    pending: int = 0  # jobs submitted and not yet back

    @property
    def label(self) -> str:
        return "control" if self.control else "claim"


def job_key(task: dict[str, Any] | int | None) -> str:
    """Where a job's result is kept in `Side.results`: "" the whole side, "part i", or the point's key."""
    if task is None:
        return ""
    if isinstance(task, int):
        return f"part {task}"
    return point_key(task)


def plan_side(side: Side, profile: str, device: str, cache_dir: Path | None, ahead: bool) -> None:
    """Fill in the side's config, cache key and entry, and the jobs to submit (`ahead`: a property's
    points as jobs of their own; else it runs its points itself, as hypothesis draws them)."""
    side.config = experiment_config(side.spec, profile, side.control)
    kind = experiment_kind(side.spec)
    side.key = cache_key(side.spec, profile, side.control, device)
    if cache_dir:
        side.path = cache.entry_path(cache_dir, side.spec.id, side.control, side.key)
    side.todo = [None]
    prop = side.spec.property
    if prop is not None:
        points = drawn_points(prop, profile) if ahead else []
        side.todo = list(points[:CONTROL_AHEAD] if side.control else points)
        side.units = max(1, len(side.todo))
    elif kind.parts is not None and ahead:
        side.todo = list(range(kind.parts.count(side.config)))
        side.units = len(side.todo)
    side.kind = kind  # last: a side without a kind could not be planned
