"""Runner: verdicts need the control to fail; the cache resumes; runs are reproducible."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest

from verify import load_specs, run
from verify.experiments import toy
from verify.registry import EXPERIMENTS


def test_tiny_claim_passes_and_its_control_fails(tiny_spec_path: Path, tmp_path: Path) -> None:
    (spec,) = load_specs([tiny_spec_path])
    (result,) = run([spec], profile="quick", device="cpu", out=tmp_path / "out")
    assert result.verdict == "pass", [c.detail for c in result.main.checks]
    assert result.main.passed and result.control is not None and not result.control.passed
    assert result.to_json()["control"]["verdict"] == "fail"


def test_verdict_flips_when_the_control_is_swapped_in(tiny_spec_path: Path, tmp_path: Path) -> None:
    (spec,) = load_specs([tiny_spec_path])
    swapped = attrs.evolve(
        spec,
        experiment={**spec.experiment, **spec.control},
        control=dict(model=spec.experiment["model"], sparsity=spec.experiment["sparsity"]),
    )
    (result,) = run([swapped], profile="quick", device="cpu", out=tmp_path / "out")
    assert result.verdict == "fail"
    assert not result.main.passed


def test_cache_resume_trains_nothing(tiny_spec_path: Path, tmp_path: Path, monkeypatch) -> None:
    (spec,) = load_specs([tiny_spec_path])
    out = tmp_path / "out"
    first = run([spec], profile="quick", device="cpu", out=out)[0]
    calls = []
    kind = EXPERIMENTS.get("toy")
    counting = attrs.evolve(kind, run=lambda *a, **k: calls.append(a) or toy.run_toy(*a, **k))
    monkeypatch.setitem(EXPERIMENTS._items, "toy", counting)
    second = run([spec], profile="quick", device="cpu", out=out)[0]
    assert calls == [] and second.main.cached and second.control.cached
    np.testing.assert_array_equal(first.outcome.arrays["W"], second.outcome.arrays["W"])
    # --no-cache recomputes
    run([spec], profile="quick", device="cpu", out=out, use_cache=False)
    assert len(calls) == 2  # claim and control


def test_same_seed_same_weights(tiny_spec_path: Path, tmp_path: Path) -> None:
    (spec,) = load_specs([tiny_spec_path])
    a = run([spec], profile="quick", device="cpu", out=tmp_path / "a", use_cache=False)[0]
    b = run([spec], profile="quick", device="cpu", out=tmp_path / "b", use_cache=False)[0]
    np.testing.assert_array_equal(a.outcome.arrays["W"], b.outcome.arrays["W"])


def test_divergence_is_an_error_not_a_crash(tiny_spec_path: Path, tmp_path: Path) -> None:
    (spec,) = load_specs([tiny_spec_path])
    blown = attrs.evolve(spec, experiment={**spec.experiment, "lr": 1e30, "schedule": "constant"})
    (result,) = run([blown], profile="quick", device="cpu", out=tmp_path / "out")
    assert result.verdict == "error"
    assert "diverged" in result.main.error


def test_interrupted_suite_keeps_finished_specs(tiny_spec_path: Path, tmp_path: Path, monkeypatch) -> None:
    (spec,) = load_specs([tiny_spec_path])
    out = tmp_path / "out"
    kind = EXPERIMENTS.get("toy")
    real = toy.run_toy
    state = {"n": 0}

    def interrupt_second(*a, **k):
        state["n"] += 1
        if state["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setitem(EXPERIMENTS._items, "toy", attrs.evolve(kind, run=interrupt_second))
    with pytest.raises(KeyboardInterrupt):
        run([spec], profile="quick", device="cpu", out=out)
    monkeypatch.setitem(EXPERIMENTS._items, "toy", kind)
    (result,) = run([spec], profile="quick", device="cpu", out=out)
    assert result.main.cached and not result.control.cached
