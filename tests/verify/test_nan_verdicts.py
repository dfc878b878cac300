"""NaN is no evidence: a check with NaN in a judged value is an error, never a pass or a fail.

Before, a control whose metric was NaN counted as "control fails" and the claim passed.
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import numpy as np

from tests.conftest import TINY_SPEC, write_spec
from tests.verify.fake_kind import install_fake_toy
from verify import load_specs, run
from verify.checks import judge_check
from verify.cli import main
from verify.kind import Metric, Outcome
from verify.registry import Registry
from verify.spec import Check


def test_nan_in_the_control_makes_the_verdict_an_error(tiny_spec_path: Path, tmp_path: Path, monkeypatch) -> None:
    install_fake_toy(monkeypatch, n_represented=lambda c: math.nan if c.model == "relu_output" else 2.0)
    (spec,) = load_specs([tiny_spec_path])
    (result,) = run([spec], profile="quick", device="cpu", out=tmp_path / "out")
    assert result.main.passed and result.main.error is None
    assert result.control is not None and result.control.error is not None
    assert "check[1] n_represented: NaN in the measured 'n_represented' at sparsity=0.9, seed 0" in result.control.error
    assert result.verdict == "error"
    entry = result.to_json()
    assert entry["control"]["verdict"] == "error"
    assert entry["control"]["checks"][1]["error"].startswith("NaN in the measured")


def test_nan_in_the_claim_is_an_error_too(tiny_spec_path: Path, tmp_path: Path, monkeypatch) -> None:
    install_fake_toy(monkeypatch, n_represented=lambda c: math.nan)
    (spec,) = load_specs([tiny_spec_path])
    (result,) = run([spec], profile="quick", device="cpu", out=tmp_path / "out")
    assert result.verdict == "error" and "NaN" in result.main.error
    assert result.control is None  # the control is not run for a claim that errored


def _outcome(values: np.ndarray) -> Outcome:
    return Outcome(points=[{"sparsity": 0.0}, {"sparsity": 0.9}], arrays={"x": values})


def test_nan_expected_value_is_named() -> None:
    analytic: Registry = Registry("analytic reference")
    analytic.register("analytic.test.nan_at_sparse", lambda c: math.nan if c.sparsity > 0.5 else 1.0)
    Cfg = attrs.make_class("Cfg", {"sparsity": attrs.field(default=0.0)})
    metrics = {"x": Metric(lambda o, c: o.arrays["x"], "x")}
    check = Check(metric="x", rule="close", expect="analytic.test.nan_at_sparse", abs_tol=0.1)
    r = judge_check(check, _outcome(np.ones((2, 3))), Cfg(sparsity=[0.0, 0.9]), metrics, analytic)
    assert not r.passed and r.error is not None
    assert r.error.startswith("NaN in the expected 'analytic.test.nan_at_sparse' at sparsity=0.9")


def test_nan_with_min_fraction_and_monotone_is_an_error() -> None:
    values = np.array([[1.0, np.nan, 1.0], [2.0, 2.0, 2.0]])
    metrics = {"x": Metric(lambda o, c: o.arrays["x"], "x")}
    for check in (
        Check(metric="x", rule="at_least", expect=0.0, min_fraction=0.5),
        Check(metric="x", rule="monotone", axis="sparsity", reduce="mean"),
    ):
        r = judge_check(check, _outcome(values), None, metrics, Registry("analytic reference"))
        assert r.error is not None and "sparsity=0" in r.error, r


def test_nan_literal_expectation_is_refused_up_front(tmp_path: Path, capsys) -> None:
    path = write_spec(tmp_path, "s.toml", TINY_SPEC.replace('expect = "experiment.n_hidden"', "expect = nan"))
    assert main(["check-specs", str(path)]) == 2
    assert f"{path}: check[1].expect: NaN is not a value to compare with" in capsys.readouterr().err
