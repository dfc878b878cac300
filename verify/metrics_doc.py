"""Every experiment kind's metrics with their one-line docs, from the registry — for the terminal
(`superposition-lab metrics [KIND]`) and for README.md, whose section between the markers
`<!-- metrics:start -->` and `<!-- metrics:end -->` is rendered here, so it cannot drift from the code.

Regenerate the README section with `python -m verify.metrics_doc` (tests/verify/test_metrics_doc.py
fails when it is out of date).
"""

from __future__ import annotations

import sys
from pathlib import Path

from verify import catalog
from verify.kind import ExperimentKind
from verify.registry import EXPERIMENTS

__all__ = ["START", "END", "kinds", "metric_lines", "markdown", "update_readme", "readme_section", "replace_section"]

START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"

catalog.load()  # the kinds register themselves when their modules load


def kinds(name: str | None = None) -> list[ExperimentKind]:
    """All registered kinds, or the one named (UnknownName, with a suggestion, if there is none)."""
    if name is not None:
        return [EXPERIMENTS.get(name, "experiment kind")]
    return [kind for _, kind in sorted(EXPERIMENTS.items())]


def _doc(text: str) -> str:
    return " ".join(text.split())


def metric_lines(kind: ExperimentKind) -> list[str]:
    """'kind — doc' then one indented 'name  doc' line per metric (sweep-wide ones marked)."""
    width = max((len(n) for n in kind.metrics), default=0)
    lines = [f"{kind.name} — {_doc(kind.doc)}" if kind.doc else kind.name]
    for name, metric in kind.metrics.items():
        mark = " [sweep-wide]" if metric.sweep_wide else ""
        lines.append(f"  {name:<{width}}  {_doc(metric.doc)}{mark}")
    return lines


def markdown() -> str:
    """The README section: one table per kind, metric | meaning."""
    parts = []
    for kind in kinds():
        parts += [f"**`{kind.name}`** — {_doc(kind.doc)}", "", "| metric | meaning |", "|---|---|"]
        for name, metric in kind.metrics.items():
            doc = _doc(metric.doc).replace("|", "\\|") + (" (sweep-wide: once per seed)" if metric.sweep_wide else "")
            parts.append(f"| `{name}` | {doc} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def readme_section(text: str, start: str = START, end: str = END) -> str:
    """What README.md holds between the markers (ValueError when they are missing)."""
    if start not in text or end not in text:
        raise ValueError(f"README has no {start} … {end} section")
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def replace_section(path: Path, body: str, start: str = START, end: str = END) -> bool:
    """Rewrite the part of the file at `path` between the markers with `body`; True if it changed."""
    text = path.read_text(encoding="utf-8")
    readme_section(text, start, end)  # the markers must be there
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    new = f"{head}{start}\n{body}{end}{tail}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def update_readme(path: Path = README) -> bool:
    """Rewrite the README's metrics section from the registry; True if it changed."""
    return replace_section(path, markdown())


if __name__ == "__main__":
    changed = update_readme(Path(sys.argv[1]) if len(sys.argv) > 1 else README)
    print(f"{'updated' if changed else 'already up to date'}: metrics section of README.md", file=sys.stderr)
