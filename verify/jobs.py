"""What the runner hands to an executor: one job runs one experiment config and returns its Outcome.

A `Job` names a spec side (claim or control) and, for a hypothesis [property], one of its points,
or, for a kind that splits into independent parts (`ExperimentKind.parts`), one of its parts.
`run_job(job)` is a top-level, picklable function, so a worker process (`concurrent.futures`, Ray)
can run it with nothing but the job: it refuses to run when its code hash (`code_version`) differs
from the parent's, resolves the device itself, sets torch's intra-op threads from its CPU share
(recorded in the Outcome's info) and returns the Outcome — or the error's one-line text — through
the executor. A worker never writes the cache: the parent does, then judges and reports.

`InlineExecutor` runs each job in the calling process as it is submitted (`--executor local`).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch

import superposition_lab
from superposition_lab.train import TrainingDiverged, resolve_device
from verify.kind import Outcome, RunContext, at_point
from verify.spec import Spec
from verify.validation import experiment_config, experiment_kind, experiment_table

__all__ = ["Job", "JobResult", "JobFailed", "InlineExecutor", "run_job", "code_version", "cache_key", "error_text"]

# what decides Outcomes: the packages, and verify/kind.py (Optimiser.train_config, part_seed)
_PACKAGES = ("superposition_lab", "analytic", "verify/experiments", "verify/kind.py")
_CODE_VERSION: str | None = None


def code_version() -> str:
    """Package version + a hash of the code that produces Outcomes (not of checks or reports): the
    lab, the closed forms, the experiment kinds and `verify/kind.py` (how optimiser fields and part
    seeds are made)."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        root = Path(superposition_lab.__file__).resolve().parent.parent
        h = hashlib.sha256(superposition_lab.__version__.encode())
        for pkg in _PACKAGES:
            path = root / pkg
            for f in [path] if path.is_file() else sorted(path.rglob("*.py")):
                h.update(f.relative_to(root).as_posix().encode())
                h.update(f.read_bytes())
        _CODE_VERSION = h.hexdigest()[:16]
    return _CODE_VERSION


def cache_key(spec: Spec, profile: str, control: bool, device: str) -> str:
    """What a side's cache entry is keyed by: its experiment table, profile, device type and code."""
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


def error_text(exc: BaseException) -> str:
    """One line for a side that could not run: the exception, and where it came from when unexpected."""
    if isinstance(exc, JobFailed):
        return str(exc)
    if isinstance(exc, (TrainingDiverged, ValueError, RuntimeError)):
        return f"{type(exc).__name__}: {exc}"
    tb = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})"


class JobFailed(Exception):
    """A job's error, carried back as its `error_text` (the worker's traceback does not travel)."""


@attrs.frozen
class Job:
    """One unit of work: a spec side, or one point of a property side, on a device type."""

    spec: Spec
    profile: str
    control: bool
    device: str  # "cpu" | "cuda": the device type the cache key was made for; the worker resolves it
    code: str  # the parent's code_version(); a worker with other code refuses the job
    point: dict[str, Any] | None = None  # a [property] point; None: the whole side
    threads: int | None = None  # torch intra-op threads on the worker; None: leave torch's setting
    part: int | None = None  # one part of a side whose kind splits (`ExperimentKind.parts`); None: all

    @property
    def side(self) -> str:
        return "control" if self.control else "claim"


@attrs.frozen
class JobResult:
    """What comes back: the Outcome, or the error's text (never both)."""

    outcome: Outcome | None
    error: str | None = None


def run_job(job: Job, progress: Callable[[int, int], None] | None = None) -> JobResult:
    """Run one job where this function is called (the parent, a process pool worker, a Ray worker).

    `progress(advance, total)` reports training steps; only an in-process caller passes one.
    """
    try:
        mine = code_version()
        if mine != job.code:
            raise JobFailed(
                f"worker refused the job: its code hash {mine} differs from the parent's {job.code} "
                "(install the same checkout on every worker)"
            )
        device = resolve_device(job.device)
        if device.type != job.device:  # pragma: no cover - resolve_device returns the type asked for
            raise JobFailed(f"worker resolved device {device} for a job planned on {job.device}")
        config = experiment_config(job.spec, job.profile, job.control)
        if job.point is not None:
            config = at_point(config, job.point)
        kind = experiment_kind(job.spec)
        before = torch.get_num_threads()
        if job.threads:
            torch.set_num_threads(job.threads)
        ctx = RunContext(device=job.device, progress=progress)
        try:
            if job.part is not None:
                if kind.parts is None:  # pragma: no cover - the planner asks only kinds that split
                    raise JobFailed(f"kind {kind.name!r} does not split into parts")
                outcome = kind.parts.run(config, job.part, ctx)
            else:
                outcome = kind.run(config, ctx)
        finally:
            if job.threads:
                torch.set_num_threads(before)
        if job.threads:
            outcome.info["torch_threads"] = job.threads
        return JobResult(outcome)
    except Exception as exc:  # noqa: BLE001 — one broken spec must not stop the suite
        return JobResult(None, error_text(exc))


class InlineExecutor(concurrent.futures.Executor):
    """Runs each submitted call at once in this process and returns its completed Future."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 — delivered through the Future, as a pool would
            future.set_exception(exc)
        return future
