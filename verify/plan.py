"""Planning one spec side for the runner's seam: its config, cache key and entry, and its jobs.

A side is one job, except a hypothesis [property] side run on another executor: hypothesis is
dry-run with every point passing (`drawn_points`), and those points become one job each — all of
them for a claim (which needs every point), the first `CONTROL_AHEAD` for a control (which should
fail early; hypothesis then shrinks, and each point it asks for beyond those runs when asked).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import attrs

from verify import cache
from verify.jobs import JobResult, cache_key
from verify.judgement import drawn_points
from verify.kind import ExperimentKind
from verify.spec import Spec
from verify.validation import experiment_config, experiment_kind

__all__ = ["Side", "plan_side", "CONTROL_AHEAD"]

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
    todo: list[dict[str, Any] | None] = attrs.field(factory=list)  # jobs still to submit (None: the side)
    results: dict[str, JobResult] = attrs.field(factory=dict)  # what came back, by point key ("" = the side)
    pending: int = 0  # jobs submitted and not yet back

    @property
    def label(self) -> str:
        return "control" if self.control else "claim"


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
    side.kind = kind  # last: a side without a kind could not be planned
