"""Bad input: exit 2, one `file: field: reason` line per problem, no traceback, nothing big allocated.

Each defect once found has its case here; a hypothesis test then combines malformed edits of a valid
spec and checks the same promises for every combination.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, TINY_SPEC, write_spec
from verify.cli import main

CHECK0 = '[[check]]\nmetric = "represented_features"'


def _edit(*pairs: tuple[str, str]) -> str:
    text = TINY_SPEC
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _check_specs(path: Path, capsys) -> tuple[int, list[str], int]:
    """Exit code, the problem lines (without the summary) and the peak traced allocation in bytes."""
    tracemalloc.start()
    try:
        code = main(["check-specs", str(path)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    return code, lines[:-1], peak


CASES = [
    (
        "latin1",
        TINY_SPEC.replace("tiny linear", "tiny linéar").encode("latin-1"),
        ["not UTF-8 text: byte 0xe9 at line 3, column 18 (save the file as UTF-8)"],
    ),
    ("bom", b"\xef\xbb\xbf" + TINY_SPEC.encode(), ["starts with a byte-order mark (BOM)"]),
    (
        "check-table",
        _edit(
            (CHECK0, '[check]\nmetric = "represented_features"'),
            ('[[check]]\nmetric = "n_represented"', '[[checkz]]\nmetric = "n_represented"'),
        ).encode(),
        [
            "check: write each check as [[check]] (an array of tables), not [check]",
            "checkz: unknown key (did you mean 'check'?)",
        ],
    ),
    (
        "20-digits",
        _edit(("seeds = 2", "seeds = 12345678901234567890")).encode(),
        ["experiment.seeds: integer too large (20 digits"],
    ),
    (
        "all-stages",
        _edit(
            ("[source]", "[sourze]"), ("n_hidden = 2", "n_hidden = 0"), ('rule = "equal"', 'rule = "equals"')
        ).encode(),
        [
            "source: required field missing",
            "sourze: unknown key (did you mean 'source'?)",
            "experiment.n_hidden: must be >= 1 (got 0)",
            "check[0].rule: unknown rule 'equals'",
        ],
    ),
    ("no-check", _edit(("[source]", "[source]")).split(CHECK0)[0].encode(), ["check: required field missing"]),
    (
        "huge-features",
        _edit(("n_features = 5", "n_features = 1000000000")).encode(),
        ["experiment.n_features: needs ~", "GiB of memory (limit 64 GiB"],
    ),
    ("huge-seeds", _edit(("seeds = 2", "seeds = 1000000000")).encode(), ["experiment.seeds: needs ~", "lower seeds"]),
    (
        "huge-eval",
        _edit(("eval_samples = 16384", "eval_samples = 100000000000000")).encode(),
        ["experiment.eval_samples: needs ~", "lower eval_samples"],
    ),
    (
        "domain-nan",
        (TINY_SPEC + "[property]\ndomain = { sparsity = [nan, 0.5] }\n").encode(),
        ["property.domain.sparsity: bounds must be finite numbers (got [nan, 0.5])"],
    ),
    (
        "domain-float-int",
        (TINY_SPEC + "[property]\ndomain = { n_hidden = [1.5, 3] }\n").encode(),
        ["property.domain.n_hidden: n_hidden is an integer field: give integer bounds (got [1.5, 3])"],
    ),
    (
        "domain-invalid",
        (TINY_SPEC + "[property]\ndomain = { sparsity = [0.5, 1.5] }\n").encode(),
        ["property.domain.sparsity: high bound 1.5: must lie in [0, 1)"],
    ),
    (
        "at-off-grid",
        _edit(('rule = "equal"', 'rule = "equal"\nat = { sparsity = 0.95 }')).encode(),
        ["check[0].at.sparsity: 0.95 is not a grid point of the claim (sparsity = 0, 0.9)"],
    ),
    (
        "at-list-off-grid",
        _edit(('rule = "equal"', 'rule = "equal"\nat = { sparsity = [0.9, 0.95] }')).encode(),
        ["check[0].at.sparsity: 0.95 is not a grid point of the claim (sparsity = 0, 0.9)"],
    ),
    (
        "at-list-not-numbers",
        _edit(('rule = "equal"', 'rule = "equal"\nat = { sparsity = ["a"] }')).encode(),
        ["check[0].at.sparsity"],
    ),
    (
        "at-off-control-grid",
        _edit(('rule = "equal"', 'rule = "equal"\nat = { sparsity = 0.0 }')).encode(),
        ["check[0].at.sparsity: 0 is not a grid point of the control (sparsity = 0.9)"],
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_file_gives_precise_lines(tmp_path: Path, capsys, name: str, data: bytes, expected: list[str]) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_bytes(data)
    code, lines, peak = _check_specs(path, capsys)
    assert code == 2, lines
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    for want in expected:
        assert any(want in line for line in lines), (want, lines)
    assert peak < 200 * 2**20


def test_a_bad_file_does_not_hide_the_others(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.toml").write_bytes(CASES[0][1])  # Latin-1
    write_spec(tmp_path, "b.toml", _edit(("n_hidden = 2", "n_hidden = 0")))
    code, lines, _ = _check_specs(tmp_path, capsys)
    assert code == 2 and len(lines) == 2, lines


# ---------------------------------------------------------------- fuzz: malformed edits, combined
_BAD_VALUES = {  # line of TINY_SPEC → (dotted field, values that are wrong for it)
    "n_features = 5": (
        "experiment.n_features",
        ["0", "-3", "5.5", '"five"', "10000000000", "123456789012345678901", "[5]", "{ a = 1 }", "true"],
    ),
    "n_hidden = 2": ("experiment.n_hidden", ["0", "2.5", '"two"', "99999999999999999999", "[]"]),
    "seeds = 2": ("experiment.seeds", ["0", "1000000000", "1e9", "-1", '"2"', "{ quick = 1 }"]),
    "eval_samples = 16384": ("experiment.eval_samples", ["0", "100000000000000", "nan", '"x"']),
    "sparsity = [0.0, 0.9]": ("experiment.sparsity", ["[]", "[1.0]", "[nan]", "-0.5", '["a"]', "inf"]),
    'model = "linear"': ("experiment.model", ['"lineer"', "1", "[]"]),
    'rule = "equal"': ("check[0].rule", ['"equals"', "3", "[1]"]),
    'metric = "n_represented"': ("check[1].metric", ['"n_represnted"', "false"]),
    'title = "tiny linear top-m"': ("title", ["1", "[]", "{ a = 1 }"]),
    'paper = "Toy Models of Superposition"': ("source.paper", ["1", "[1, 2]"]),
}


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    edits=st.dictionaries(st.sampled_from(sorted(_BAD_VALUES)), st.integers(0, 8), min_size=1, max_size=4),
    encoding=st.sampled_from(["utf-8", "utf-8", "utf-8", "latin-1", "bom"]),
)
def test_fuzzed_bad_specs(tmp_path_factory, capsys, edits: dict[str, int], encoding: str) -> None:
    text, fields = TINY_SPEC, []
    for line, pick in edits.items():
        field, values = _BAD_VALUES[line]
        key = line.split(" = ")[0]
        text = text.replace(line, f"{key} = {values[pick % len(values)]}", 1)
        fields.append(field)
    path = tmp_path_factory.mktemp("fuzz") / "f.toml"
    if encoding == "latin-1":
        path.write_bytes(text.replace("tiny linear", "tiny liné").encode("latin-1"))
    elif encoding == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    else:
        path.write_text(text, encoding="utf-8")
    code, lines, peak = _check_specs(path, capsys)
    assert code == 2, lines
    assert lines and all(re.match(rf"^{re.escape(str(path))}: \S", line) for line in lines), lines
    assert len(lines) == len(set(lines)), lines  # one line per problem
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MiB traced"
    if encoding == "utf-8":  # every edited field is named (all stages, one pass)
        for field in fields:
            assert any(line.startswith(f"{path}: {field}") for line in lines), (field, lines)


_RLIMIT_CHILD = r"""
import resource, sys
limit = 2 * 2**30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from verify.cli import main
sys.exit(main(["check-specs", sys.argv[1]]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(resource, "RLIMIT_AS") or sys.platform != "linux", reason="needs RLIMIT_AS")
def test_huge_sizes_fail_fast_in_2_gib(tmp_path: Path) -> None:
    """check-specs under a 2 GiB address-space limit: each huge size is one line, exit 2, quickly."""
    for name, data, _ in CASES:
        if name.startswith("huge") or name == "20-digits":
            (tmp_path / f"{name}.toml").write_bytes(data.replace(b"test.tiny-linear", name.encode()))
    proc = subprocess.run(
        [sys.executable, "-c", _RLIMIT_CHILD, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert len(lines) == 5 and lines[-1] == "4 problem(s) in spec files", lines
    assert json.dumps(lines)  # plain text lines
