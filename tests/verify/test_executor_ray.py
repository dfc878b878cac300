"""`--executor ray` on a local two-CPU Ray cluster: the same results as the local run.

Marked `ray`; skipped where Ray is not installed (`pip install "superposition-lab[ray]"`). One
cluster per session (starting one takes seconds); each job is a Ray task with one CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verify import load_specs, run
from verify.cli import main
from verify.executors import ExecutorSettings, make_executor
from verify.results_io import load_results

from .test_executor import CountingReporter, cache_contents, measured

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray


@pytest.fixture(scope="session")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_run_is_bit_identical_to_local(ray_cluster, tiny_spec_path: Path, tmp_path: Path) -> None:
    (spec,) = load_specs([tiny_spec_path])
    local = run([spec], profile="quick", device="cpu", out=tmp_path / "local")[0]
    settings = ExecutorSettings(name="ray", cpus_per_job=1)
    executor, in_flight = make_executor(settings)
    assert in_flight == 4  # twice the two one-CPU jobs the cluster fits
    reporter = CountingReporter()
    remote = run(
        [spec],
        profile="quick",
        device=settings.device("auto"),
        out=tmp_path / "ray",
        reporter=reporter,
        executor=executor,
        max_in_flight=in_flight,
        threads_per_job=settings.threads,
    )[0]
    executor.shutdown()  # leaves the session's cluster running: this executor did not start it
    assert ray.is_initialized()
    assert measured(remote) == measured(local) and remote.verdict == "pass"
    assert cache_contents(tmp_path / "ray") == cache_contents(tmp_path / "local")
    assert reporter.advanced == 2 and reporter.totals == {2}


def test_cli_verify_with_ray_matches_local(ray_cluster, tiny_spec_path: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "local", tmp_path / "ray"
    assert main(["verify", str(tiny_spec_path), "--out", str(a), "--device", "cpu"]) == 0
    assert main(["verify", str(tiny_spec_path), "--out", str(b), "--executor", "ray", "--cpus-per-job", "1"]) == 0
    assert main(["diff", str(a), str(b), "--changed"]) == 0
    (x,), (y,) = load_results(a)["results"], load_results(b)["results"]
    assert [c["measured"] for c in x["checks"]] == [c["measured"] for c in y["checks"]]
    assert x["control"]["checks"] == y["control"]["checks"]
    assert x["provenance"]["digests"] == y["provenance"]["digests"]


def test_ray_spreads_the_parts_of_a_chunked_phase_map(
    ray_cluster, chunked_phase_spec_path: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "local", tmp_path / "ray"
    assert main(["verify", str(chunked_phase_spec_path), "--out", str(a), "--device", "cpu"]) == 0
    assert main(["verify", str(chunked_phase_spec_path), "--out", str(b), "--executor", "ray"]) == 0
    (x,), (y,) = load_results(a)["results"], load_results(b)["results"]
    assert x["provenance"]["digests"] == y["provenance"]["digests"]
    assert cache_contents(b) == cache_contents(a)
