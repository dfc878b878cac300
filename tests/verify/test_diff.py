"""`superposition-lab diff`: no change, a changed tolerance named exactly, a verdict change exits 1."""

from __future__ import annotations

from pathlib import Path

from tests.verify.fake_results import fake_result, tiny_specs
from verify.cli import main
from verify.diff import diff_docs
from verify.results_io import load_results, write_results


def _runs(tmp_path: Path, **after: object) -> tuple[Path, Path]:
    specs = tiny_specs(tmp_path / "specs")
    a = write_results([fake_result(s) for s in specs], tmp_path / "a")
    b = write_results([fake_result(specs[0], **after), fake_result(specs[1])], tmp_path / "b")  # type: ignore[arg-type]
    return a, b


def test_same_results_no_change(tmp_path: Path, capsys) -> None:
    a, b = _runs(tmp_path)
    d = diff_docs(load_results(a), load_results(b))
    assert d.verdicts == [] and not any(c.changed for c in d.checks) and len(d.checks) == 4
    assert main(["diff", str(a.parent), str(b)]) == 0
    out = capsys.readouterr().out
    assert "verdicts: 0 changed, 2 unchanged" in out and "checks: 0 of 4 changed" in out


def test_changed_tolerance_reports_exactly_that_check(tmp_path: Path, capsys) -> None:
    a, b = _runs(tmp_path, at_most_tol=0.5)
    d = diff_docs(load_results(a), load_results(b))
    changed = [c for c in d.checks if c.changed]
    assert [(c.id, c.index, c.metric) for c in changed] == [("test.tiny-linear", 1, "n_represented")]
    assert changed[0].definition == ["tolerance: {} → {'abs_tol': 0.5}"] and not changed[0].exceeds
    assert main(["diff", str(a), str(b), "--changed"]) == 0
    out = capsys.readouterr().out
    assert out.count("! ") == 1 and "tolerance: {} → {'abs_tol': 0.5}" in out


def test_measured_change_against_tolerance(tmp_path: Path) -> None:
    specs = tiny_specs(tmp_path / "specs", ("test.tiny-linear",))
    a = write_results([fake_result(specs[0], at_most_tol=0.5)], tmp_path / "a")
    within = write_results([fake_result(specs[0], at_most_tol=0.5, n_represented=2.3)], tmp_path / "b")
    beyond = write_results([fake_result(specs[0], at_most_tol=0.5, n_represented=2.7)], tmp_path / "c")
    (c_within,) = [c for c in diff_docs(load_results(a), load_results(within)).checks if c.index == 1]
    (c_beyond,) = [c for c in diff_docs(load_results(a), load_results(beyond)).checks if c.index == 1]
    assert c_within.max_change is not None and abs(c_within.max_change - 0.3) < 1e-9 and not c_within.exceeds
    assert c_beyond.exceeds and c_beyond.mark() == "!"


def test_verdict_change_exits_1_and_bad_input_2(tmp_path: Path, capsys) -> None:
    a, b = _runs(tmp_path, verdict="fail", n_represented=3.0)
    assert main(["diff", str(a), str(b)]) == 1
    assert "test.tiny-linear: pass → fail" in capsys.readouterr().out
    assert main(["diff", str(a), str(tmp_path / "missing.json")]) == 2
    (tmp_path / "bad.json").write_text('{"results": [{"no_id": 1}]}')
    assert main(["diff", str(a), str(tmp_path / "bad.json")]) == 2
