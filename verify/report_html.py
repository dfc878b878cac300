"""report.html: the whole run in one self-contained file that opens in any browser.

Inline CSS, plots embedded as base64 PNG data URIs, no script and nothing fetched from the network.
It shows a summary (verdict counts, profile, device, wall time), the diff against a baseline run
when one is given, one section per claim (source with link, claim text, each check's expected and
tolerance, claim and control measurements side by side, `why`, property seed / points /
counterexample, plots with their sha256, from-cache flag, the command that reproduces it, the
claim's provenance) and the run's provenance with the sha256 of results.json.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any

from verify.diff import Diff, change_text
from verify.jobs import code_version
from verify.results_io import is_stale, write_text
from verify.summary import check_rows, control_text, header_facts, side_verdict

__all__ = ["html_report", "write_html"]

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1150px;
padding:1.5em;color:#1d2125;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:1.8em 0 .3em;border-top:2px solid #ddd;
padding-top:.8em}h3{font-size:1.05em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0 .8em;width:100%}td,th{border:1px solid #d0d5da;
padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f3f5f7}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.v{display:inline-block;padding:.05em .55em;border-radius:.8em;font-weight:600;color:#fff;background:#6c757d}
.v-pass{background:#1a7f37}.v-refuted{background:#8250df}.v-fail{background:#cf222e}.v-error{background:#bf8700}
.ok{color:#1a7f37}.bad{color:#cf222e}.muted{color:#57606a;font-size:.9em}
.stale{background:#fff8c5;border:1px solid #d4a72c;padding:0 .4em;border-radius:.3em}
blockquote{margin:.5em 0;padding:.3em .9em;border-left:4px solid #8c959f;background:#f6f8fa}
img{max-width:100%;border:1px solid #d0d5da;margin:.3em 0}
.facts td:first-child{width:11em;font-weight:600}
"""


def _e(x: Any) -> str:
    return escape("—" if x is None else str(x))


def _badge(verdict: Any) -> str:
    v = str(verdict)
    return f'<span class="v v-{escape(v)}">{escape(v)}</span>'


def _mark(passed: Any) -> str:
    if passed is True:
        return '<span class="ok">✓</span>'
    return '<span class="bad">✗</span>' if passed is False else "·"


def _facts_table(facts: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in facts.items())
    return f'<table class="facts">{rows}</table>'


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(d, list) and all(not isinstance(x, (dict, list)) for x in d):
        return {prefix: " ".join(str(x) for x in d)}
    return {prefix: json.dumps(d) if isinstance(d, list) else d}


def _image(out: Path, plot: dict[str, str]) -> str:
    path = out / plot["path"]
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return f'<p class="bad">plot {_e(plot["path"])} is missing</p>'
    return (
        f'<figure><img alt="{_e(plot["path"])}" src="data:image/png;base64,{data}">'
        f'<figcaption class="muted"><code>{_e(plot["path"])}</code> sha256 <code>{_e(plot.get("sha256"))}'
        f"</code></figcaption></figure>"
    )


