"""What a run leaves behind: the terminal table, results.json, report.md with plots, junit.xml.

The table goes to stderr (rich; plain text when stderr is not a terminal) so that stdout stays
free for machine-readable output.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from rich import box
from rich.console import Console
from rich.table import Table

from verify.runner import SpecResult
from verify.validation import experiment_kind

__all__ = ["print_table", "write_results", "write_report", "write_junit", "console"]

_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold yellow"}


def console() -> Console:
    """A console on stderr; plain (no colour, no boxes) when stderr is not a TTY."""
    plain = not sys.stderr.isatty()
    return Console(stderr=True, no_color=plain, highlight=False, width=160 if plain else None,
                   force_terminal=None if not plain else False)


def _control_text(r: SpecResult) -> str:
    if r.control is None:
        return "—"
    if r.control.error:
        return "error"
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
        parts.append(f"{p['examples']} examples" + (f"; counterexample {p['counterexample']}"
                                                    if p["counterexample"] else ""))
    return "\n".join(parts)


def print_table(results: list[SpecResult], con: Console | None = None) -> None:
    con = con or console()
    plain = not sys.stderr.isatty()
    table = Table(title="superposition-lab verification", show_lines=True,
                  box=box.ASCII if plain else box.SIMPLE_HEAVY)
    for col in ("id", "claim", "verdict", "measured vs expected", "control", "seconds"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.spec.id, r.spec.title, f"[{_STYLE[r.verdict]}]{r.verdict.upper()}[/]",
                      _measured_text(r), _control_text(r), f"{r.seconds:.1f}")
    con.print(table)
    counts = {v: sum(r.verdict == v for r in results) for v in ("pass", "fail", "error")}
    total = sum(r.seconds for r in results)
    con.print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors "
              f"in {total:.1f} s (profile {results[0].profile if results else '—'})")


def write_results(results: list[SpecResult], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([r.to_json() for r in results], indent=2, default=str))
    os.replace(tmp, path)
    return path


def _plots(r: SpecResult, out: Path) -> list[Path]:
    kind = experiment_kind(r.spec)
    if kind.plot is None or r.outcome is None:
        return []
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    return kind.plot(r.outcome, r.config, plot_dir, r.spec.id)


def write_report(results: list[SpecResult], out: Path) -> Path:
    """report.md: a summary table, then per claim its source, checks, control and plots."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# superposition-lab reproducibility report", ""]
    if results:
        total = sum(r.seconds for r in results)
        dev = results[0].device
        lines += [f"Profile `{results[0].profile}` on `{dev}`; {len(results)} claims in {total:.1f} s "
                  f"(cached results count their load time).", ""]
    lines += ["| claim | verdict | control | source | seconds |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| [{r.spec.id}](#{r.spec.id.replace('.', '')}) | **{r.verdict}** | "
                     f"{_control_text(r)} | {r.spec.source.paper} — {r.spec.source.section} | {r.seconds:.1f} |")
    for r in results:
        lines += ["", f"## {r.spec.id}", "", f"**{r.spec.title}** — verdict **{r.verdict}**", "",
                  f"> {r.spec.claim}", "", f"Source: {r.spec.source.paper}, *{r.spec.source.section}*.", ""]
        for name, j in (("Claim", r.main), ("Control (must fail)", r.control)):
            if j is None:
                continue
            lines.append(f"{name}:")
            if j.error:
                lines.append(f"- error: `{j.error}`")
            for c, spec_check in zip(j.checks, r.spec.check):
                lines.append(f"- {'✓' if c.passed else '✗'} `{c.metric}` {c.rule}: measured "
                             f"{c.measured_summary}" + (f", expected {c.expected_summary}" if c.expected_summary else "")
                             + f" — {c.detail}")
                if spec_check.why and j is r.main:
                    lines.append(f"  - why this threshold: {spec_check.why}")
            if j.property:
                lines.append(f"- property: {j.property['examples']} examples; counterexample: "
                             f"{j.property['counterexample']}")
        for p in _plots(r, out):
            lines += ["", f"![{r.spec.id}]({p.relative_to(out).as_posix()})"]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_junit(results: list[SpecResult], out: Path) -> Path:
    """One testcase per claim, so CI systems can show the verdicts."""
    fails = sum(r.verdict == "fail" for r in results)
    errors = sum(r.verdict == "error" for r in results)
    rows = [f'<testsuite name="superposition-lab" tests="{len(results)}" failures="{fails}" errors="{errors}">']
    for r in results:
        rows.append(f'  <testcase classname="specs" name={quoteattr(r.spec.id)} time="{r.seconds:.3f}">')
        if r.verdict != "pass":
            tag = "failure" if r.verdict == "fail" else "error"
            rows.append(f"    <{tag} message={quoteattr(r.verdict)}>{escape(_measured_text(r))}</{tag}>")
        rows.append("  </testcase>")
    rows.append("</testsuite>")
    path = out / "junit.xml"
    path.write_text("\n".join(rows) + "\n")
    return path
