"""The claim table of README.md, rendered from specs/ so it cannot drift from the spec files.

One row per spec: id, source (paper — section), status (supported or refuted), what it claims (the
title) and its null (what a model without the mechanism measures). README.md holds it between the
markers `<!-- claims:start -->` and `<!-- claims:end -->`; regenerate with `python -m verify.claims_doc`
(tests/verify/test_claims_doc.py fails when it is out of date).
"""

from __future__ import annotations

import sys
from pathlib import Path

from verify.loading import load_specs
from verify.metrics_doc import README, replace_section
from verify.spec import Spec

__all__ = ["START", "END", "SPECS", "markdown", "update_readme"]

START, END = "<!-- claims:start -->", "<!-- claims:end -->"
SPECS = Path(__file__).resolve().parent.parent / "specs"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _paper(spec: Spec) -> str:
    paper = spec.source.paper
    return "TMS" if paper == "Toy Models of Superposition" else paper.split(",")[0].split("(")[0].strip()


def markdown(specs_dir: Path = SPECS) -> str:
    """The table: claim | source | status | what it says | null."""
    specs = sorted(load_specs([specs_dir]), key=lambda s: s.id)
    refuted = sum(s.status == "refuted" for s in specs)
    lines = [
        f"{len(specs)} claims ({len(specs) - refuted} supported, {refuted} refuted), one file each in `specs/`.",
        "",
        "| claim | source | status | what it says | null (without the mechanism) |",
        "|---|---|---|---|---|",
    ]
    for s in specs:
        status = "**refuted**" if s.status == "refuted" else "supported"
        lines.append(
            f"| `{s.id}` | {_cell(_paper(s))} — {_cell(s.source.section)} | {status} | {_cell(s.title)} | "
            f"{_cell(s.null)} |"
        )
    return "\n".join(lines) + "\n"


def update_readme(path: Path = README, specs_dir: Path = SPECS) -> bool:
    """Rewrite the README's claim table from the spec files; True if it changed."""
    return replace_section(path, markdown(specs_dir), START, END)


if __name__ == "__main__":
    changed = update_readme()
    print(f"{'updated' if changed else 'already up to date'}: claims section of README.md", file=sys.stderr)
