"""results.json: provenance, strict JSON with non-finite values, merging runs, stale entries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.verify.fake_results import fake_result, tiny_specs
from verify import strict_json
from verify.cli import main
from verify.jobs import code_version
from verify.report import markdown
from verify.results_io import last_verdicts, load_results, write_results


def test_provenance_keys(tmp_path: Path) -> None:
    specs = tiny_specs(tmp_path / "specs")
    path = write_results([fake_result(specs[0])], tmp_path / "out")
    doc = json.loads(path.read_text())
    p = doc["provenance"]
    for key in (
        "commit",
        "dirty",
        "code_version",
        "argv",
        "profile",
        "device_requested",
        "device_resolved",
        "torch_threads",
        "started_utc",
        "ended_utc",
        "machine",
        "versions",
    ):
        assert key in p
    assert {"cpu", "cores", "gpu"} <= set(p["machine"])
    for lib in (
        "python",
        "torch",
        "torch_cuda",
        "numpy",
        "scipy",
        "hypothesis",
        "attrs",
        "cattrs",
        "matplotlib",
        "rich",
    ):
        assert lib in p["versions"]
    assert p["code_version"] == code_version()
    entry = doc["results"][0]
    assert entry["code_version"] == code_version() and entry["obtained_utc"].endswith("Z")
    prov = entry["provenance"]
    assert prov["cache_keys"] == {"main": "k-main", "control": "k-control"}
    assert prov["digests"]["main"] == "d" * 64 and len(prov["spec_hash"]) == 16
    assert prov["grid"]["main"]["seeds"] == 2 and prov["grid"]["main"]["points"] == [
        {"sparsity": 0.0},
        {"sparsity": 0.9},
    ]
    sidecar = (tmp_path / "out" / "results.json.sha256").read_text().split()
    assert sidecar[1] == "results.json" and len(sidecar[0]) == 64


def test_strict_json_round_trip_with_nan(tmp_path: Path) -> None:
    specs = tiny_specs(tmp_path / "specs")
    path = write_results([fake_result(specs[0])], tmp_path / "out")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name}"))  # strict
    check = json.loads(text)["results"][0]["checks"][1]
    assert check["measured"] == [[2.0, None]] and check["nonfinite"] == {"measured": {"0.1": "nan"}}
    back = load_results(path)["results"][0]
    assert math.isnan(back["checks"][1]["measured"][0][1])
    assert back["control"]["checks"][1]["measured"][0][1] == math.inf
    obj = {"a": float("-inf"), "b": [1.0, [float("nan")]], "c": [{"d": float("inf")}]}
    again = strict_json.loads(strict_json.dumps(obj))
    assert again["a"] == -math.inf and math.isnan(again["b"][1][0]) and again["c"][0]["d"] == math.inf
    with pytest.raises(ValueError):
        strict_json.loads('{"a": NaN}')


def test_merge_keeps_other_entries_and_flags_stale(tmp_path: Path, capsys) -> None:
    specs = tiny_specs(tmp_path / "specs")
    out = tmp_path / "out"
    write_results([fake_result(specs[0]), fake_result(specs[1])], out)
    # pretend test.tiny-linear's entry came from other code
    doc = json.loads((out / "results.json").read_text())
    doc["results"][0]["code_version"] = "0123456789abcdef"
    (out / "results.json").write_text(json.dumps(doc))
    write_results([fake_result(specs[1], verdict="fail")], out)  # a run of test.other only
    entries = {e["id"]: e for e in load_results(out)["results"]}
    assert set(entries) == {"test.tiny-linear", "test.other"}
    assert entries["test.other"]["verdict"] == "fail" and entries["test.tiny-linear"]["verdict"] == "pass"
    last = last_verdicts(out)
    assert last["test.tiny-linear"].endswith("stale") and not last["test.other"].endswith("stale")
    assert "**stale** (obtained under code 0123456789abcdef)" in markdown(load_results(out))
    assert main(["list", "--specs", str(tmp_path / "specs"), "--out", str(out)]) == 0
    assert "stale" in capsys.readouterr().err


def test_legacy_list_and_garbage(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps([{"id": "a", "verdict": "pass"}]))
    assert load_results(tmp_path)["results"][0]["id"] == "a"
    (tmp_path / "results.json").write_text("{nope")
    with pytest.raises(ValueError):
        load_results(tmp_path)
