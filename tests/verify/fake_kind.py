"""A stand-in for the toy kind that trains nothing: instant Outcomes with chosen metric values.

`install_fake_toy(monkeypatch, n_represented=…)` swaps the registered `toy` kind for one whose `run`
returns at once (counting its calls) and whose two metrics — the names TINY_SPEC checks — read
what the test chose: the linear claim keeps the top-m features, the ReLU control all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from analytic import linear
from verify.kind import Metric, Outcome, grid_points
from verify.registry import EXPERIMENTS


def install_fake_toy(monkeypatch, n_represented: Callable[[Any], float] | None = None) -> list[Any]:
    """Patch EXPERIMENTS['toy']; returns the list that records each run's config."""
    kind = EXPERIMENTS.get("toy")
    calls: list[Any] = []

    def run(config: Any, ctx: Any) -> Outcome:
        calls.append(config)
        points = grid_points(config, kind.axes)
        top = linear.top_m(config.importance.vector(config.n_features), config.n_hidden)
        mask = top if config.model == "linear" else np.ones_like(top)
        shape = (len(points), config.seeds)
        n = n_represented(config) if n_represented else float(mask.sum())
        return Outcome(
            points=points,
            arrays={"mask": np.broadcast_to(mask, (*shape, mask.size)).copy(), "n": np.full(shape, n)},
            info={"fake": True},
        )

    metrics = {
        "represented_features": Metric(lambda o, c: o.arrays["mask"], "mask of represented features"),
        "n_represented": Metric(lambda o, c: o.arrays["n"], "number of represented features"),
    }
    monkeypatch.setitem(EXPERIMENTS._items, "toy", attrs.evolve(kind, run=run, metrics=metrics, plot=None))
    return calls
