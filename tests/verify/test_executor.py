"""The runner's seam with a process pool: the same Outcomes, cache and verdicts as the local run.

A `ProcessPoolExecutor(max_workers=1)` (spawned workers: a fresh interpreter, as a Ray worker is)
stands in for a cluster: every job is pickled there and its result back; the parent alone writes
the cache. Also: the worker's refusals, its thread count, and the command line's executor options.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import sys
from pathlib import Path

import attrs
import numpy as np
import pytest
import torch

from verify import load_specs, run
from verify.cli import main
from verify.files import LockBusy, entry_lock
from verify.jobs import Job, code_version, run_job
from verify.judgement import SpecResult, drawn_points

REPO = Path(__file__).resolve().parents[2]


class CountingReporter:
    """Records what the runner reports."""

    def __init__(self) -> None:
        self.starts: list[tuple[str | None, str]] = []
        self.advanced = 0
        self.totals: set[int] = set()
        self.finished: list[str] = []

    def start(self, spec, side: str) -> None:
        self.starts.append((None if spec is None else spec.id, side))

    def progress(self, advance: int, total: int) -> None:
        self.advanced += advance
        self.totals.add(total)

    def done(self, result: SpecResult) -> None:
        self.finished.append(result.spec.id)


def measured(result: SpecResult) -> dict:
    """What must not change between executors: verdicts, digests, every check's measured value."""
    sides = {"claim": result.main, "control": result.control}
    return {
        "verdict": result.verdict,
        **{
            name: None
            if j is None
            else {
                "digest": j.digest,
                "error": j.error,
                "property": j.property,
                "checks": [(c.metric, c.passed, c.measured) for c in j.checks],
            }
            for name, j in sides.items()
        },
    }


def cache_contents(out: Path) -> dict[str, object]:
    """Every cache entry: the arrays of an Outcome (.npz), its points, a property's judgement (minus timings)."""
    found: dict[str, object] = {}
    for f in sorted((out / "cache").iterdir()):
        if f.suffix == ".npz":
            with np.load(f) as data:
                found[f.name] = {k: data[k].tobytes() for k in data.files}
        elif f.name.endswith(".judgement.json"):
            j = json.loads(f.read_text())
            j.pop("seconds")
            found[f.name] = j
        elif f.suffix == ".json":
            found[f.name] = json.loads(f.read_text())["points"]
    return found


@pytest.fixture(scope="module")
def pool():
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


def test_pool_run_is_bit_identical_to_local(tiny_spec_path: Path, tmp_path: Path, pool) -> None:
    (spec,) = load_specs([tiny_spec_path])
    local = run([spec], profile="quick", device="cpu", out=tmp_path / "local")
    reporter = CountingReporter()
    pooled = run([spec], profile="quick", device="cpu", out=tmp_path / "pool", reporter=reporter, executor=pool)
    assert measured(pooled[0]) == measured(local[0]) and pooled[0].verdict == "pass"
    np.testing.assert_array_equal(pooled[0].outcome.arrays["W"], local[0].outcome.arrays["W"])
    assert cache_contents(tmp_path / "pool") == cache_contents(tmp_path / "local")
    # one bar over every job: claim and control, each one job
    assert reporter.starts == [(None, "2 jobs")] and reporter.advanced == 2 and reporter.totals == {2}
    assert reporter.finished == [spec.id]
    # a second run reads the parent-written cache: nothing is submitted, the bar still completes
    again = CountingReporter()
    (cached,) = run([spec], profile="quick", device="cpu", out=tmp_path / "pool", reporter=again, executor=pool)
    assert cached.main.cached and cached.control.cached and measured(cached) == measured(local[0])
    assert again.advanced == 2


def test_property_points_spread_over_jobs(tmp_path: Path, pool) -> None:
    (spec,) = load_specs([REPO / "specs" / "tms.simplex.toml"])
    local = run([spec], profile="quick", device="cpu", out=tmp_path / "local")[0]
    reporter = CountingReporter()
    pooled = run([spec], profile="quick", device="cpu", out=tmp_path / "pool", reporter=reporter, executor=pool)[0]
    assert measured(pooled) == measured(local)
    assert cache_contents(tmp_path / "pool") == cache_contents(tmp_path / "local")
    # the claim passes: the dry run drew exactly the points hypothesis then asked for, each one job
    assert drawn_points(spec.property, "quick") == local.main.property["points"]
    assert local.verdict == "pass" and reporter.advanced == max(reporter.totals)


def test_parts_of_a_chunked_phase_map_spread_over_jobs(chunked_phase_spec_path: Path, tmp_path: Path, pool) -> None:
    (spec,) = load_specs([chunked_phase_spec_path])
    local = run([spec], profile="quick", device="cpu", out=tmp_path / "local")[0]
    reporter = CountingReporter()
    pooled = run([spec], profile="quick", device="cpu", out=tmp_path / "pool", reporter=reporter, executor=pool)[0]
    assert measured(pooled) == measured(local) and local.verdict == "pass"
    for name in ("W", "b", "restart_loss"):
        np.testing.assert_array_equal(pooled.outcome.arrays[name], local.outcome.arrays[name])
    assert cache_contents(tmp_path / "pool") == cache_contents(tmp_path / "local")
    # three parts per side, each one job; the merged Outcome says how many parts it came from
    assert reporter.starts == [(None, "6 jobs")] and reporter.advanced == 6
    assert pooled.outcome.info["parts"] == local.outcome.info["parts"] == 3


