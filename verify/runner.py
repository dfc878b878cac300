"""Plan, run (with an on-disk cache), and judge specs.

For each spec the runner builds the experiment config for the profile, runs it — or reads the
Outcome cached under a hash of the experiment table, profile, device and code version — judges
every check, and does the same for the `[control]`, which must FAIL for the claim to pass. Each
side is cached as soon as it finishes, so an interrupted run resumes where it stopped.

The work goes through one seam (`verify.dispatch`): plan → skip what is cached → submit the rest
as jobs (`verify.jobs`) to an executor → collect them as they complete; only this process writes
the cache, judges and reports. The default executor runs the jobs here, one at a time; `executor=`
takes any `concurrent.futures.Executor` (a process pool, `verify.executors.RayExecutor`).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from pathlib import Path

from verify.dispatch import Dispatch, Reporter
from verify.judgement import SpecResult
from verify.spec import Spec

__all__ = ["run", "judge_spec"]


def judge_spec(
    spec: Spec,
    profile: str = "quick",
    device: str = "auto",
    cache_dir: Path | None = None,
    reporter: Reporter | None = None,
    read_cache: bool = True,
) -> SpecResult:
    """Run one spec and its control in this process; verdict pass = every check holds AND the control fails."""
    (result,) = Dispatch([spec], profile, device, cache_dir, reporter, read_cache, None, None, None, None).run()
    return result


def run(
    specs: list[Spec],
    profile: str = "quick",
    device: str = "auto",
    out: str | Path = "out",
    use_cache: bool = True,
    reporter: Reporter | None = None,
    on_result: Callable[[list[SpecResult]], object] | None = None,
    executor: cf.Executor | None = None,
    max_in_flight: int | None = None,
    threads_per_job: int | None = None,
) -> list[SpecResult]:
    """Judge every spec. Outcomes are cached under OUT/cache; use_cache=False recomputes (and re-caches).
    `on_result(results_so_far)` is called after each spec (the CLI writes a partial results.json).

    `executor` runs the jobs (default: in this process, one at a time, step progress). With another
    executor at most `max_in_flight` jobs are submitted at once (default: all) and each worker sets
    `threads_per_job` torch threads (default: its own setting). Results come in the order of `specs`.
    """
    cache_dir = Path(out) / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    dispatch = Dispatch(
        specs, profile, device, cache_dir, reporter, use_cache, on_result, executor, max_in_flight, threads_per_job
    )
    return dispatch.run()
