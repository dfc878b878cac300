"""The mutation check's bugs still apply: each snippet of `benchmarks/mutant_list.py` occurs exactly once,
and every spec and unit test a mutant names exists (a refactor that moves the code fails here, not
silently in the on-demand run of `benchmarks/mutants.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import load_benchmark

ROOT = Path(__file__).resolve().parent.parent


MUTANTS = load_benchmark("mutant_list").MUTANTS


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_applies_and_names_what_exists(mutant) -> None:
    for edit in mutant.edits:
        text = (ROOT / edit.path).read_text(encoding="utf-8")
        assert text.count(edit.old) == 1, f"{edit.path}: snippet occurs {text.count(edit.old)} times: {edit.old!r}"
        assert edit.old != edit.new
    assert mutant.specs or mutant.tests
    for spec_id in mutant.specs:
        assert (ROOT / "specs" / f"{spec_id}.toml").is_file(), spec_id
    for test in mutant.tests:
        assert (ROOT / test.split("::")[0]).is_file(), test
    assert mutant.guard in ("spec", "unit")


def test_mutant_names_are_unique() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names))