def test_pool_with_an_erroring_claim_skips_its_control(tiny_spec_path: Path, tmp_path: Path, pool) -> None:
    text = tiny_spec_path.read_text().replace("lr = 0.05", "lr = 1e30").replace('"cosine"', '"constant"')
    tiny_spec_path.write_text(text)
    (spec,) = load_specs([tiny_spec_path])
    local = run([spec], profile="quick", device="cpu", out=tmp_path / "local")[0]
    reporter = CountingReporter()
    pooled = run([spec], profile="quick", device="cpu", out=tmp_path / "pool", reporter=reporter, executor=pool)[0]
    assert pooled.verdict == local.verdict == "error" and pooled.control is None is local.control
    assert pooled.main.error == local.main.error and "diverged" in pooled.main.error
    assert reporter.advanced == 2


def test_worker_refuses_other_code_and_sets_its_threads(tiny_spec_path: Path) -> None:
    (spec,) = load_specs([tiny_spec_path])
    refused = run_job(Job(spec, "quick", True, "cpu", "0123456789abcdef"))
    assert refused.outcome is None and "refused" in refused.error and code_version() in refused.error
    before = torch.get_num_threads()
    done = run_job(Job(spec, "quick", True, "cpu", code_version(), threads=1))
    assert done.error is None and done.outcome.info["torch_threads"] == 1
    assert torch.get_num_threads() == before


def test_a_held_lock_can_be_tried(tmp_path: Path) -> None:
    for use_fcntl in (True, False):  # flock, and the O_EXCL lock file where there is no fcntl
        entry = tmp_path / f"entry-{use_fcntl}"
        held = entry_lock(entry, use_fcntl=use_fcntl)
        tried = entry_lock(entry, use_fcntl=use_fcntl, blocking=False)
        with held, pytest.raises(LockBusy), tried:
            pass
        with entry_lock(entry, use_fcntl=use_fcntl, blocking=False):  # free again
            pass


def test_executor_options_are_checked(tiny_spec_path: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    args = ["verify", str(tiny_spec_path), "--out", str(tmp_path / "out")]
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main([*args, "--executor", "ray"]) == 2
    assert 'pip install "superposition-lab[ray]"' in capsys.readouterr().err
    assert main([*args, "--cpus-per-job", "2"]) == 2
    assert "need --executor ray" in capsys.readouterr().err
    assert main([*args, "--executor", "ray", "--device", "cuda"]) == 2
    assert "--gpus-per-job" in capsys.readouterr().err
    assert main([*args, "--executor", "ray", "--max-in-flight", "0"]) == 2
    assert main([*args, "--jobs", "0"]) == 2
    assert "--jobs 0: must be ≥ 1" in capsys.readouterr().err
    assert main([*args, "--executor", "ray", "--jobs", "2"]) == 2
    assert "--jobs is for --executor local" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()


def test_local_jobs_run_in_worker_processes_with_the_same_results(tiny_spec_path: Path, tmp_path: Path) -> None:
    """`--jobs 2`: the claim and its control in two spawned workers — the same digests and verdict as
    the sequential run, and the same cache keys (so a later sequential run trains nothing)."""
    assert main(["verify", str(tiny_spec_path), "--out", str(tmp_path / "seq"), "--device", "cpu"]) == 0
    assert main(["verify", str(tiny_spec_path), "--out", str(tmp_path / "par"), "--device", "cpu", "--jobs", "2"]) == 0
    seq, par = (json.loads((tmp_path / d / "results.json").read_text())["results"][0] for d in ("seq", "par"))
    assert seq["provenance"]["digests"] == par["provenance"]["digests"] and par["verdict"] == "pass"
    assert cache_contents(tmp_path / "seq") == cache_contents(tmp_path / "par")


def test_a_failing_part_makes_its_side_an_error(chunked_phase_spec_path: Path, tmp_path: Path, monkeypatch) -> None:
    """One part of three raises: the side is an error naming it and is not cached; the control, already
    planned and run beside it, is cached as usual."""
    from verify.experiments import phase
    from verify.registry import EXPERIMENTS

    def second_part_fails(config, part, ctx):
        if part == 1 and config.model == "relu_output":
            raise ValueError("part 1 could not run")
        return phase.run_phase_part(config, part, ctx)

    parts = attrs.evolve(phase.PHASE_PARTS, run=second_part_fails)
    monkeypatch.setitem(EXPERIMENTS._items, "phase", attrs.evolve(phase.PHASE, parts=parts))
    (spec,) = load_specs([chunked_phase_spec_path])
    with cf.ThreadPoolExecutor(max_workers=2) as threads:  # not inline: one job per part, in this process
        (result,) = run([spec], profile="quick", device="cpu", out=tmp_path / "out", executor=threads)
    assert result.verdict == "error" and result.main.error == "ValueError: part 1 could not run"
    assert [p.name.split("--")[1] for p in (tmp_path / "out" / "cache").glob("*.npz")] == ["control"]
