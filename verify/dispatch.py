"""The runner's seam: plan every spec side → skip what is cached → submit the rest to an executor →
collect the jobs as they complete → the parent writes the cache, judges and reports.

The executor is any `concurrent.futures.Executor`. `InlineExecutor` (the default) runs each job in
this process as it is submitted, at most one in flight, so the run is the sequential one: per side a
progress bar of training steps, a control that is not run when its claim errored. With another
executor (a process pool, Ray: `verify.executors`) every side is planned first, a hypothesis
[property] side is split into the points hypothesis will draw, a side whose kind splits
(`ExperimentKind.parts`) into its parts (merged here, in order, when all are back), and one progress
bar counts finished jobs over every spec. A side's cache entry is locked from planning until its result is written; the
loop waits for a lock only while it has no job in flight (it holds no lock then), so two runs that
share one out/ folder never wait on each other in a cycle.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from superposition_lab.train import resolve_device
from verify import cache
from verify.jobs import InlineExecutor, Job, JobResult, code_version, error_text, run_job
from verify.judgement import (
    Judgement,
    SpecResult,
    judge_property,
    judge_side,
    judgement_from_json,
    judgement_json,
    point_key,
    verdict,
)
from verify.kind import Outcome
from verify.plan import Side, job_key, plan_side
from verify.spec import Spec

__all__ = ["Reporter", "Dispatch"]


_Judged = tuple[Judgement, Outcome | None, Any]  # a side's Judgement, its Outcome and config (None on error)


class Reporter(Protocol):
    """What the runner tells its caller: a side starts (spec None: one bar over every job), progress, a verdict."""

    def start(self, spec: Spec | None, side: str) -> None: ...
    def progress(self, advance: int, total: int) -> None: ...
    def done(self, result: SpecResult) -> None: ...


class Dispatch:
    """The plan → skip cached → submit → collect-as-completed loop over every side of every spec."""

    def __init__(
        self,
        specs: list[Spec],
        profile: str,
        device: str,
        cache_dir: Path | None,
        reporter: Reporter | None,
        read_cache: bool,
        on_result: Callable[[list[SpecResult]], object] | None,
        executor: cf.Executor | None,
        max_in_flight: int | None,
        threads: int | None,
    ) -> None:
        self.specs, self.profile, self.cache_dir = specs, profile, cache_dir
        self.reporter, self.read_cache, self.on_result, self.threads = reporter, read_cache, on_result, threads
        self.inline = executor is None or isinstance(executor, InlineExecutor)
        self.executor = executor or InlineExecutor()
        # a remote worker resolves the device itself: cpu/cuda are taken as asked, auto as seen here
        self.device = device if not self.inline and device in ("cpu", "cuda") else resolve_device(device).type
        self.limit = 1 if self.inline else max(1, max_in_flight or 1 << 30)
        self.code = code_version()
        self.queue = deque(
            Side(i, s, c) for i, s in enumerate(specs) for c in (False, True) if not c or s.control is not None
        )
        self.in_flight: dict[cf.Future[JobResult], tuple[Side, dict[str, Any] | int | None]] = {}
        self.judged: dict[tuple[int, bool], _Judged] = {}
        self.results: list[SpecResult | None] = [None] * len(specs)
        self.total = 0
        self.starts: dict[int, float] = {}  # when each spec's first side was planned
        self.skipped: set[int] = set()  # specs whose control is not run (their claim errored)
        self.locked: set[Side] = set()  # sides holding their entry's lock

    # ------------------------------------------------------------ the loop
    def run(self) -> list[SpecResult]:
        if not self.inline:  # one bar over every job; property sides split into their points, others into parts
            for side in self.queue:
                self._plan(side)
            self.total = sum(s.units for s in self.queue)
            if self.reporter:
                self.reporter.start(None, f"{self.total} jobs")
            self._advance(sum(s.units for s in self.queue if s.kind is None))  # could not be planned
        try:
            while self.queue or self.in_flight:
                self._fill()
                if self.in_flight:
                    done, _ = cf.wait(self.in_flight, return_when=cf.FIRST_COMPLETED)
                    for future in [f for f in self.in_flight if f in done]:  # in submission order
                        self._collect(future)
        finally:  # an interrupt: give back every lock; a pool's queued jobs are cancelled
            for future in self.in_flight:
                future.cancel()
            for side in list(self.locked):
                self._unlock(side)
        return [r for r in self.results if r is not None]

    def _fill(self) -> None:
        deferred: list[Side] = []
        while len(self.in_flight) < self.limit and self.queue:
            side = self.queue[0]
            if side.lock is not None and side.todo:  # locked and planned: submit its next job
                self._submit(side, side.todo.pop(0))
                if not side.todo:
                    self.queue.popleft()
                continue
            self.queue.popleft()
            if not self.inline and side.kind is None:  # could not be planned: judged (and counted) already
                continue
            claim = self.judged.get((side.index, False))
            if side.control and claim is not None and claim[0].error is not None:
                self.skipped.add(side.index)  # the claim could not be judged: its control is not run
                self._advance(side.units)
                self._spec_done(side.index)
                continue
            if self.inline:
                self._plan(side)
            if side.kind is None:  # planning failed: judged as an error already
                continue
            if self.inline and self.reporter:
                self.reporter.start(side.spec, side.label)
            if not self._lock(side):
                deferred.append(side)
                continue
            if not self.inline:
                side.start = time.perf_counter()
                self.starts.setdefault(side.index, side.start)
            if self._from_cache(side):
                continue
            if side.todo:
                self.queue.appendleft(side)
            else:  # a property side without pre-drawn points: its points run as hypothesis draws them
                self._finish(side)
        self.queue.extendleft(reversed(deferred))

    def _plan(self, side: Side) -> None:
        side.start = time.perf_counter()
        if self.inline:  # planned all at once otherwise: timed from when the side is taken up
            self.starts.setdefault(side.index, side.start)
        try:
            plan_side(side, self.profile, self.device, self.cache_dir, ahead=not self.inline)
        except Exception as exc:  # noqa: BLE001 — one broken spec must not stop the suite
            self._judged(side, Judgement(passed=False, error=error_text(exc)), None, None)

    def _lock(self, side: Side) -> bool:
        """Take the entry's lock: waiting only while no job is in flight (no lock of ours is held)."""
        stack = contextlib.ExitStack()
        if side.path is not None:
            try:
                stack.enter_context(cache.entry_lock(side.path, blocking=not self.in_flight))
            except cache.LockBusy:
                return False
        side.lock = stack
        self.locked.add(side)
        return True

    def _unlock(self, side: Side) -> None:
        if side.lock is not None:
            side.lock.close()
            side.lock = None
        self.locked.discard(side)

    def _from_cache(self, side: Side) -> bool:
        """Judge the side from its cache entry, if there is one (then nothing is submitted)."""
        if not (side.path and self.read_cache):
            return False
        assert side.kind is not None
        try:
            if side.spec.property is not None:
                j = cache.load_json(_with(side.path, ".judgement.json"), judgement_from_json)
                if j is None:
                    return False
                judged: _Judged = (j, None, side.config)
            else:
                outcome = cache.load_outcome(side.path)
                if outcome is None:
                    return False
                j = judge_side(side.spec, outcome, side.config, side.kind, side.key, side.start)
                judged = (j, outcome, side.config)
            j.cached = True
        except Exception as exc:  # noqa: BLE001 — one broken spec must not stop the suite
            judged = (Judgement(passed=False, error=error_text(exc)), None, None)
        self._release(side, *judged)
        return True

    def _submit(self, side: Side, task: dict[str, Any] | int | None) -> None:
        point, part = (None, task) if isinstance(task, int) else (task, None)
        job = Job(side.spec, self.profile, side.control, self.device, self.code, point, self.threads, part=part)
        progress = self.reporter.progress if self.inline and self.reporter and task is None else None
        side.pending += 1
        self.in_flight[self.executor.submit(run_job, job, progress)] = (side, task)

    def _collect(self, future: cf.Future[JobResult]) -> None:
        side, task = self.in_flight.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 — a worker that died, a job the executor lost
            result = JobResult(None, error_text(exc))
        if result.outcome is not None:  # arrays from an object store may be read-only views
            result.outcome.arrays = {k: a if a.flags.writeable else a.copy() for k, a in result.outcome.arrays.items()}
        side.results[job_key(task)] = result
        side.pending -= 1
        if not self.inline:
            self._advance(1)
        if side.pending == 0 and not side.todo:
            self._finish(side)

    # ------------------------------------------------------------ judging (the parent only)
    def _finish(self, side: Side) -> None:
        """Every job of the side is back: write the cache, judge, release the lock."""
        try:
            judged = self._judge(side)
        except Exception as exc:  # noqa: BLE001 — one broken spec must not stop the suite
            judged = (Judgement(passed=False, error=error_text(exc)), None, None)
        self._release(side, *judged)

    def _judge(self, side: Side) -> _Judged:
        assert side.kind is not None
        if side.spec.property is not None:
            return self._run_property(side), None, side.config
        result = self._merged(side) if "" not in side.results else side.results[""]
        if result.outcome is None:
            return Judgement(passed=False, error=result.error), None, None
        if side.path:
            cache.save_outcome(side.path, result.outcome)
        j = judge_side(side.spec, result.outcome, side.config, side.kind, side.key, side.start)
        return j, result.outcome, side.config

    @staticmethod
    def _merged(side: Side) -> JobResult:
        """A side run in parts: its Outcome merged from the parts in order (the first error instead, if any)."""
        assert side.kind is not None and side.kind.parts is not None
        results = [side.results[job_key(i)] for i in range(len(side.results))]
        failed = next((r for r in results if r.outcome is None), None)
        if failed is not None:  # its text as is: the same error the single-process run reports
            return failed
        return JobResult(side.kind.parts.merge(side.config, [r.outcome for r in results if r.outcome is not None]))

    def _run_property(self, side: Side) -> Judgement:
        """Hypothesis runs here, in the parent; a point it draws that was not computed ahead runs now."""
        assert side.kind is not None

        def outcome_at(point: dict[str, Any]) -> JobResult:
            result = side.results.get(point_key(point))
            if result is None:  # run inline, or drawn beyond the pre-drawn points (shrinking)
                job = Job(side.spec, self.profile, side.control, self.device, self.code, point, self.threads)
                result = self.executor.submit(run_job, job).result()
                self.total += 0 if self.inline else 1
                self._advance(1)
            return result

        total = side.spec.property.examples_for(self.profile) if side.spec.property else 0
        report = self.reporter.progress if self.reporter and self.inline else None
        tick = (lambda: report(1, total)) if report else None
        j = judge_property(side.spec, self.profile, side.config, side.kind, side.key, side.start, outcome_at, tick)
        if side.path:
            cache.save_json(_with(side.path, ".judgement.json"), judgement_json(j))
        return j

    def _release(self, side: Side, j: Judgement, outcome: Outcome | None, config: Any) -> None:
        self._unlock(side)
        if not self.inline and not side.results:  # judged from the cache or before any job ran
            self._advance(side.units)
        self._judged(side, j, outcome, config)

    def _judged(self, side: Side, j: Judgement, outcome: Outcome | None, config: Any) -> None:
        side.todo, side.results = [], {}
        self.judged[(side.index, side.control)] = (j, outcome, config)
        self._spec_done(side.index)

    def _spec_done(self, index: int) -> None:
        """When both sides of a spec are judged (or its control skipped): the verdict, reported."""
        spec, claim, control = self.specs[index], self.judged.get((index, False)), self.judged.get((index, True))
        if claim is None or self.results[index] is not None:
            return
        if spec.control is not None and control is None and index not in self.skipped:
            return  # the control is still to run (or in flight, when the claim errored meanwhile)
        main, outcome, config = claim
        ctrl = control[0] if control is not None and main.error is None else None
        result = SpecResult(
            spec=spec,
            verdict=verdict(main, ctrl, spec.status),
            profile=self.profile,
            device=self.device,
            seconds=time.perf_counter() - self.starts.get(index, time.perf_counter()),
            main=main,
            control=ctrl,
            outcome=outcome,
            config=config,
        )
        self.results[index] = result
        if self.reporter:
            self.reporter.done(result)
        if self.on_result is not None:
            self.on_result([r for r in self.results if r is not None])

    def _advance(self, units: int) -> None:
        if self.reporter and not self.inline and units:
            self.reporter.progress(units, self.total)


def _with(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)
