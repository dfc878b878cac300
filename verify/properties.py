"""Hypothesis-driven verification: a claim checked at points drawn from a parameter domain.

A spec's [property] table names experiment fields and their [low, high] ranges. Hypothesis draws
points (integers where both bounds are integers, floats otherwise), each point is run and judged
by the spec's checks, and a failing point is shrunk to a simpler one and reported. Pinned `points`
run first (hypothesis' explicit phase). Draws are derandomised by the property's seed, so a verdict
is reproducible.

Only the explicit, generate and shrink phases run (the explain phase would re-run training), and
evaluations are memoised by point: shrinking never trains a point twice, and a training run that is
not bit-identical when repeated cannot turn into hypothesis' FlakyFailure. `examples` counts the
distinct points evaluated, not calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from verify.spec import PropertyDomain

__all__ = ["PropertyRun", "run_property", "strategy_for", "PHASES"]

PHASES = (Phase.explicit, Phase.generate, Phase.shrink)


@attrs.define
class PropertyRun:
    passed: bool
    examples: int  # distinct points evaluated
    counterexample: dict[str, Any] | None  # the shrunk failing point
    results: Any  # the judged checks at the counterexample, or at the last example when all pass
    calls: int = 0  # evaluations hypothesis asked for (memoised repeats included)
    seed: int = 0
    points: list[dict[str, Any]] = attrs.field(factory=list)  # every distinct point, in order


def strategy_for(bounds: list[float]) -> st.SearchStrategy:
    low, high = bounds
    if isinstance(low, int) and isinstance(high, int):
        return st.integers(low, high)
    return st.floats(float(low), float(high), allow_nan=False, allow_infinity=False)


def _key(point: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(point.items()))


def run_property(
    prop: PropertyDomain,
    examples: int,
    evaluate: Callable[[dict[str, Any]], tuple[bool, Any]],
    progress: Callable[[], None] | None = None,
) -> PropertyRun:
    """Draw up to `examples` points (after the spec's pinned `points`); `evaluate(point)` returns
    (passed, judged checks) and is called at most once per distinct point."""
    memo: dict[tuple[tuple[str, Any], ...], tuple[dict[str, Any], bool, Any] | BaseException] = {}
    calls: list[tuple[dict[str, Any], bool, Any]] = []
    strategies = st.fixed_dictionaries({k: strategy_for(b) for k, b in prop.domain.items()})

    def memoised(point: dict[str, Any]) -> tuple[dict[str, Any], bool, Any]:
        key = _key(point)
        if key not in memo:
            point = {k: point[k] for k in sorted(point, key=list(prop.domain).index)}  # the domain's order
            try:
                passed, results = evaluate(dict(point))
                memo[key] = (point, passed, results)
            except Exception as exc:  # noqa: BLE001 — remembered, so a replay raises the same error
                memo[key] = exc
            if progress is not None:
                progress()
        hit = memo[key]
        if isinstance(hit, BaseException):
            raise hit
        return hit

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
        phases=PHASES,
    )
    @given(strategies)
    def check(point: dict[str, Any]) -> None:
        entry = memoised(point)
        calls.append(entry)
        assert entry[1], point

    for pinned in reversed(getattr(prop, "points", None) or []):  # decorators apply inside out
        check = example(dict(pinned))(check)

    def finish(passed: bool, entry: tuple[dict[str, Any], bool, Any]) -> PropertyRun:
        distinct = [m[0] for m in memo.values() if not isinstance(m, BaseException)]
        return PropertyRun(
            passed, len(memo), None if passed else entry[0], entry[2], calls=len(calls), seed=prop.seed, points=distinct
        )

    try:
        # a fixed seed makes the draws reproducible without hypothesis' example database
        hypothesis_seed(prop.seed)(check)()
    except AssertionError:
        failing = [c for c in calls if not c[1]]
        if not failing:  # an AssertionError raised by evaluate itself
            raise
        return finish(False, failing[-1])  # hypothesis replays the shrunk example last
    return finish(True, calls[-1])
