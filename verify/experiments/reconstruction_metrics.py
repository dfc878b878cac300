"""Reconstruction metrics for the `toy` experiment: per-feature error and off-diagonal mass of WᵀW (the TDS article)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from verify.kind import Metric, Outcome

__all__ = ["reconstruction_metrics", "reconstruction_plots"]

reconstruction_metrics: dict[str, Metric] = {}
reconstruction_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {}
