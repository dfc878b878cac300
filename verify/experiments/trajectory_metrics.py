"""Training-trajectory metrics for the `toy` experiment's snapshots (TMS "Learning Dynamics": energy-level jumps)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from verify.kind import Metric, Outcome

__all__ = ["trajectory_metrics", "trajectory_plots"]

trajectory_metrics: dict[str, Metric] = {}
trajectory_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {}
