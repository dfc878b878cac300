"""Everything a run writes into OUT, in order: plots, results.json (merged, with its sha256
sidecar), report.md, report.html (with the diff against a baseline run when given), junit.xml, and
the GitHub step summary when $GITHUB_STEP_SUMMARY is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verify.diff import Diff, diff_docs
from verify.files import sha256_file
from verify.judgement import SpecResult
from verify.junit import write_junit
from verify.report import write_report
from verify.report_html import write_html
from verify.results_io import load_results, write_results
from verify.step_summary import append_step_summary
from verify.validation import experiment_kind

__all__ = ["make_plots", "write_all", "baseline_diff"]


def make_plots(results: list[SpecResult], out: Path) -> dict[str, list[dict[str, str]]]:
    """Each result's figures in OUT/plots: spec id → [{"path": relative to OUT, "sha256": …}]."""
    plots: dict[str, list[dict[str, str]]] = {}
    for r in results:
        kind = experiment_kind(r.spec)
        if kind.plot is None or r.outcome is None:
            continue
        plot_dir = out / "plots"
        plot_dir.mkdir(parents=True, exist_ok=True)
        plots[r.spec.id] = [
            {"path": p.relative_to(out).as_posix(), "sha256": sha256_file(p)}
            for p in kind.plot(r.outcome, r.config, plot_dir, r.spec.id)
        ]
    return plots


def baseline_diff(baseline: str | Path, doc: dict[str, Any]) -> Diff:
    """The diff from a baseline run (results.json or output folder) to `doc`; ValueError if unreadable."""
    return diff_docs(load_results(baseline), doc)


def write_all(results: list[SpecResult], out: Path, baseline: str | Path | None = None) -> list[Path]:
    """Write every output of a run; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = write_results(results, out, make_plots(results, out))
    doc = load_results(path)
    digest = sha256_file(path)
    diff = baseline_diff(baseline, doc) if baseline else None
    paths = [
        path,
        write_report(doc, out, digest),
        write_html(doc, out, digest, diff, str(baseline or "")),
        write_junit(doc, out),
    ]
    summary = append_step_summary(doc)
    return paths + ([summary] if summary else [])
