"""The `refuted` status: a claim the sources make that measurement contradicts.

A refuted spec's claim must FAIL its checks and its control must PASS them; the run succeeds when every
verdict is the one its spec expects, and every output says `refuted`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TINY_SPEC, write_spec
from verify.cli import main
from verify.errors import SpecErrors
from verify.judgement import Judgement, verdict
from verify.loading import load_specs


def _side(passed: bool, error: str | None = None) -> Judgement:
    return Judgement(passed=passed, checks=[], error=error)


@pytest.mark.parametrize(
    ("claim", "control", "status", "expected"),
    [
        (True, False, "supported", "pass"),
        (True, True, "supported", "fail"),
        (False, False, "supported", "fail"),
        (False, True, "refuted", "refuted"),
        (True, True, "refuted", "fail"),  # the claim held after all
        (False, False, "refuted", "fail"),  # the checks cannot pass anywhere: nothing is shown
        (True, False, "refuted", "fail"),
    ],
)
def test_verdict_table(claim: bool, control: bool, status: str, expected: str) -> None:
    assert verdict(_side(claim), _side(control), status) == expected


def test_errors_stay_errors() -> None:
    assert verdict(_side(False, "NaN"), _side(True), "refuted") == "error"
    assert verdict(_side(False), _side(True, "NaN"), "refuted") == "error"


# The tiny spec turned around: "the ReLU model at S = 0.9 keeps only the top-m features" is false (it
# superposes), and the linear model — the control — is where the same checks pass.
REFUTED = (
    TINY_SPEC.replace('id = "test.tiny-linear"', 'id = "test.tiny-refuted"\nstatus = "refuted"')
    .replace('model = "linear"\nn_features', 'model = "relu_output"\nn_features')
    .replace("sparsity = [0.0, 0.9]", "sparsity = [0.9]")
    .replace('[control]\nmodel = "relu_output"', '[control]\nmodel = "linear"')
)


def test_status_is_validated(tmp_path: Path) -> None:
    bad = write_spec(tmp_path, "bad.toml", REFUTED.replace('status = "refuted"', 'status = "disputed"'))
    with pytest.raises(SpecErrors, match="status"):
        load_specs([bad])
    no_control = REFUTED[: REFUTED.index("[control]")]
    path = write_spec(tmp_path, "nc.toml", no_control)
    with pytest.raises(SpecErrors, match="status: a refuted claim needs a \\[control\\]"):
        load_specs([path])


def test_refuted_claim_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(tmp_path / "specs", "test.tiny-refuted.toml", REFUTED)
    out = tmp_path / "out"
    assert main(["verify", str(path), "--out", str(out), "--device", "cpu"]) == 0  # refuted, as expected
    (entry,) = json.loads((out / "results.json").read_text())["results"]
    assert entry["verdict"] == "refuted" and entry["status"] == "refuted" and entry["expected_verdict"] == "refuted"
    assert entry["control"]["verdict"] == "pass"
    report = (out / "report.md").read_text()
    assert "## Refuted claims" in report and "0 failed, 1 refuted" in report
    junit = (out / "junit.xml").read_text()
    assert 'failures="0"' in junit and "REFUTED as expected" in junit and "<failure" not in junit
    assert "refuted" in capsys.readouterr().err.lower()


def test_a_refutation_that_does_not_reproduce_fails(tmp_path: Path) -> None:
    """The same refuted spec with the claim side swapped for the control's setup: the claim holds."""
    holds = REFUTED.replace('model = "relu_output"\nn_features', 'model = "linear"\nn_features')
    path = write_spec(tmp_path / "specs", "test.tiny-refuted.toml", holds)
    out = tmp_path / "out"
    assert main(["verify", str(path), "--out", str(out), "--device", "cpu"]) == 1
    (entry,) = json.loads((out / "results.json").read_text())["results"]
    assert entry["verdict"] == "fail"
    assert "the refutation did not reproduce" in (out / "junit.xml").read_text()
