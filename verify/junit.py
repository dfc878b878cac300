"""junit.xml: one testcase per claim, so CI systems show the verdicts next to the test results.

A `<testsuites>` root holds one `<testsuite>` with the run's provenance as `<properties>`; each claim
is a testcase with `file=` the spec's path (relative to the working directory where possible), its
own provenance (spec hash, cache keys, outcome digests) as properties, the failing checks in the
failure message, and its plots as `[[ATTACHMENT|path]]` lines in system-out (the Jenkins / GitLab
convention). A claim whose verdict is the one its spec expects (`pass`, or `refuted` for a claim the
sources make and measurement contradicts) is a passing testcase — a refuted one says so in its
`verdict` property and system-out; any other verdict is a failure (`error`: an error).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from verify.results_io import write_text
from verify.summary import check_rows, verdict_counts

__all__ = ["junit_xml", "write_junit", "spec_file"]


def spec_file(entry: dict[str, Any]) -> str:
    """The spec's path relative to the working directory where possible, else specs/<id>.toml."""
    path = entry.get("file") or ""
    if not path:
        return f"specs/{entry['id']}.toml"
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path.cwd().resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(path).as_posix()


def _flat(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(d, dict):
        return [kv for k, v in d.items() for kv in _flat(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(d, list):
        return [(prefix, " ".join(str(x) for x in d))]
    return [(prefix, "" if d is None else str(d))]


def _properties(pairs: list[tuple[str, str]], indent: str) -> list[str]:
    rows = [f"{indent}<properties>"]
    rows += [f"{indent}  <property name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in pairs]
    return rows + [f"{indent}</properties>"]


def _failure_text(e: dict[str, Any]) -> str:
    lines = []
    for side, s in (("claim", e), ("control", e.get("control"))):
        if s and s.get("error"):
            lines.append(f"{side} error: {s['error']}")
    for row in check_rows(e):
        if row["claim"]["passed"] is False:
            lines.append(
                f"✗ {row['metric']} {row['rule']}: {row['claim']['value']} vs {row['expected']} "
                f"({row['tolerance']}) — {row['claim']['detail']}"
            )
    control = (e.get("control") or {}).get("verdict")
    values = "; ".join(f"{r['metric']} {r['control']['value']}" for r in check_rows(e) if r["control"])
    refuted = e.get("status") == "refuted"
    if control == "pass":
        lines.append(("control passes: " if refuted else "control HOLDS (it must fail): ") + values)
    elif refuted and control == "fail":
        lines.append("control FAILS (it must pass, showing the checks can hold): " + values)
    if refuted and all(r["claim"]["passed"] is not False for r in check_rows(e)):
        lines.append("the claim HOLDS: every check passed, so the refutation did not reproduce")
    counter = (e.get("property") or {}).get("counterexample")
    if counter:
        lines.append(f"counterexample: {counter}")
    return "\n".join(lines) or str(e.get("verdict"))


def _as_expected(e: dict[str, Any]) -> bool:
    """The verdict the spec expects: pass, or refuted for a refuted claim."""
    return e.get("verdict") == ("refuted" if e.get("status") == "refuted" else "pass")


def _attachment(out: Path, plot: dict[str, str]) -> str:
    path = (out / plot["path"]).resolve()
    try:
        return Path(os.path.relpath(path, Path.cwd().resolve())).as_posix()
    except ValueError:
        return path.as_posix()


def junit_xml(doc: dict[str, Any], out: Path) -> str:
    """The JUnit XML text for a results document (plots resolved against OUT)."""
    entries = doc.get("results", [])
    counts = verdict_counts(entries)
    errors = counts.get("error", 0)
    failures = len(entries) - sum(_as_expected(e) for e in entries) - errors
    total = sum(float(e.get("seconds") or 0) for e in entries)
    head = f'tests="{len(entries)}" failures="{failures}" errors="{errors}" time="{total:.3f}"'
    rows = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="superposition-lab" {head}>',
        f'  <testsuite name="superposition-lab" {head}>',
    ]
    rows += _properties(_flat(doc.get("provenance") or {}), "    ")
    for e in entries:
        rows.append(
            f'    <testcase classname="specs" name={quoteattr(e["id"])} file={quoteattr(spec_file(e))} '
            f'time="{float(e.get("seconds") or 0):.3f}">'
        )
        prov = e.get("provenance") or {}
        pairs = [
            ("verdict", str(e.get("verdict"))),
            ("code_version", str(e.get("code_version"))),
            ("obtained_utc", str(e.get("obtained_utc"))),
            ("reproduce", str(e.get("reproduce"))),
        ]
        rows += _properties(pairs + _flat({k: prov.get(k) for k in ("spec_hash", "cache_keys", "digests")}), "      ")
        verdict = e.get("verdict")
        if not _as_expected(e):
            tag = "error" if verdict == "error" else "failure"
            message = f"{verdict}: {e.get('title', '')}"
            rows.append(
                f"      <{tag} message={quoteattr(message)} type={quoteattr(str(verdict))}>"
                f"{escape(_failure_text(e))}</{tag}>"
            )
        plots = [_attachment(out, p) for p in e.get("plots") or []]
        out_lines = [f"[[ATTACHMENT|{p}]]" for p in plots]
        if verdict == "refuted":
            out_lines.insert(0, f"REFUTED as expected: {_failure_text(e)}")
        if out_lines:
            rows.append(f"      <system-out>{escape(chr(10).join(out_lines))}</system-out>")
        rows.append("    </testcase>")
    rows += ["  </testsuite>", "</testsuites>"]
    return "\n".join(rows) + "\n"


def write_junit(doc: dict[str, Any], out: Path) -> Path:
    """Write OUT/junit.xml (atomically)."""
    text = junit_xml(doc, Path(out))
    return write_text(Path(out) / "junit.xml", text)
