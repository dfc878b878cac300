"""What a run leaves behind: the terminal table, results.json and report.md (the plain-text twin
of report.html).

The table goes to stderr (rich; plain text when stderr is not a terminal) so that stdout stays
free for machine-readable output. report.md renders the merged results document
(verify/results_io.py), so it also lists claims judged by earlier runs, flagged stale when their
code differs from the current one. Other outputs: verify/report_html.py, verify/junit.py,
verify/step_summary.py; verify/outputs.py writes them all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from verify.jobs import code_version
from verify.judgement import SpecResult
from verify.results_io import is_stale, write_results, write_text
from verify.summary import check_rows, control_text, counts_text, header_facts, is_refuted_claim

__all__ = ["print_table", "write_results", "write_report", "console", "markdown"]

_STYLE = {"pass": "bold green", "fail": "bold red", "refuted": "bold magenta", "error": "bold yellow"}


def console() -> Console:
    """A console on stderr; plain (no colour, no boxes) when stderr is not a TTY."""
    plain = not sys.stderr.isatty()
    return Console(
        stderr=True,
        no_color=plain,
        highlight=False,
        width=160 if plain else None,
        force_terminal=None if not plain else False,
    )


def _control_text(r: SpecResult) -> str:
    if r.control is None:
        return "—"
    if r.control.error:
        return "error"
    if r.spec.status == "refuted":  # the control shows the checks can pass
        return "passes ✓" if r.control.passed else "FAILS ✗"
    return "fails ✓" if not r.control.passed else "HOLDS ✗"


def _measured_text(r: SpecResult) -> str:
    if r.main.error:
        return r.main.error
    parts = []
    for c in r.main.checks:
        mark = "✓" if c.passed else "✗"
        vs = f" vs {c.expected_summary}" if c.expected_summary else ""
        parts.append(f"{mark} {c.metric} {c.rule}: {c.measured_summary}{vs}")
    if r.main.property:
        p = r.main.property
        parts.append(
            f"{p['examples']} examples" + (f"; counterexample {p['counterexample']}" if p["counterexample"] else "")
        )
    return "\n".join(parts)


def print_table(results: list[SpecResult], con: Console | None = None) -> None:
    con = con or console()
    plain = not sys.stderr.isatty()
    table = Table(title="superposition-lab verification", show_lines=True, box=box.ASCII if plain else box.SIMPLE_HEAVY)
    for col in ("id", "claim", "verdict", "measured vs expected", "control", "seconds"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(
            r.spec.id,
            r.spec.title,
            f"[{_STYLE.get(r.verdict, 'bold')}]{r.verdict.upper()}[/]",
            _measured_text(r),
            _control_text(r),
            f"{r.seconds:.1f}",
        )
    con.print(table)
    total = sum(r.seconds for r in results)
    entries = [{"verdict": r.verdict} for r in results]
    con.print(f"{counts_text(entries)} in {total:.1f} s (profile {results[0].profile if results else '—'})")


def _mark(passed: Any) -> str:
    return "✓" if passed is True else ("✗" if passed is False else "·")


def _property_lines(prop: dict[str, Any] | None, side: str) -> list[str]:
    if not prop:
        return []
    calls = f" ({prop['calls']} calls)" if prop.get("calls") else ""
    counter = json.dumps(prop["counterexample"]) if prop.get("counterexample") else "none"
    return [
        f"- {side} property: seed {prop.get('seed', '—')}, {prop.get('examples')} distinct points{calls}; "
        f"shrunk counterexample: {counter}"
    ]


def _claim_lines(e: dict[str, Any], current: str) -> list[str]:
    stale = " — **stale** (obtained under code {})".format(e.get("code_version")) if is_stale(e, current) else ""
    src = e.get("source") or {}
    link = f" <{src['url']}>" if src.get("url") else ""
    lines = [
        "",
        f"## {e['id']}",
        "",
        f"**{e.get('title', '')}** — verdict **{e.get('verdict')}**{stale}",
        "",
        f"> {e.get('claim', '')}",
        "",
        *([f"Null: {e['null']}", ""] if e.get("null") else []),
        f"Source: {src.get('paper', '?')}, *{src.get('section', '?')}*.{link}",
        "",
        f"Reproduce: `{e.get('reproduce', '')}` — obtained {e.get('obtained_utc', '?')}, "
        f"{'from cache' if e.get('cached') or (e.get('control') or {}).get('cached') else 'computed'}"
        f", {float(e.get('seconds') or 0):.1f} s.",
        "",
    ]
    for name, side in (("claim", e), ("control", e.get("control"))):
        if side and side.get("error"):
            lines.append(f"- {name} error: `{side['error']}`")
    must = "must pass: the checks can hold" if is_refuted_claim(e) else "must fail"
    lines += [
        f"| check | expected | tolerance | claim (measured) | control (measured, {must}) |",
        "|---|---|---|---|---|",
    ]
    for row in check_rows(e):
        claim, control = row["claim"], row["control"]
        ctext = "—" if control is None else f"{_mark(control['passed'])} {control['value']}"
        lines.append(
            f"| `{row['metric']}` {row['rule']} | {row['expected']} | {row['tolerance']} | "
            f"{_mark(claim['passed'])} {claim['value']} | {ctext} |"
        )
    for row in check_rows(e):
        lines.append(f"- `{row['metric']}`: {row['claim']['detail']}")
        if row["control"] is not None:
            lines.append(f"  - control: {row['control']['detail']}")
        if row["why"]:
            lines.append(f"  - why this threshold: {row['why']}")
    lines += _property_lines(e.get("property"), "claim")
    lines += _property_lines((e.get("control") or {}).get("property"), "control")
    prov = e.get("provenance") or {}
    lines.append(
        f"- spec hash `{prov.get('spec_hash', e.get('spec_hash'))}`; cache keys "
        + ", ".join(f"{k} `{v}`" for k, v in (prov.get("cache_keys") or {}).items())
        + "; outcome sha256 "
        + ", ".join(f"{k} `{v[:16]}…`" for k, v in (prov.get("digests") or {}).items() if v)
    )
    for plot in e.get("plots") or []:
        lines += ["", f"![{e['id']}]({plot['path']})", f"(`{plot['path']}` sha256 `{plot['sha256']}`)"]
    return lines


def _refuted_section(entries: list[dict[str, Any]]) -> list[str]:
    """The claims the sources make that measurement contradicts: per claim what it says, where, and the
    evidence — each check the claim fails (claimed vs measured) next to the control that passes it."""
    refuted = [e for e in entries if is_refuted_claim(e)]
    if not refuted:
        return []
    lines = [
        "",
        "## Refuted claims",
        "",
        "Claims as their source states them that fail their checks on the stated setup; each control is a "
        "setup where the same checks pass. Verdict `refuted` means the measurement contradicts the source "
        "as expected; `fail` means the refutation itself did not reproduce.",
    ]
    for e in refuted:
        src = e.get("source") or {}
        lines += ["", f"### [{e['id']}](#{e['id'].replace('.', '')}) — verdict **{e.get('verdict')}**", ""]
        lines += [f"{src.get('paper', '?')}, *{src.get('section', '?')}*: {e.get('title', '')}", ""]
        lines += [
            "| check | claimed | measured (claim) | where the claim fails | measured (control) |",
            "|---|---|---|---|---|",
        ]
        for row in check_rows(e):
            control = row["control"]
            ctext = "—" if control is None else f"{_mark(control['passed'])} {control['value']}"
            where = row["claim"]["detail"] if row["claim"]["passed"] is False else "—"
            lines.append(
                f"| `{row['metric']}` {row['rule']} | {row['expected']} ({row['tolerance']}) | "
                f"{_mark(row['claim']['passed'])} {row['claim']['value']} | {where.replace('|', '/')} | {ctext} |"
            )
    return lines


def markdown(doc: dict[str, Any], results_sha256: str = "") -> str:
    """report.md: a summary table and the provenance, then per claim its checks, claim vs control."""
    entries = doc.get("results", [])
    current = code_version()
    facts = header_facts(doc)
    lines = [
        "# superposition-lab reproducibility report",
        "",
        f"{facts['verdicts']} — {facts['claims']} claims, profile `{facts['profile']}`, device {facts['device']}, "
        f"wall time {facts['wall time']} (claims {facts['claim time']}; cached results count their load time); "
        f"stale: {facts['stale']}.",
        "",
    ]
    if results_sha256:
        lines += [f"results.json sha256 `{results_sha256}`.", ""]
    lines += ["| claim | verdict | control | source | seconds |", "|---|---|---|---|---|"]
    for e in entries:
        stale = " (stale)" if is_stale(e, current) else ""
        src = e.get("source") or {}
        lines.append(
            f"| [{e['id']}](#{e['id'].replace('.', '')}) | **{e.get('verdict')}**{stale} | "
            f"{control_text(e)} | {src.get('paper', '?')} — {src.get('section', '?')} | "
            f"{float(e.get('seconds') or 0):.1f} |"
        )
    lines += _refuted_section(entries)
    for e in entries:
        lines += _claim_lines(e, current)
    lines += ["", "## Provenance", "", "```json", json.dumps(doc.get("provenance"), indent=2, default=str), "```"]
    return "\n".join(lines) + "\n"


def write_report(doc: dict[str, Any], out: Path, results_sha256: str = "") -> Path:
    """Write OUT/report.md for a results document (atomically)."""
    text = markdown(doc, results_sha256)
    return write_text(Path(out) / "report.md", text)
