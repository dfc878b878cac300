"""Plan, run (with an on-disk cache), and judge specs.

For each spec the runner builds the experiment config for the profile, runs it — or reads the
Outcome cached under a hash of the experiment table, profile, device and code version — judges
every check, and does the same for the `[control]`, which must FAIL for the claim to pass. Each
side is cached as soon as it finishes, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import attrs
import torch

import superposition_lab
from superposition_lab.train import TrainingDiverged, resolve_device
from verify import cache
from verify.checks import CheckResult, judge_check
from verify.kind import ExperimentKind, Outcome, RunContext, at_point
from verify.properties import run_property
from verify.registry import ANALYTIC
from verify.spec import Spec
from verify.validation import experiment_config, experiment_kind, experiment_table

__all__ = ["Judgement", "SpecResult", "Reporter", "run", "code_version", "spec_hash", "cache_key"]

_PACKAGES = ("superposition_lab", "analytic", "verify/experiments")


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
    verdict: str  # pass | fail | error
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
            "tags": s.tags,
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


class Reporter(Protocol):
    def start(self, spec: Spec, side: str) -> None: ...
    def progress(self, advance: int, total: int) -> None: ...
    def done(self, result: SpecResult) -> None: ...


def versions() -> dict[str, str]:
    return {"package": superposition_lab.__version__, "torch": torch.__version__, "python": platform.python_version()}


_CODE_VERSION: str | None = None


def code_version() -> str:
    """Package version + a hash of the code that produces Outcomes (not of checks or reports)."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        root = Path(superposition_lab.__file__).resolve().parent.parent
        h = hashlib.sha256(superposition_lab.__version__.encode())
        for pkg in _PACKAGES:
            for f in sorted((root / pkg).rglob("*.py")):
                h.update(f.relative_to(root).as_posix().encode())
                h.update(f.read_bytes())
        _CODE_VERSION = h.hexdigest()[:16]
    return _CODE_VERSION


def spec_hash(spec: Spec) -> str:
    payload = {k: v for k, v in attrs.asdict(spec).items() if k != "path"}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_key(spec: Spec, profile: str, control: bool, device: str) -> str:
    payload: dict[str, Any] = {
        "experiment": experiment_table(spec, profile, control),
        "profile": profile,
        "device": device,
        "code": code_version(),
    }
    if spec.property is not None:  # a property run is steered by its checks, so they are part of it
        payload["property"] = attrs.asdict(spec.property)
        payload["check"] = [attrs.asdict(c) for c in spec.check]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


# ---------------------------------------------------------------- judging


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, (TrainingDiverged, ValueError, RuntimeError)):
        return f"{type(exc).__name__}: {exc}"
    tb = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})"


def _judge_outcome(spec: Spec, outcome: Outcome, config: Any, kind: ExperimentKind) -> list[CheckResult]:
    return [judge_check(c, outcome, config, kind.metrics, ANALYTIC) for c in spec.check]


def _run_side(
    spec: Spec,
    profile: str,
    control: bool,
    device: str,
    cache_dir: Path | None,
    reporter: Reporter | None,
    read_cache: bool = True,
) -> tuple[Judgement, Outcome | None, Any]:
    start = time.perf_counter()
    config = experiment_config(spec, profile, control)
    kind = experiment_kind(spec)
    key = cache_key(spec, profile, control, device)
    path = cache.entry_path(cache_dir, spec.id, control, key) if cache_dir else None
    ctx = RunContext(device=device, progress=reporter.progress if reporter else None)
    if reporter:
        reporter.start(spec, "control" if control else "claim")

    # the entry's lock is held while it is read or computed: a second run waits, then reads it
    with cache.entry_lock(path) if path else contextlib.nullcontext():
        return _compute_side(spec, profile, config, kind, key, path, ctx, reporter, read_cache, start)


def _check_errors_text(results: list[CheckResult]) -> str | None:
    """A side with a check that could not be judged is an error, whatever its other checks say."""
    errors = [f"check[{i}] {r.metric}: {r.error}" for i, r in enumerate(results) if r.error]
    return "; ".join(errors) or None


