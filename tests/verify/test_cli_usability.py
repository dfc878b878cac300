"""The command line explains itself: help with exit codes and examples, a metrics listing, where
specs are looked for, one-line errors for unusable folders, and a scaffold that passes as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from verify import load_specs, run
from verify.cli import main
from verify.metrics_doc import markdown, readme_section

COMMANDS = ["list", "check-specs", "verify", "report", "new", "metrics", "diff"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_description_exit_codes_and_examples(command: str, capsys) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"superposition-lab {command}" in out.split("examples:")[1]
    assert "exit codes:" in out and "2  bad input" in out


def test_metrics_lists_each_kinds_metrics_with_docs(capsys) -> None:
    assert main(["metrics", "toy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("toy — ") and "represented_features" in out and "n_represented" in out
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    assert all(k in out for k in ("sae —", "phase —", "polytope —"))
    assert main(["metrics", "toyy"]) == 2
    assert "did you mean 'toy'" in capsys.readouterr().err


def test_readme_metrics_section_is_generated_from_the_registry() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme_section(text) == markdown(), "README metrics section is stale: run python -m verify.metrics_doc"


def test_missing_specs_folder_says_where_it_looked(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check-specs"]) == 2
    err = capsys.readouterr().err
    assert f"looked for {tmp_path.resolve() / 'specs'}" in err and "--specs DIR" in err
    assert main(["verify"]) == 2
    assert "--specs DIR" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["verify", "report"])
def test_unusable_out_is_one_line(command: str, tiny_spec_path: Path, tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out in (a_file, a_file / "below"):
        assert main([command, "--specs", str(tiny_spec_path.parent), "--out", str(out), "--device", "cpu"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: --out {out}: {a_file} is a file, not a folder"]


def test_new_into_a_file_is_one_line(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert main(["new", "tms.x", "--specs", str(a_file)]) == 2
    assert capsys.readouterr().err.strip() == f"error: --specs {a_file}: {a_file} is a file, not a folder"


def test_scaffold_passes_as_written_with_its_control_failing(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    assert main(["new", "tms.my-claim", "--specs", str(folder)]) == 0
    (spec,) = load_specs([folder])
    (result,) = run([spec], profile="quick", device="cpu", out=tmp_path / "out")
    assert result.verdict == "pass", [c.detail for c in result.main.checks]
    assert result.control is not None and not result.control.passed and result.control.error is None
    assert result.seconds < 30


def test_suite_reuses_what_verify_computed(tiny_spec_path: Path, tmp_path: Path, monkeypatch) -> None:
    """`verify` then the suite fixture's `run(..., out=<the same out>)` trains nothing more."""
    out = tmp_path / "out"
    assert main(["verify", "--specs", str(tiny_spec_path.parent), "--out", str(out), "--device", "cpu"]) == 0
    results_json = (out / "results.json").read_bytes()
    (result,) = run(load_specs([tiny_spec_path]), profile="quick", device="cpu", out=out)
    assert result.main.cached and result.control.cached
    assert (out / "results.json").read_bytes() == results_json  # the runner leaves results.json alone
