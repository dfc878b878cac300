"""`benchmarks/quick_suite.py` judges #16's quick-suite target: statuses and claim times from a run's
results.json, met / NOT met against 300 s only on an idle machine."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import load_benchmark

QUICK = load_benchmark("quick_suite")


def test_summary_counts_statuses_and_adds_the_claims_times(tmp_path: Path) -> None:
    rows = [{"status": "supported", "seconds": 10.0}, {"status": "refuted", "seconds": 2.5}]
    rows.append({"status": "supported", "seconds": 1.0})
    (tmp_path / "results.json").write_text(json.dumps({"results": rows}))
    s = QUICK.summary(tmp_path / "results.json")
    assert s == {"claims": 3, "statuses": {"supported": 2, "refuted": 1}, "claim_seconds": 13.5}


def test_the_target_is_judged_only_on_an_idle_machine() -> None:
    assert QUICK.verdict(299.0, 0.1, 2) == "met"
    assert QUICK.verdict(301.0, 0.9, 2) == "NOT met"
    assert QUICK.verdict(200.0, 3.0, 2).startswith("not judged")  # a busy machine: no verdict either way


def test_from_a_finished_run_prints_without_running(tmp_path: Path, capsys) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"results": [{"status": "supported", "seconds": 4.0}]}))
    assert QUICK.main(["--from", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 claims {'supported': 1}" in out and "4 s" in out
