"""The GitHub Actions step summary: a compact markdown table appended to $GITHUB_STEP_SUMMARY.

GitHub shows at most 1 MiB per step and no local images, so this is the summary line and one row
per claim (verdict, control, seconds, stale), trimmed to stay under the cap, with the full report
named by its artifact (and linked to the run's page where the run's variables say where it is).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from verify.jobs import code_version
from verify.results_io import is_stale
from verify.summary import control_text, header_facts

__all__ = ["step_summary", "append_step_summary", "MAX_BYTES"]

MAX_BYTES = 1024 * 1024 - 4096  # GitHub's cap is 1 MiB per step; leave room for other steps' lines


def _run_url() -> str:
    env = os.environ
    if all(env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")):
        return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return ""


def step_summary(doc: dict[str, Any], artifact: str = "report-html", limit: int = MAX_BYTES) -> str:
    """The markdown: summary line, table, and where to find report.html — never an image."""
    facts = header_facts(doc)
    url = _run_url()
    where = f"[the run's artifacts]({url}#artifacts)" if url else "the run's artifacts"
    head = [
        f"## superposition-lab: {facts['verdicts']}",
        "",
        f"Profile `{facts['profile']}`, device {facts['device']}, wall time {facts['wall time']}. "
        f"Full report with plots: artifact `{artifact}` (report.html) in {where}.",
        "",
        "| claim | verdict | control | seconds |",
        "|---|---|---|---|",
    ]
    current = code_version()
    rows = [
        f"| {e['id']} | **{e.get('verdict')}**{' (stale)' if is_stale(e, current) else ''} | "
        f"{control_text(e)} | {float(e.get('seconds') or 0):.1f} |"
        for e in doc.get("results", [])
    ]
    parts = ["\n".join(head) + "\n"]
    size = len(parts[0].encode())
    for i, row in enumerate(rows):
        size += len(row.encode()) + 1
        if size > limit - 200:  # room for the closing line
            parts.append(f"\n… {len(rows) - i} more claims in the report.\n")
            break
        parts.append(row + "\n")
    return "".join(parts)


def append_step_summary(doc: dict[str, Any], artifact: str = "report-html") -> Path | None:
    """Append the summary to $GITHUB_STEP_SUMMARY when it is set; returns its path, else None."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(step_summary(doc, artifact) + "\n")
    return Path(target)
