"""Neuron metrics for the `toy` experiment's relu_hidden model (TMS "Superposition in a Privileged Basis")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from verify.kind import Metric, Outcome

__all__ = ["neuron_metrics", "neuron_plots"]

neuron_metrics: dict[str, Metric] = {}
neuron_plots: dict[str, Callable[[Outcome, Any, Path, str], list[Path]]] = {}
