"""results.json: one strict-JSON document per output folder, merged run after run.

The document is `{"format": 2, "provenance": {…}, "results": [entry, …]}`: the provenance of the
latest run (verify/provenance.py) and one entry per spec ever judged into this folder. A run
replaces the entries of the specs it judged and keeps the others; each entry says when (UTC) and
under which code hash (`jobs.code_version`) it was obtained, so an entry from other code is
reported as stale. Per entry, `provenance` holds the spec hash, the cache key(s), the seeds and grid
points, and the sha256 digest of each side's Outcome arrays; `plots` lists each figure with its
sha256. Non-finite numbers are written as null plus a `nonfinite` note (verify/strict_json.py), and
the file's own sha256 goes to the sidecar `results.json.sha256`. Writes are atomic.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import IO, Any

from verify import provenance, strict_json
from verify.files import atomic_write, sha256_file
from verify.jobs import code_version
from verify.judgement import Judgement, SpecResult, spec_hash
from verify.kind import grid_points
from verify.validation import experiment_config, experiment_kind

__all__ = [
    "FORMAT",
    "write_results",
    "write_text",
    "load_results",
    "entry_for",
    "is_stale",
    "last_verdicts",
    "results_path",
    "reproduce_command",
]

FORMAT = 2
RESULTS = "results.json"


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text to `path` atomically (verify/files.py), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")

    def write(fh: IO[Any]) -> None:
        fh.write(data)

    return atomic_write(path, write, mode="wb")


def results_path(path: str | Path) -> Path:
    """results.json itself, or the one inside an output folder."""
    path = Path(path)
    return path / RESULTS if path.is_dir() else path


def _grid(r: SpecResult, control: bool) -> dict[str, Any] | None:
    """Seeds and grid points of one side, from the spec (None when the spec cannot be structured)."""
    try:
        config = experiment_config(r.spec, r.profile, control)
        points = grid_points(config, experiment_kind(r.spec).axes)
    except Exception:  # noqa: BLE001 — an erroring spec still gets an entry
        return None
    return {"seeds": getattr(config, "seeds", None), "seed": getattr(config, "seed", None), "points": points}


def _checks(j: Judgement, r: SpecResult, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runner's check dicts plus their one-line summaries and the spec's `why`."""
    out = []
    for i, d in enumerate(base):
        c = j.checks[i] if i < len(j.checks) else None
        spec_check = r.spec.check[i] if i < len(r.spec.check) else None
        out.append(
            {
                **d,
                "measured_summary": getattr(c, "measured_summary", ""),
                "expected_summary": getattr(c, "expected_summary", ""),
                "why": getattr(spec_check, "why", ""),
            }
        )
    return out


def reproduce_command(spec_id: str, profile: str, device: str, file: str = "") -> str:
    """The command that judges this one claim again."""
    cmd = f"superposition-lab verify {spec_id} --profile {profile}"
    if file:
        folder = Path(file).parent
        with contextlib.suppress(ValueError):
            folder = folder.resolve().relative_to(Path.cwd().resolve())
        if folder.as_posix() != "specs":
            cmd += f" --specs {folder.as_posix()}"
    return cmd + (" --device cuda" if device == "cuda" else "")


def entry_for(r: SpecResult, plots: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """One results.json entry for a judged spec."""
    d = r.to_json()
    d["checks"] = _checks(r.main, r, d.get("checks") or [])
    if d.get("control") and r.control is not None:
        d["control"]["checks"] = _checks(r.control, r, d["control"].get("checks") or [])
    sides = {"main": r.main, **({"control": r.control} if r.control is not None else {})}
    d["provenance"] = {
        "spec_hash": spec_hash(r.spec),
        "cache_keys": {k: j.cache_key for k, j in sides.items()},
        "digests": {k: j.digest for k, j in sides.items()},
        "grid": {k: _grid(r, k == "control") for k in sides},
    }
    d["obtained_utc"] = provenance.utc_now()
    d["code_version"] = code_version()
    d["reproduce"] = reproduce_command(r.spec.id, r.profile, r.device, r.spec.path)
    d["plots"] = plots or []
    return d


def load_results(path: str | Path) -> dict[str, Any]:
    """The results document at `path` (a results.json or an output folder). An old plain list of
    entries reads as a document without provenance. Raises ValueError when it is missing or unreadable."""
    path = results_path(path)
    try:
        data = strict_json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read results ({exc})") from None
    if isinstance(data, list):
        data = {"format": 1, "provenance": None, "results": data}
    if not (
        isinstance(data, dict)
        and isinstance(data.get("results"), list)
        and all(isinstance(e, dict) and "id" in e for e in data["results"])
    ):
        raise ValueError(f"{path}: not a superposition-lab results file")
    return data


def _merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {e["id"]: e for e in new}
    previous = {e["id"]: e for e in old}
    for e in new:  # plots are made once at the end of a run: keep earlier ones of the same Outcome
        before = previous.get(e["id"])
        if not e["plots"] and before and before.get("provenance", {}).get("digests") == e["provenance"]["digests"]:
            e["plots"] = before.get("plots", [])
    merged = [by_id.pop(e["id"], e) for e in old]
    return merged + [e for e in new if e["id"] in by_id]


def write_results(results: list[SpecResult], out: Path, plots: dict[str, list[dict[str, str]]] | None = None) -> Path:
    """Merge these results into OUT/results.json (atomically) and write its sha256 sidecar.
    `plots` maps a spec id to its figures ({"path": relative to OUT, "sha256": …})."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS
    try:
        old = load_results(path)["results"] if path.exists() else []
    except ValueError:
        old = []  # an unreadable file is replaced, not merged
    entries = [entry_for(r, (plots or {}).get(r.spec.id)) for r in results]
    doc = {
        "format": FORMAT,
        "provenance": provenance.collect(
            results[0].profile if results else None, results[0].device if results else None
        ),
        "results": _merge(old, entries),
    }
    text = strict_json.dumps(doc, indent=2) + "\n"
    json.loads(text)  # strict by construction; never write a file that does not read back
    write_text(path, text)
    write_text(out / (RESULTS + ".sha256"), f"{sha256_file(path)}  {RESULTS}\n")
    return path


def is_stale(entry: dict[str, Any], current: str | None = None) -> bool:
    """Whether an entry was obtained under other code than the current one."""
    return entry.get("code_version") != (current or code_version())


def last_verdicts(path: str | Path) -> dict[str, str]:
    """id → "verdict (profile)" with "stale" where the code changed since; {} when there is no file."""
    if not results_path(path).exists():
        return {}
    current = code_version()
    return {
        e["id"]: f"{e.get('verdict', '?')} ({e.get('profile', '?')})" + (" stale" if is_stale(e, current) else "")
        for e in load_results(path)["results"]
    }
