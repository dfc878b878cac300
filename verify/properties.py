"""Hypothesis-driven verification: a claim checked at points drawn from a parameter domain.

A spec's [property] table names experiment fields and their [low, high] ranges. Hypothesis draws
points (integers where both bounds are integers, floats otherwise), each point is run and judged
by the spec's checks, and a failing point is shrunk to a simpler one and reported. Draws are
derandomised by the property's seed, so a verdict is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from verify.spec import PropertyDomain

__all__ = ["PropertyRun", "run_property", "strategy_for"]


@attrs.define
class PropertyRun:
    passed: bool
    examples: int
    counterexample: dict[str, Any] | None
    results: Any  # the judged checks at the counterexample, or at the last example when all pass


def strategy_for(bounds: list[float]) -> st.SearchStrategy:
    low, high = bounds
    if isinstance(low, int) and isinstance(high, int):
        return st.integers(low, high)
    return st.floats(float(low), float(high), allow_nan=False, allow_infinity=False)


def run_property(prop: PropertyDomain, examples: int, evaluate: Callable[[dict[str, Any]], tuple[bool, Any]],
                 progress: Callable[[], None] | None = None) -> PropertyRun:
    """Draw up to `examples` points; `evaluate(point)` returns (passed, judged checks)."""
    seen: list[tuple[dict[str, Any], bool, Any]] = []
    strategies = st.fixed_dictionaries({k: strategy_for(b) for k, b in prop.domain.items()})

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False)
    @given(strategies)
    def check(point: dict[str, Any]) -> None:
        passed, results = evaluate(point)
        seen.append((point, passed, results))
        if progress is not None:
            progress()
        assert passed, point

    try:
        # a fixed seed makes the draws reproducible without hypothesis' example database
        hypothesis_seed(prop.seed)(check)()
    except AssertionError:
        failing = [s for s in seen if not s[1]]
        point, _, results = failing[-1]  # hypothesis replays the shrunk example last
        return PropertyRun(False, len(seen), point, results)
    point, _, results = seen[-1]
    return PropertyRun(True, len(seen), None, results)
