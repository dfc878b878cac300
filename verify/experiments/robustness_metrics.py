"""Adversarial-robustness metrics for the `toy` experiment (TMS "Superposition and Adversarial Robustness")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from verify.kind import Metric, Outcome

__all__ = ["robustness_metrics", "robustness_plots"]

robustness_metrics: dict[str, Metric] = {}
robustness_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {}
