"""Faults: damaged cache entries are recomputed, files are replaced atomically, two runs can share
one out/ folder, and an interrupted run leaves a valid partial results.json."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import attrs
import pytest

from tests.conftest import REPO, TINY_SPEC, write_spec
from tests.verify.fake_kind import install_fake_toy
from verify import load_specs, run
from verify.cli import main
from verify.files import atomic_write, entry_lock
from verify.registry import EXPERIMENTS


def _entries(out: Path, suffix: str) -> list[Path]:
    return sorted((out / "cache").glob(f"*{suffix}"))


@pytest.mark.parametrize("damage", ["truncate_npz", "empty_npz", "json_missing_key", "json_garbage"])
def test_damaged_cache_entry_is_recomputed_with_a_warning(
    tiny_spec_path: Path, tmp_path: Path, monkeypatch, caplog, damage: str
) -> None:
    calls = install_fake_toy(monkeypatch)
    (spec,) = load_specs([tiny_spec_path])
    out = tmp_path / "out"
    run([spec], profile="quick", device="cpu", out=out)
    assert len(calls) == 2
    npz = next(p for p in _entries(out, ".npz") if "--main--" in p.name)
    meta = npz.with_suffix(".json")
    if damage == "truncate_npz":
        npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    elif damage == "empty_npz":
        npz.write_bytes(b"")
    elif damage == "json_missing_key":
        meta.write_text(json.dumps({"info": {}}))
    else:
        meta.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="verify.cache"):
        (result,) = run([spec], profile="quick", device="cpu", out=out)
        (again,) = run([spec], profile="quick", device="cpu", out=out)
    assert result.verdict == "pass" and not result.main.cached and result.control.cached
    assert again.main.cached  # repaired for good: the error is not permanent
    assert len(calls) == 3
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("warning: damaged cache entry") and "recomputing" in line


def test_damaged_property_judgement_is_recomputed(tmp_path: Path, caplog) -> None:
    (spec,) = load_specs([REPO / "specs" / "tms.simplex.toml"])
    spec = attrs.evolve(spec, control=None)
    out = tmp_path / "out"
    run([spec], profile="quick", device="cpu", out=out)
    (jpath,) = _entries(out, ".judgement.json")
    jpath.write_text(json.dumps({"passed": True}))  # a key missing: checks
    with caplog.at_level(logging.WARNING, logger="verify.cache"):
        (result,) = run([spec], profile="quick", device="cpu", out=out)
    assert not result.main.cached and result.verdict == "pass"
    assert any("damaged cache entry" in r.getMessage() for r in caplog.records)


def test_atomic_write_uses_unique_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    target.write_text("old")

    def boom(fh) -> None:
        fh.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["results.json"]
    # many writers at once: every write lands whole, no temporary file is shared or left behind
    threads = [
        threading.Thread(target=atomic_write, args=(target, lambda fh, i=i: fh.write(f"writer {i}" * 1000)))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = target.read_text()
    assert text == text[: len(text) // 1000] * 1000 and os.listdir(tmp_path) == ["results.json"]


@pytest.mark.parametrize("use_fcntl", [True, False])
def test_entry_lock_excludes(tmp_path: Path, use_fcntl: bool) -> None:
    entry = tmp_path / "entry"
    inside, overlaps = [], []

    def hold() -> None:
        with entry_lock(entry, use_fcntl=use_fcntl):
            if inside:
                overlaps.append(True)
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


_WORKER = r"""
import json, sys
from verify import load_specs, run
(spec,) = load_specs([sys.argv[1]])
(r,) = run([spec], profile="quick", device="cpu", out=sys.argv[2])
print(json.dumps({"verdict": r.verdict, "main": r.main.cached, "control": r.control.cached}))
"""


@pytest.mark.slow
def test_two_processes_share_one_out_folder(tmp_path: Path) -> None:
    """Both succeed; each cache entry is trained once (the other process waits on its lock, then reads it)."""
    spec = write_spec(tmp_path / "specs", "s.toml", TINY_SPEC.replace("steps = { quick = 300", "steps = { quick = 50"))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(spec), str(out)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reports = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        assert p.returncode == 0, stderr
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    for side in ("main", "control"):
        assert sorted(r[side] for r in reports) == [False, True], reports  # computed once, read once
    assert not list(out.rglob("*.tmp"))


def test_interrupted_verify_leaves_a_valid_partial_results_json(
    tiny_spec_path: Path, tmp_path: Path, monkeypatch
) -> None:
    install_fake_toy(monkeypatch)
    second = write_spec(tiny_spec_path.parent, "z.toml", TINY_SPEC.replace("test.tiny-linear", "test.tiny-second"))
    kind = EXPERIMENTS.get("toy")
    real = kind.run

    def interrupt_second_spec(config, ctx):
        if config.n_features == 6:
            raise KeyboardInterrupt
        return real(config, ctx)

    text = second.read_text().replace("n_features = 5", "n_features = 6")
    second.write_text(text)
    monkeypatch.setitem(EXPERIMENTS._items, "toy", attrs.evolve(kind, run=interrupt_second_spec))
    out = tmp_path / "out"
    assert main(["verify", "--specs", str(tiny_spec_path.parent), "--out", str(out), "--device", "cpu"]) == 130
    doc = json.loads((out / "results.json").read_text())
    entries = doc["results"] if isinstance(doc, dict) else doc
    assert [e["id"] for e in entries] == ["test.tiny-linear"]
    assert entries[0]["verdict"] == "pass" and entries[0]["cached"] is False
    assert entries[0]["control"]["cached"] is False