def _compute_side(
    spec: Spec,
    profile: str,
    config: Any,
    kind: ExperimentKind,
    key: str,
    path: Path | None,
    ctx: RunContext,
    reporter: Reporter | None,
    read_cache: bool,
    start: float,
) -> tuple[Judgement, Outcome | None, Any]:
    device = ctx.device
    if spec.property is not None:
        jpath = path.with_name(path.name + ".judgement.json") if path else None
        j = cache.load_json(jpath, _judgement_from_json) if jpath and read_cache else None
        if j is not None:
            j.cached = True
            return j, None, config
        total = spec.property.examples_for(profile)
        digests: dict[str, str] = {}

        def evaluate(point: dict[str, Any]) -> tuple[bool, list[CheckResult]]:
            cfg = at_point(config, point)
            outcome = kind.run(cfg, RunContext(device=device))
            digests[json.dumps(point, sort_keys=True)] = outcome.digest()
            results = _judge_outcome(spec, outcome, cfg, kind)
            return all(r.passed for r in results), results

        tick = (lambda: reporter.progress(1, total)) if reporter else None
        prun = run_property(spec.property, total, evaluate, progress=tick)
        j = Judgement(
            passed=prun.passed,
            checks=prun.results,
            error=_check_errors_text(prun.results),
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
        if jpath:
            cache.save_json(jpath, _judgement_json(j))
        return j, None, config

    outcome = cache.load_outcome(path) if path and read_cache else None
    cached = outcome is not None
    if outcome is None:
        outcome = kind.run(config, ctx)
        if path:
            cache.save_outcome(path, outcome)
    results = _judge_outcome(spec, outcome, config, kind)
    j = Judgement(
        passed=all(r.passed for r in results),
        checks=results,
        error=_check_errors_text(results),
        seconds=time.perf_counter() - start,
        cached=cached,
        cache_key=key,
        digest=outcome.digest(),
    )
    return j, outcome, config


def _judgement_json(j: Judgement) -> dict[str, Any]:
    return attrs.asdict(j)


def _judgement_from_json(d: dict[str, Any]) -> Judgement:
    d = dict(d)
    d["checks"] = [CheckResult(**c) for c in d["checks"]]
    return Judgement(**d)


def judge_spec(
    spec: Spec,
    profile: str = "quick",
    device: str = "auto",
    cache_dir: Path | None = None,
    reporter: Reporter | None = None,
    read_cache: bool = True,
) -> SpecResult:
    """Run one spec and its control; verdict pass = every check holds AND the control fails."""
    dev = str(resolve_device(device).type)
    start = time.perf_counter()
    outcome = config = None
    try:
        main, outcome, config = _run_side(spec, profile, False, dev, cache_dir, reporter, read_cache)
    except Exception as exc:  # noqa: BLE001 — one broken spec must not stop the suite
        main = Judgement(passed=False, error=_error_text(exc))
    control = None
    if spec.control is not None and main.error is None:
        try:
            control, _, _ = _run_side(spec, profile, True, dev, cache_dir, reporter, read_cache)
        except Exception as exc:  # noqa: BLE001
            control = Judgement(passed=False, error=_error_text(exc))
    if main.error or (control is not None and control.error):
        verdict = "error"
    elif main.passed and (control is None or not control.passed):
        verdict = "pass"
    else:
        verdict = "fail"
    result = SpecResult(
        spec=spec,
        verdict=verdict,
        profile=profile,
        device=dev,
        seconds=time.perf_counter() - start,
        main=main,
        control=control,
        outcome=outcome,
        config=config,
    )
    if reporter:
        reporter.done(result)
    return result


def run(
    specs: list[Spec],
    profile: str = "quick",
    device: str = "auto",
    out: str | Path = "out",
    use_cache: bool = True,
    reporter: Reporter | None = None,
    on_result: Callable[[list[SpecResult]], object] | None = None,
) -> list[SpecResult]:
    """Judge every spec. Outcomes are cached under OUT/cache; use_cache=False recomputes (and re-caches).
    `on_result(results_so_far)` is called after each spec (the CLI writes a partial results.json)."""
    cache_dir = Path(out) / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    results: list[SpecResult] = []
    for s in specs:
        results.append(judge_spec(s, profile, device, cache_dir, reporter, read_cache=use_cache))
        if on_result is not None:
            on_result(list(results))
    return results
