"""Judged results made by hand (no training), for the report, diff and JUnit tests."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tests.conftest import TINY_SPEC, write_spec  # noqa: E402
from verify.checks import CheckResult  # noqa: E402
from verify.files import sha256_file  # noqa: E402
from verify.judgement import Judgement, SpecResult  # noqa: E402
from verify.loading import load_specs  # noqa: E402
from verify.spec import Spec  # noqa: E402


def tiny_specs(folder: Path, ids: tuple[str, ...] = ("test.tiny-linear", "test.other")) -> list[Spec]:
    for i in ids:
        write_spec(folder, f"{i}.toml", TINY_SPEC.replace('id = "test.tiny-linear"', f'id = "{i}"'))
    by_id = {s.id: s for s in load_specs([folder])}
    return [by_id[i] for i in ids]  # in the order asked for


def _check(
    metric: str, rule: str, measured: object, expected: object, passed: bool, tolerance: dict[str, float] | None = None
) -> CheckResult:
    return CheckResult(
        metric=metric,
        rule=rule,
        passed=passed,
        measured=measured,
        expected=expected,
        tolerance=tolerance or {},
        detail=f"{metric}: {'ok' if passed else 'no'}",
        measured_summary=str(measured)[:20],
        expected_summary=str(expected)[:20],
    )


def fake_result(
    spec: Spec, verdict: str = "pass", n_represented: float = 2.0, at_most_tol: float = 0.0, control_holds: bool = False
) -> SpecResult:
    """A judged tiny spec: the claim's checks pass unless verdict says otherwise; the control fails."""
    ok = verdict == "pass"
    tol = {"abs_tol": at_most_tol} if at_most_tol else {}
    main = Judgement(
        passed=ok,
        checks=[
            _check("represented_features", "equal", [[[True, True, False]]], [[[True, True, False]]], True),
            _check("n_represented", "at_most", [[n_represented, float("nan")]], 2, ok, tol),
        ],
        cache_key="k-main",
        digest="d" * 64,
    )
    control = Judgement(
        passed=control_holds,
        checks=[
            _check("represented_features", "equal", [[[True, True, True]]], [[[True, True, False]]], False),
            _check("n_represented", "at_most", [[3.0, float("inf")]], 2, control_holds),
        ],
        cache_key="k-control",
        digest="c" * 64,
        cached=True,
    )
    return SpecResult(
        spec=spec, verdict=verdict, profile="quick", device="cpu", seconds=1.5, main=main, control=control
    )


def fake_plot(out: Path, spec_id: str) -> list[dict[str, str]]:
    """A real small PNG in OUT/plots, listed as write_results expects."""
    path = out / "plots" / f"{spec_id}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, np.arange(16.0).reshape(4, 4))
    return [{"path": f"plots/{spec_id}.png", "sha256": sha256_file(path)}]
