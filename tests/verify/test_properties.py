"""Property runs: memoised by point (distinct points counted), flaky training is no error, pinned points first."""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.conftest import write_spec
from verify.errors import SpecErrors
from verify.loading import load_specs
from verify.properties import run_property
from verify.spec import PropertyDomain


def test_memoised_evaluations_count_distinct_points() -> None:
    calls: list[dict] = []

    def evaluate(point: dict) -> tuple[bool, list]:
        calls.append(point)
        return point["x"] < 30, [point["x"]]

    prop = PropertyDomain(domain={"x": [0, 100]}, examples=25, seed=3)
    run = run_property(prop, 25, evaluate)
    assert not run.passed and run.counterexample == {"x": 30}  # shrunk to the boundary
    keys = [tuple(sorted(p.items())) for p in calls]
    assert len(keys) == len(set(keys)) == run.examples  # no point evaluated twice
    assert run.calls >= run.examples and run.seed == 3 and len(run.points) == run.examples


def test_flaky_evaluate_is_not_an_error() -> None:
    flip = itertools.cycle([False, True])  # a second run at the same point would pass

    def evaluate(point: dict) -> tuple[bool, None]:
        return (point["x"] < 0.5 or next(flip)), None

    run = run_property(PropertyDomain(domain={"x": [0.0, 1.0]}, examples=30, seed=0), 30, evaluate)
    assert not run.passed and run.counterexample is not None and run.counterexample["x"] >= 0.5


def test_pinned_points_run_first() -> None:
    seen: list[dict] = []

    def evaluate(point: dict) -> tuple[bool, None]:
        seen.append(point)
        return True, None

    prop = PropertyDomain(
        domain={"a": [0.0, 1.0], "n": [1, 5]}, examples=5, seed=1, points=[{"a": 0.25, "n": 2}, {"a": 0.75, "n": 4}]
    )
    run = run_property(prop, 5, evaluate)
    assert run.passed and seen[:2] == [{"a": 0.25, "n": 2}, {"a": 0.75, "n": 4}]


def test_pinned_points_are_validated(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "specs" / "tms.simplex.toml").read_text()
    good = text.replace("seed = 0\n[property.domain]", "seed = 0\npoints = [{ n = 4, seed = 7 }]\n[property.domain]")
    assert good != text
    load_specs([write_spec(tmp_path / "ok", "tms.simplex.toml", good)])
    bad = text.replace(
        "seed = 0\n[property.domain]",
        "seed = 0\npoints = [{ n = 40, sed = 7 }, { n = 2.5, seed = 1 }]\n[property.domain]",
    )
    try:
        load_specs([write_spec(tmp_path / "bad", "tms.simplex.toml", bad)])
    except SpecErrors as exc:
        text = "\n".join(str(e) for e in exc.errors)
    else:
        raise AssertionError("bad points were accepted")
    assert "property.points[0]: missing seed" in text
    assert "property.points[0].sed" in text and "did you mean 'seed'" in text
    assert "property.points[0].n: 40 is outside the domain [2, 12]" in text
    assert "property.points[1].n: expected an integer" in text
