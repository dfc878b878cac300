"""The command line: exit codes 0 / 1 / 2, files written, messages instead of tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import TINY_SPEC, write_spec
from verify.cli import main


def test_check_specs_ok_and_bad(tiny_spec_path: Path, tmp_path: Path, capsys) -> None:
    assert main(["check-specs", str(tiny_spec_path)]) == 0
    bad = write_spec(tmp_path / "bad", "b.toml", TINY_SPEC.replace("n_hidden = 2", "n_hidden = 0"))
    assert main(["check-specs", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: experiment.n_hidden: must be >= 1 (got 0)" in err
    assert "Traceback" not in err
    assert main(["check-specs", str(tmp_path / "missing")]) == 2


def test_verify_pass_writes_results_and_report(tiny_spec_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        ["verify", "test.tiny-linear", "--specs", str(tiny_spec_path.parent), "--out", str(out), "--device", "cpu"]
    )
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["provenance"]["device_requested"] == "cpu" and doc["provenance"]["argv"]
    (entry,) = doc["results"]
    for key in (
        "id",
        "title",
        "source",
        "verdict",
        "profile",
        "device",
        "seconds",
        "checks",
        "control",
        "versions",
        "spec_hash",
        "provenance",
        "obtained_utc",
        "code_version",
        "reproduce",
        "plots",
    ):
        assert key in entry
    assert entry["verdict"] == "pass" and entry["control"]["verdict"] == "fail"
    assert {"metric", "rule", "measured", "expected", "tolerance", "passed", "detail"} <= set(entry["checks"][0])
    report = (out / "report.md").read_text()
    assert "test.tiny-linear" in report and "plots/test.tiny-linear.png" in report
    assert report.count("why this threshold: m hidden dimensions hold at most m orthogonal features.") == 1
    assert (out / "plots" / "test.tiny-linear.png").stat().st_size > 1000
    assert "<testsuites" in (out / "junit.xml").read_text()
    html = (out / "report.html").read_text()
    assert 'id="test.tiny-linear"' in html and "data:image/png;base64," in html
    assert entry["plots"][0]["path"] == "plots/test.tiny-linear.png" and len(entry["plots"][0]["sha256"]) == 64
    # list shows the last verdict
    assert main(["list", "--specs", str(tiny_spec_path.parent), "--out", str(out)]) == 0


def test_verify_fail_exits_1(tiny_spec_path: Path, tmp_path: Path) -> None:
    text = TINY_SPEC.replace('expect = "experiment.n_hidden"', "expect = 1")  # the model keeps 2, not ≤ 1
    path = write_spec(tmp_path / "specs", "f.toml", text)
    assert main(["verify", str(path), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 1


def test_bad_selection_exits_2(tiny_spec_path: Path, capsys) -> None:
    folder = str(tiny_spec_path.parent)
    assert main(["verify", "test.tiny-linaer", "--specs", folder]) == 2
    assert "did you mean 'test.tiny-linear'" in capsys.readouterr().err
    assert main(["verify", "--tag", "nope", "--specs", folder]) == 2
    assert main(["verify", "--profile", "huge", "--specs", folder]) == 2


def test_new_scaffold_is_a_valid_spec(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    assert main(["new", "tms.my-claim", "--specs", str(folder)]) == 0
    assert main(["check-specs", str(folder)]) == 0
    assert main(["new", "tms.my-claim", "--specs", str(folder)]) == 2  # exists
    assert main(["new", "Bad Id", "--specs", str(folder)]) == 2


def test_cuda_without_gpu_is_bad_input(tiny_spec_path: Path, capsys) -> None:
    import torch

    if torch.cuda.is_available():
        return
    assert main(["verify", "--device", "cuda", "--specs", str(tiny_spec_path.parent)]) == 2
    assert "cuda" in capsys.readouterr().err
