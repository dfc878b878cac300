"""Executors for the runner's seam (`verify.dispatch`): where the jobs run.

- `local` — `InlineExecutor`: in this process, one job at a time (the default; the sequential run);
  with `--jobs N` a `ProcessPoolExecutor` of N spawned worker processes on this machine instead, each
  job with its share of the cores as torch threads (results identical to the sequential run).
- `ray` — `RayExecutor`: each job a Ray task with `num_cpus`/`num_gpus` of its own (fractions
  allowed), on a local cluster started by `ray.init()` or an existing one (`address="auto"` or
  `"ray://host:10001"`). The job and its result travel through Ray's object store, so the workers
  need the same checkout and Python environment but no shared filesystem: only the parent writes
  `out/`. Ray is optional (`pip install "superposition-lab[ray]"`); it is imported when asked for.

Any other `concurrent.futures.Executor` works too (the tests use a `ProcessPoolExecutor`).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import math
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import attrs

from verify.jobs import InlineExecutor

__all__ = ["EXECUTORS", "ExecutorUnavailable", "ExecutorSettings", "RayExecutor", "make_executor", "add_options"]

EXECUTORS = ("local", "ray")


class ExecutorUnavailable(Exception):
    """The executor asked for cannot be used here (Ray not installed, no cluster at the address)."""


@attrs.frozen(kw_only=True)
class ExecutorSettings:
    """What `--executor` and its options ask for."""

    name: str = "local"
    address: str | None = None  # ray: None starts a local cluster; "auto" or "ray://…" joins one
    cpus_per_job: float = 1.0  # ray: each job's CPU share; its torch threads are max(1, floor(share))
    gpus_per_job: float = 0.0  # ray: each job's GPU share (0.25: four jobs share one GPU)
    max_in_flight: int | None = None  # jobs submitted at once (default: twice the jobs the cluster fits)
    jobs: int = 1  # local: jobs at once, each in a worker process (1: in this process)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ExecutorSettings:
        return cls(
            name=args.executor,
            address=args.address,
            cpus_per_job=args.cpus_per_job,
            gpus_per_job=args.gpus_per_job,
            max_in_flight=args.max_in_flight,
            jobs=args.jobs,
        )

    def device(self, requested: str) -> str:
        """The device type the jobs run on, decided here (the workers resolve it): with Ray, `auto` is
        cuda when each job gets a GPU share, else cpu. Local runs resolve `auto` in the runner."""
        if self.name == "local" or requested != "auto":
            return requested
        return "cuda" if self.gpus_per_job > 0 else "cpu"

    @property
    def threads(self) -> int:
        """Torch intra-op threads of a job: its whole CPUs, at least one (local workers: this machine's
        cores shared out among the jobs)."""
        if self.name == "local":
            return max(1, (os.cpu_count() or 1) // self.jobs)
        return max(1, math.floor(self.cpus_per_job))

    @property
    def in_workers(self) -> bool:
        """Whether jobs run outside this process (Ray, or a local pool): then each gets `threads`."""
        return self.name != "local" or self.jobs > 1

    def problems(self) -> list[str]:
        """Bad combinations, one line each (the CLI exits 2 on any)."""
        out = []
        if self.name not in EXECUTORS:
            out.append(f"--executor {self.name!r}: choose one of {', '.join(EXECUTORS)}")
        if not self.cpus_per_job > 0:
            out.append(f"--cpus-per-job {self.cpus_per_job}: must be > 0")
        if not self.gpus_per_job >= 0:
            out.append(f"--gpus-per-job {self.gpus_per_job}: must be ≥ 0")
        if self.jobs < 1:
            out.append(f"--jobs {self.jobs}: must be ≥ 1")
        if self.name != "local" and self.jobs != 1:
            out.append("--jobs is for --executor local; with ray, --cpus-per-job and --max-in-flight set the sharing")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            out.append(f"--max-in-flight {self.max_in_flight}: must be ≥ 1")
        if self.name == "local" and (self.address or self.gpus_per_job or self.cpus_per_job != 1.0):
            out.append("--address, --cpus-per-job and --gpus-per-job need --executor ray")
        return out

    def device_problem(self, requested: str) -> str | None:
        """With Ray, `--device cuda` needs a GPU share per job (a task without one sees no GPU)."""
        if self.name == "ray" and requested == "cuda" and not self.gpus_per_job:
            return "--device cuda with --executor ray needs --gpus-per-job > 0 (e.g. 1, or 0.25 to share a GPU)"
        return None


class RayExecutor(cf.Executor):
    """Submits each call as a Ray task with the settings' CPU and GPU share; returns its Future."""

    def __init__(self, settings: ExecutorSettings, ray_module: Any) -> None:
        self.settings, self.ray = settings, ray_module
        self.started = not ray_module.is_initialized()
        if self.started:
            ray_module.init(address=settings.address, include_dashboard=False, log_to_driver=False)
        self.slots = max(1, int(self._cluster("CPU") // settings.cpus_per_job))
        if settings.gpus_per_job:
            self.slots = min(self.slots, max(1, int(self._cluster("GPU") // settings.gpus_per_job)))
        self._remote: dict[Callable[..., Any], Any] = {}

    def _cluster(self, resource: str) -> float:
        return float(self.ray.cluster_resources().get(resource, 0.0))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        remote = self._remote.get(fn)
        if remote is None:
            options = {"num_cpus": self.settings.cpus_per_job, "num_gpus": self.settings.gpus_per_job}
            remote = self._remote[fn] = self.ray.remote(**options)(fn)
        return remote.remote(*args, **kwargs).future()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray  # an optional dependency: imported only when --executor ray asks for it
    except ImportError:
        raise ExecutorUnavailable(
            '--executor ray needs Ray, which is not installed: pip install "superposition-lab[ray]"'
        ) from None
    return ray


def make_executor(settings: ExecutorSettings) -> tuple[cf.Executor, int | None]:
    """The executor the settings ask for and how many jobs to keep in flight (None: no limit)."""
    if settings.name == "local" and settings.jobs > 1:
        pool = cf.ProcessPoolExecutor(max_workers=settings.jobs, mp_context=multiprocessing.get_context("spawn"))
        return pool, 2 * settings.jobs
    if settings.name == "local":
        return InlineExecutor(), None
    ray = _import_ray()
    try:
        executor = RayExecutor(settings, ray)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ExecutorUnavailable(f"--executor ray: cannot reach a cluster ({type(exc).__name__}: {exc})") from None
    return executor, settings.max_in_flight or 2 * executor.slots


def add_options(parser: argparse.ArgumentParser) -> None:
    """The command line's executor options (verify, report)."""
    g = parser.add_argument_group("where the jobs run")
    g.add_argument("--executor", choices=EXECUTORS, default="local", help="local (default, in this process) or ray")
    g.add_argument("--address", help="ray: join this cluster (auto, ray://host:10001); default: start a local one")
    g.add_argument("--cpus-per-job", type=float, default=1.0, help="ray: CPUs per job (torch threads; default 1)")
    g.add_argument("--gpus-per-job", type=float, default=0.0, help="ray: GPUs per job, fractions allowed (default 0)")
    g.add_argument("--max-in-flight", type=int, help="ray: jobs submitted at once (default: twice what fits)")
    g.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="local: run this many jobs at once in worker processes, sharing the cores (default 1: in this process)",
    )
