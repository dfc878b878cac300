"""One battery for every claim in specs/: a new spec file needs no new test.

Each spec must load and validate in both profiles, cite its source, and carry a control under
which the claim must fail. (That each quick claim passes and its control fails is checked by
tests/test_suite_quick.py.)
"""

from __future__ import annotations

import pytest

from tests.conftest import SPECS
from verify.loading import load_specs
from verify.spec import PROFILES
from verify.validation import experiment_config

SPEC_FILES = sorted(SPECS.glob("*.toml"))


def test_there_are_specs() -> None:
    assert SPEC_FILES, "specs/ is empty"


def test_all_specs_load_together() -> None:
    """Loading all at once also checks that ids are unique."""
    specs = load_specs([SPECS])
    assert len(specs) == len(SPEC_FILES)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_spec_is_complete(path) -> None:
    (spec,) = load_specs([path])
    assert path.stem == spec.id, "file name must be <id>.toml"
    assert spec.source.paper.strip() and spec.source.section.strip()
    assert len(spec.claim) > 40, "say what the claim is, with its numbers and threshold reasoning"
    assert spec.control, "every claim needs a [control] under which it must fail"
    for profile in PROFILES:
        experiment_config(spec, profile)
        experiment_config(spec, profile, control=True)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_spec_states_its_null_and_its_thresholds_reasons(path) -> None:
    """The project's rule (README "Adding a claim"): a spec says in one line what a model without the
    mechanism measures, and every threshold it chose says where it comes from (derived, or calibrated
    against a null). A threshold is a literal number compared with (not a closed form or a field)."""
    (spec,) = load_specs([path])
    assert spec.null.startswith("Without ") and any(ch.isdigit() for ch in spec.null), (
        'null = "Without <mechanism>, <check> gives <value>." — with the value'
    )
    for i, check in enumerate(spec.check):
        chosen = check.rule != "monotone" and check.expect is not None and not isinstance(check.expect, str)
        assert not chosen or check.why.strip(), f"check[{i}] ({check.metric} {check.rule} {check.expect}): say why"
