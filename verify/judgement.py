"""What the runner produces: a Judgement per spec side, a SpecResult per spec, and how they are judged.

A side (the claim, or its `[control]`) is judged by every check of the spec against its Outcome. A
supported spec passes when every check of the claim holds AND its control fails; a refuted spec
(`status = "refuted"`) is `refuted` when its claim fails a check AND its control passes them all
(`verdict`). Either way, anything else is `fail`, and an error on either side is `error`. These types are
re-exported by `verify.runner`, where the rest of the project imports them from.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable
from typing import Any

import attrs
import torch

import superposition_lab
from verify.checks import CheckResult, judge_check
from verify.jobs import JobFailed, JobResult
from verify.kind import ExperimentKind, Outcome, at_point
from verify.properties import run_property
from verify.registry import ANALYTIC
from verify.spec import PropertyDomain, Spec

__all__ = [
    "Judgement",
    "SpecResult",
    "versions",
    "spec_hash",
    "judge_outcome",
    "judge_side",
    "judge_property",
    "drawn_points",
    "point_key",
    "check_errors_text",
    "verdict",
    "expected_verdict",
    "SUCCESS_VERDICTS",
    "judgement_json",
    "judgement_from_json",
]


@attrs.define
class Judgement:
    passed: bool
    checks: list[CheckResult] = attrs.field(factory=list)
    error: str | None = None
    property: dict[str, Any] | None = None  # examples, counterexample
    seconds: float = 0.0
    cached: bool = False
    cache_key: str = ""  # the key this side's Outcome (or property judgement) is cached under
    digest: str = ""  # sha256 of the Outcome's arrays (Outcome.digest); of every point's, for a property


@attrs.define
class SpecResult:
    spec: Spec
    verdict: str  # pass | refuted | fail | error
    profile: str
    device: str
    seconds: float
    main: Judgement
    control: Judgement | None
    outcome: Outcome | None = None  # kept for plots; not serialised
    config: Any = None

    def to_json(self) -> dict[str, Any]:
        def side(j: Judgement | None) -> dict[str, Any] | None:
            if j is None:
                return None
            return {
                "verdict": "error" if j.error else ("pass" if j.passed else "fail"),
                "error": j.error,
                "checks": [_check_json(c) for c in j.checks],
                "property": j.property,
                "seconds": round(j.seconds, 3),
                "cached": j.cached,
            }

        s = self.spec
        return {
            "id": s.id,
            "title": s.title,
            "claim": s.claim,
            "null": s.null,
            "tags": s.tags,
            "status": s.status,
            "expected_verdict": expected_verdict(s),
            "source": attrs.asdict(s.source),
            "file": s.path,
            "verdict": self.verdict,
            "profile": self.profile,
            "device": self.device,
            "seconds": round(self.seconds, 3),
            "checks": [_check_json(c) for c in self.main.checks],
            "error": self.main.error,
            "property": self.main.property,
            "cached": self.main.cached,
            "control": side(self.control),
            "versions": versions(),
            "spec_hash": spec_hash(s),
        }


def _check_json(c: CheckResult) -> dict[str, Any]:
    d = attrs.asdict(c)
    d.pop("measured_summary"), d.pop("expected_summary")
    return d


def versions() -> dict[str, str]:
    return {"package": superposition_lab.__version__, "torch": torch.__version__, "python": platform.python_version()}


def spec_hash(spec: Spec) -> str:
    payload = {k: v for k, v in attrs.asdict(spec).items() if k != "path"}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def judge_outcome(spec: Spec, outcome: Outcome, config: Any, kind: ExperimentKind) -> list[CheckResult]:
    """Every check of the spec on one Outcome."""
    return [judge_check(c, outcome, config, kind.metrics, ANALYTIC) for c in spec.check]


def judge_side(spec: Spec, outcome: Outcome, config: Any, kind: ExperimentKind, key: str, start: float) -> Judgement:
    """A side judged on its Outcome (`start`: when the side was planned, for its seconds)."""
    results = judge_outcome(spec, outcome, config, kind)
    return Judgement(
        passed=all(r.passed for r in results),
        checks=results,
        error=check_errors_text(results),
        seconds=time.perf_counter() - start,
        cache_key=key,
        digest=outcome.digest(),
    )


def point_key(point: dict[str, Any]) -> str:
    """A property point as a string key (the same point, the same key)."""
    return json.dumps(point, sort_keys=True)


def drawn_points(prop: PropertyDomain, profile: str) -> list[dict[str, Any]]:
    """The points hypothesis draws for `prop` when every one passes (pinned points first): a dry run
    of `run_property` that trains nothing. A failing point makes hypothesis shrink; the points it then
    asks for are computed when asked (`judge_property`)."""
    return run_property(prop, prop.examples_for(profile), lambda point: (True, [])).points


def judge_property(
    spec: Spec,
    profile: str,
    config: Any,
    kind: ExperimentKind,
    key: str,
    start: float,
    outcome_at: Callable[[dict[str, Any]], JobResult],
    tick: Callable[[], None] | None = None,
) -> Judgement:
    """A [property] side: hypothesis draws points (and shrinks a failing one); `outcome_at(point)` is
    the job's result there (computed ahead, or run when asked). Every point's digest enters the side's."""
    assert spec.property is not None
    digests: dict[str, str] = {}

    def evaluate(point: dict[str, Any]) -> tuple[bool, list[CheckResult]]:
        result = outcome_at(point)
        if result.outcome is None:
            raise JobFailed(result.error)
        cfg = at_point(config, point)
        digests[point_key(point)] = result.outcome.digest()
        results = judge_outcome(spec, result.outcome, cfg, kind)
        return all(r.passed for r in results), results

    prun = run_property(spec.property, spec.property.examples_for(profile), evaluate, progress=tick)
    return Judgement(
        passed=prun.passed,
        checks=prun.results,
        error=check_errors_text(prun.results),
        property={
            "examples": prun.examples,
            "counterexample": prun.counterexample,
            "seed": prun.seed,
            "calls": prun.calls,
            "points": prun.points,
        },
        seconds=time.perf_counter() - start,
        cache_key=key,
        digest=hashlib.sha256(json.dumps(sorted(digests.items())).encode()).hexdigest(),
    )


