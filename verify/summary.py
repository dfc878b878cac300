"""What every report says, computed once from a results document: counts, claim-vs-control rows.

report.md, report.html, junit.xml and the GitHub step summary all render the same results.json
document (verify/results_io.py), so they cannot disagree. Verdicts are any string: the known ones
(pass, fail, refuted, error) are counted first, in that order, and any other is counted too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from verify.jobs import code_version
from verify.results_io import is_stale

__all__ = [
    "KNOWN_VERDICTS",
    "verdict_counts",
    "counts_text",
    "control_text",
    "tolerance_text",
    "check_rows",
    "wall_seconds",
    "header_facts",
    "side_verdict",
    "is_refuted_claim",
    "compact",
]

KNOWN_VERDICTS = ("pass", "fail", "refuted", "error")
_WORDS = {"pass": "passed", "fail": "failed", "refuted": "refuted", "error": "errors"}


def verdict_counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Verdict → number of claims: pass, fail, refuted, error always, then any other verdict seen."""
    counts = {v: 0 for v in KNOWN_VERDICTS}
    for e in entries:
        v = str(e.get("verdict", "unknown"))
        counts[v] = counts.get(v, 0) + 1
    return counts


def counts_text(entries: list[dict[str, Any]]) -> str:
    """ "3 passed, 1 failed, 0 refuted, 0 errors" (plus any other verdict by name)."""
    return ", ".join(f"{n} {_WORDS.get(v, v)}" for v, n in verdict_counts(entries).items())


def side_verdict(side: dict[str, Any] | None) -> str:
    if side is None:
        return "—"
    return str(side.get("verdict") or ("error" if side.get("error") else "?"))


def is_refuted_claim(entry: dict[str, Any]) -> bool:
    """A spec whose status is `refuted`: its claim must fail and its control must pass."""
    return entry.get("status") == "refuted"


def control_text(entry: dict[str, Any]) -> str:
    """How the control went: it must fail for a supported claim to mean something, and pass for a
    refuted one (showing that the checks the claim fails can be passed)."""
    control = entry.get("control")
    if not control:
        return "—"
    v = side_verdict(control)
    if is_refuted_claim(entry):
        return {"pass": "passes ✓", "fail": "FAILS ✗"}.get(v, v)
    return {"fail": "fails ✓", "pass": "HOLDS ✗"}.get(v, v)


def tolerance_text(check: dict[str, Any]) -> str:
    tol = check.get("tolerance") or {}
    parts = [f"{k.replace('_tol', '')} {v:g}" for k, v in tol.items() if isinstance(v, (int, float)) and v]
    return ", ".join(parts) if parts else "exact"


def compact(value: Any, limit: int = 60) -> str:
    """A value as short text: summaries of arrays are made by the runner; this trims the rest."""
    text = "—" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _measured(check: dict[str, Any] | None) -> dict[str, Any] | None:
    if check is None:
        return None
    nonfinite = check.get("nonfinite", {}).get("measured") if isinstance(check.get("nonfinite"), dict) else None
    summary = check.get("measured_summary") or compact(check.get("measured"))
    return {
        "value": summary + (f" (non-finite: {compact(nonfinite, 40)})" if nonfinite else ""),
        "passed": check.get("passed"),
        "detail": check.get("detail", ""),
    }


def check_rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per check: what it asks (metric, rule, expected, tolerance, why) and the claim's and
    the control's measurement side by side (the control's None when there is no control run)."""
    claim = entry.get("checks") or []
    control = (entry.get("control") or {}).get("checks") or []
    rows = []
    for i, c in enumerate(claim):
        rows.append(
            {
                "metric": c.get("metric", "?"),
                "rule": c.get("rule", "?"),
                "expected": c.get("expected_summary") or compact(c.get("expected")),
                "tolerance": tolerance_text(c),
                "why": c.get("why", ""),
                "claim": _measured(c),
                "control": _measured(control[i] if i < len(control) else None),
            }
        )
    return rows


def wall_seconds(doc: dict[str, Any]) -> float | None:
    """Seconds from the run's UTC start to its end (None when the provenance lacks them)."""
    p = doc.get("provenance") or {}
    try:
        start = datetime.strptime(p["started_utc"], "%Y-%m-%dT%H:%M:%SZ")
        end = datetime.strptime(p["ended_utc"], "%Y-%m-%dT%H:%M:%SZ")
    except (KeyError, TypeError, ValueError):
        return None
    return (end - start).total_seconds()


def header_facts(doc: dict[str, Any]) -> dict[str, str]:
    """The summary line's facts: counts, profile, device, wall time, stale entries."""
    entries = doc.get("results", [])
    p = doc.get("provenance") or {}
    wall = wall_seconds(doc)
    current = code_version()
    stale = sum(is_stale(e, current) for e in entries)
    gpu = ((p.get("machine") or {}).get("gpu") or {}).get("model")
    return {
        "claims": str(len(entries)),
        "verdicts": counts_text(entries),
        "profile": str(p.get("profile") or (entries[0].get("profile") if entries else "—")),
        "device": f"{p.get('device_resolved') or '—'} (requested {p.get('device_requested') or '—'})"
        + (f", {gpu}" if gpu else ""),
        "wall time": "—" if wall is None else f"{wall:.0f} s",
        "claim time": f"{sum(float(e.get('seconds') or 0) for e in entries):.1f} s",
        "stale": f"{stale} entr{'y' if stale == 1 else 'ies'} from other code" if stale else "none",
    }