def _checks_table(e: dict[str, Any]) -> str:
    rows = []
    for row in check_rows(e):
        claim, control = row["claim"], row["control"]
        ctext = (
            "—"
            if control is None
            else f'{_mark(control["passed"])} {_e(control["value"])}<div class="muted">{_e(control["detail"])}</div>'
        )
        why = f'<div class="muted">why: {_e(row["why"])}</div>' if row["why"] else ""
        rows.append(
            f"<tr><td><code>{_e(row['metric'])}</code> {_e(row['rule'])}{why}</td>"
            f"<td>{_e(row['expected'])}</td><td>{_e(row['tolerance'])}</td>"
            f"<td>{_mark(claim['passed'])} {_e(claim['value'])}"
            f'<div class="muted">{_e(claim["detail"])}</div></td>'
            f"<td>{ctext}</td></tr>"
        )
    head = (
        "<tr><th>check</th><th>expected</th><th>tolerance</th><th>claim: measured</th>"
        "<th>control: measured (must fail)</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _property(prop: dict[str, Any] | None, side: str) -> str:
    if not prop:
        return ""
    counter = prop.get("counterexample")
    return (
        f"<p><b>{side} property</b>: hypothesis seed <code>{_e(prop.get('seed'))}</code>, "
        f"{_e(prop.get('examples'))} distinct points evaluated"
        + (f" ({_e(prop.get('calls'))} calls)" if prop.get("calls") else "")
        + "; shrunk counterexample: "
        + (f"<code>{_e(json.dumps(counter))}</code>" if counter else "none")
        + "</p>"
    )


def _section(e: dict[str, Any], out: Path, current: str) -> str:
    src = e.get("source") or {}
    link = f' <a href="{_e(src["url"])}">{_e(src["url"])}</a>' if src.get("url") else ""
    stale = (
        (f' <span class="stale">stale: obtained under code {_e(e.get("code_version"))}, current {_e(current)}</span>')
        if is_stale(e, current)
        else ""
    )
    cached = e.get("cached") or (e.get("control") or {}).get("cached")
    errors = "".join(
        f'<p class="bad">{side} error: <code>{_e(s["error"])}</code></p>'
        for side, s in (("claim", e), ("control", e.get("control")))
        if s and s.get("error")
    )
    prov = e.get("provenance") or {}
    parts = [
        f'<section id="{_e(e["id"])}"><h2>{_e(e["id"])} {_badge(e.get("verdict"))}{stale}</h2>',
        f"<p><b>{_e(e.get('title'))}</b></p><blockquote>{_e(e.get('claim'))}</blockquote>",
        f"<p><i>Null:</i> {_e(e['null'])}</p>" if e.get("null") else "",
        f"<p>Source: {_e(src.get('paper'))}, <i>{_e(src.get('section'))}</i>.{link}</p>",
        f"<p>Control: {_e(control_text(e))} · {'from cache' if cached else 'computed'} · "
        f"{float(e.get('seconds') or 0):.1f} s · obtained {_e(e.get('obtained_utc'))}</p>",
        f"<p>Reproduce: <code>{_e(e.get('reproduce'))}</code></p>",
        errors,
        _checks_table(e),
        _property(e.get("property"), "Claim"),
        _property((e.get("control") or {}).get("property"), "Control"),
        "".join(_image(out, p) for p in e.get("plots") or []),
        f"<details><summary>claim provenance</summary><pre>{_e(json.dumps(prov, indent=1))}</pre></details>",
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def _diff_section(d: Diff, baseline: str) -> str:
    rows = "".join(f"<tr><td>{_e(i)}</td><td>{_badge(b)}</td><td>{_badge(a)}</td></tr>" for i, b, a in d.verdicts)
    changed = [c for c in d.checks if c.changed]
    crows = "".join(
        f"<tr><td>{_e(c.id)}</td><td>[{c.index}] <code>{_e(c.metric)}</code> {_e(c.rule)}</td>"
        f"<td>{_e(change_text(c))}</td></tr>"
        for c in changed
    )
    return (
        f'<section id="baseline-diff"><h2>Against the baseline</h2><p>Baseline <code>{_e(baseline)}</code>: '
        f"{len(d.verdicts)} verdict(s) changed, {len(changed)} of {len(d.checks)} checks changed beyond "
        f"tolerance or redefined; new: {_e(', '.join(d.added) or 'none')}; gone: "
        f"{_e(', '.join(d.removed) or 'none')}.</p>"
        + (f"<table><tr><th>claim</th><th>before</th><th>after</th></tr>{rows}</table>" if rows else "")
        + (f"<table><tr><th>claim</th><th>check</th><th>before → after</th></tr>{crows}</table>" if crows else "")
        + "</section>"
    )


def html_report(
    doc: dict[str, Any], out: Path, results_sha256: str = "", diff: Diff | None = None, baseline: str = ""
) -> str:
    """The report as one HTML string (plots read from OUT and embedded)."""
    entries = doc.get("results", [])
    current = code_version()
    facts = header_facts(doc)
    index = "".join(
        f'<tr><td><a href="#{_e(e["id"])}">{_e(e["id"])}</a></td><td>{_badge(e.get("verdict"))}'
        f"{' <span class=stale>stale</span>' if is_stale(e, current) else ''}</td>"
        f"<td>{_e(control_text(e))}</td><td>{_e(side_verdict(e.get('control')))}</td>"
        f"<td>{_e((e.get('source') or {}).get('paper'))}</td><td>{float(e.get('seconds') or 0):.1f}</td></tr>"
        for e in entries
    )
    prov = _flatten(doc.get("provenance") or {})
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                "<title>superposition-lab report</title>",
                f"<style>{_CSS}</style></head><body>",
                "<h1>superposition-lab reproducibility report</h1>",
                f"<p><b>{_e(facts['verdicts'])}</b></p>",
                _facts_table(
                    {k: v for k, v in facts.items() if k != "verdicts"} | {"results.json sha256": results_sha256 or "—"}
                ),
                _diff_section(diff, baseline) if diff is not None else "",
                "<h2>Claims</h2><table><tr><th>claim</th><th>verdict</th><th>control</th><th>control verdict</th>"
                f"<th>source</th><th>seconds</th></tr>{index}</table>",
                *(_section(e, out, current) for e in entries),
                '<section id="provenance"><h2>Provenance</h2><table>'
                + "".join(f"<tr><td><code>{_e(k)}</code></td><td>{_e(v)}</td></tr>" for k, v in prov.items())
                + "</table></section>",
                "</body></html>",
            ]
        )
        + "\n"
    )


def write_html(
    doc: dict[str, Any], out: Path, results_sha256: str = "", diff: Diff | None = None, baseline: str = ""
) -> Path:
    """Write OUT/report.html (atomically)."""
    text = html_report(doc, Path(out), results_sha256, diff, baseline)
    return write_text(Path(out) / "report.html", text)