def check_errors_text(results: list[CheckResult]) -> str | None:
    """A side with a check that could not be judged is an error, whatever its other checks say."""
    errors = [f"check[{i}] {r.metric}: {r.error}" for i, r in enumerate(results) if r.error]
    return "; ".join(errors) or None


def verdict(main: Judgement, control: Judgement | None, status: str = "supported") -> str:
    """An error on either side is `error`. Supported: `pass` when every check of the claim holds AND the
    control fails. Refuted: `refuted` when the claim fails a check AND the control passes every one (a
    refuted spec always has a control). Anything else is `fail`: the spec's expectation did not hold."""
    if main.error or (control is not None and control.error):
        return "error"
    if status == "refuted":
        return "refuted" if not main.passed and control is not None and control.passed else "fail"
    if main.passed and (control is None or not control.passed):
        return "pass"
    return "fail"


def expected_verdict(spec: Spec) -> str:
    """The verdict that means the spec's expectation held: `pass`, or `refuted` for a refuted claim."""
    return "refuted" if spec.status == "refuted" else "pass"


SUCCESS_VERDICTS = ("pass", "refuted")  # a run succeeds when every verdict is one of these


def judgement_json(j: Judgement) -> dict[str, Any]:
    return attrs.asdict(j)


def judgement_from_json(d: dict[str, Any]) -> Judgement:
    d = dict(d)
    d["checks"] = [CheckResult(**c) for c in d["checks"]]
    return Judgement(**d)
