"""End to end: every spec in specs/ gets the verdict its status expects at profile quick — a supported
claim passes with its control failing; a refuted claim fails its checks with its control passing them.

The whole suite runs once per test session (through the same runner as the CLI) and each claim
is one test, so a failure names the claim and shows its checks. Deselect with -m "not suite".

It runs through the repository's out/ cache, so after `superposition-lab verify --profile quick`
(on the CPU, the default here and on a machine without a GPU) it trains nothing: cache keys hash
the experiment table, profile, device and code, so changed code or specs retrain, and damaged
entries are recomputed. results.json is not touched. SUPERPOSITION_LAB_SUITE_OUT picks another
folder (e.g. an empty one, to train from scratch).
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import REPO, SPECS
from verify import load_specs, run
from verify.judgement import expected_verdict

pytestmark = pytest.mark.suite

SPEC_IDS = [p.stem for p in sorted(SPECS.glob("*.toml"))]


@pytest.fixture(scope="session")
def quick_results():
    out = os.environ.get("SUPERPOSITION_LAB_SUITE_OUT", str(REPO / "out"))
    results = run(
        load_specs([SPECS]), profile="quick", device=os.environ.get("SUPERPOSITION_LAB_DEVICE", "cpu"), out=out
    )
    return {r.spec.id: r for r in results}


def _explain(result) -> str:
    lines = [f"{result.spec.id}: {result.verdict}"]
    for side, j in (("claim", result.main), ("control", result.control)):
        if j is None:
            continue
        if j.error:
            lines.append(f"  {side} error: {j.error}")
        for c in j.checks:
            lines.append(f"  {side} {'✓' if c.passed else '✗'} {c.metric} {c.rule}: {c.detail}")
    return "\n".join(lines)


@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_quick_claim_gets_its_expected_verdict(quick_results, spec_id: str) -> None:
    result = quick_results[spec_id]
    assert result.verdict == expected_verdict(result.spec), _explain(result)
    refuted = result.spec.status == "refuted"
    assert result.control is not None and result.control.passed == refuted, _explain(result)
