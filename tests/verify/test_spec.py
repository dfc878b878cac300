"""Spec validation: every kind of bad input gives `file: dotted.field: reason`, all in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TINY_SPEC, write_spec
from verify.cli import main
from verify.errors import SpecErrors
from verify.loading import load_specs
from verify.spec import resolve_profile
from verify.validation import experiment_config


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = write_spec(tmp_path, "s.toml", text)
    with pytest.raises(SpecErrors) as info:
        load_specs([path])
    return [str(e).replace(str(path), "s.toml") for e in info.value.errors]


def _edit(old: str, new: str) -> str:
    assert old in TINY_SPEC, old
    return TINY_SPEC.replace(old, new, 1)


def test_tiny_spec_loads(tiny_spec_path: Path) -> None:
    (spec,) = load_specs([tiny_spec_path])
    assert spec.id == "test.tiny-linear"
    cfg = experiment_config(spec, "quick")
    assert cfg.steps == 300 and cfg.sparsity == [0.0, 0.9]
    assert experiment_config(spec, "full").steps == 3000
    assert experiment_config(spec, "quick", control=True).model == "relu_output"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('title = "tiny linear top-m"', 'title = tiny"', "s.toml: invalid TOML: Invalid value (at line 3, column 9)"),
        ("n_hidden = 2", "n_hidden = 0", "s.toml: experiment.n_hidden: must be >= 1 (got 0)"),
        (
            "sparsity = [0.0, 0.9]",
            "sparsity = [0.0, 1.0]",
            "s.toml: experiment.sparsity: must lie in [0, 1) (got 1.0; S = 1 would mean no data)",
        ),
        ("seeds = 2", "seeds = 2\nseedz = 3", "s.toml: experiment.seedz: unknown key"),
        ("n_features = 5", 'n_features = "five"', "s.toml: experiment.n_features: expected an integer, got 'five'"),
        ("n_features = 5", "n_features = 5.5", "s.toml: experiment.n_features: expected an integer, got 5.5"),
        (
            'model = "linear"',
            'model = "lineer"',
            "s.toml: experiment.model: unknown value 'lineer' (did you mean 'linear'?); "
            "known: linear, relu_hidden, relu_output",
        ),
        (
            'metric = "n_represented"',
            'metric = "n_represnted"',
            "s.toml: check[1].metric: unknown metric 'n_represnted' for experiment kind 'toy' (did you mean "
            "'n_represented'?); known: ",
        ),
        (
            'rule = "equal"',
            'rule = "equals"',
            "s.toml: check[0].rule: unknown rule 'equals' (did you mean 'equal'?); known: at_least, at_most, close, "
            "equal, monotone",
        ),
        (
            'kind = "toy"',
            'kind = "toys"',
            "s.toml: experiment.kind: unknown experiment kind 'toys' (did you mean 'toy'?)",
        ),
        ('title = "tiny linear top-m"\n', "", "s.toml: title: required field missing"),
        ('[control]\nmodel = "relu_output"', '[control]\nmodle = "relu_output"', "s.toml: control.modle: unknown key"),
        (
            "steps = { quick = 300, full = 3000 }",
            "steps = { quick = 300 }",
            "s.toml: experiment.steps: no value for profile 'full'",
        ),
        ('id = "test.tiny-linear"', 'id = "Test Tiny"', "s.toml: id: must match regex"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, old: str, new: str, message: str) -> None:
    errors = _errors(tmp_path, _edit(old, new))
    assert any(e.startswith(message) for e in errors), errors


def test_unknown_analytic_reference_suggests(tmp_path: Path) -> None:
    errors = _errors(tmp_path, _edit('expect = "analytic.linear.top_m"', 'expect = "analytic.linear.top_n"'))
    assert errors[0].startswith(
        "s.toml: check[0].expect: unknown analytic reference 'analytic.linear.top_n' "
        "(did you mean 'analytic.linear.top_m'?)"
    )


def test_rule_specific_fields(tmp_path: Path) -> None:
    text = _edit('rule = "at_most"\nexpect = "experiment.n_hidden"', 'rule = "close"\nexpect = 2')
    assert _errors(tmp_path, text) == ["s.toml: check[1].rel_tol: rule 'close' needs rel_tol or abs_tol > 0"]
    text = _edit('rule = "at_most"\nexpect = "experiment.n_hidden"', 'rule = "monotone"\naxis = "density"')
    assert _errors(tmp_path, text) == [
        "s.toml: check[1].axis: rule 'monotone' needs a grid axis (a list-valued field); this spec's axes: sparsity"
    ]


def test_all_files_checked_in_one_pass_with_duplicates(tmp_path: Path) -> None:
    write_spec(tmp_path, "a.toml", TINY_SPEC)
    write_spec(tmp_path, "b.toml", TINY_SPEC)  # same id
    write_spec(tmp_path, "c.toml", _edit("n_hidden = 2", "n_hidden = -1"))
    with pytest.raises(SpecErrors) as info:
        load_specs([tmp_path])
    text = [str(e) for e in info.value.errors]
    assert any("b.toml: id: duplicate id 'test.tiny-linear' (also in" in t for t in text)
    assert any("c.toml: experiment.n_hidden: must be >= 1 (got -1)" in t for t in text)


def test_resolve_profile_nested() -> None:
    raw = {"steps": {"quick": 1, "full": 2}, "importance": {"geometric": 0.7}}
    assert resolve_profile(raw, "full") == {"steps": 2, "importance": {"geometric": 0.7}}


toml_values = st.one_of(
    st.integers(-5, 5),
    st.floats(-2, 2, allow_nan=False),
    st.text(max_size=5),
    st.booleans(),
    st.lists(st.integers(-2, 2), max_size=3),
)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    line=st.sampled_from(
        [
            "n_features = 5",
            "n_hidden = 2",
            "sparsity = [0.0, 0.9]",
            "seeds = 2",
            'metric = "n_represented"',
            'rule = "equal"',
            "lr = 0.01",
            'model = "linear"',
        ]
    ),
    value=toml_values,
)
def test_fuzzed_specs_exit_2_without_traceback(tmp_path_factory, capsys, line: str, value) -> None:
    """Any value in any field: exit 0 or 2 with located messages — never a traceback."""
    import json

    key = line.split(" = ")[0]
    text = TINY_SPEC.replace(line, f"{key} = {json.dumps(value)}", 1)
    folder = tmp_path_factory.mktemp("fuzz")
    write_spec(folder, "f.toml", text)
    code = main(["check-specs", str(folder)])
    err = capsys.readouterr().err
    assert code in (0, 2)
    assert "Traceback" not in err
    if code == 2:
        assert all(l.startswith(str(folder)) for l in err.splitlines()[:-1]), err
