"""What `superposition-lab <command> --help` says: a description, the exit codes and examples.

Kept apart from verify/cli.py (which builds the parser and runs the commands) so that the words
can grow without crowding the code; `decorate(parser)` fills in every subcommand it knows.
"""

from __future__ import annotations

import argparse
import textwrap

__all__ = ["EXIT_CODES", "HELP", "decorate"]

EXIT_CODES = """exit codes:
  0  every claim passed (its checks hold and its control fails)
  1  a claim failed, or errored while running (e.g. NaN in a judged value, a diverged run)
  2  bad input: a spec that does not validate, an unknown id or tag, a bad option or folder"""

# command → (description, examples)
HELP: dict[str, tuple[str, str]] = {
    "list": (
        "List the claims in --specs with their sources, tags and the last verdict recorded in --out/results.json.",
        "  superposition-lab list\n  superposition-lab list --tag sae",
    ),
    "check-specs": (
        "Validate spec files without training anything: every problem of every file is printed "
        "as `file: dotted.field: reason`, one line each, including what an experiment would "
        "need in memory and arithmetic (limits: SUPERPOSITION_LAB_MAX_GIB, "
        "SUPERPOSITION_LAB_MAX_FLOP).",
        "  superposition-lab check-specs\n  superposition-lab check-specs specs/tms.pentagon.toml\n"
        "  superposition-lab check-specs --specs path/to/specs",
    ),
    "verify": (
        "Run and judge claims (all in --specs unless ids, paths or --tag select some), print the "
        "pass/fail table, and write results.json (after each claim, so an interrupted run leaves a "
        "valid partial report), report.md, plots and junit.xml into --out. Finished runs are cached "
        "in --out/cache, keyed by experiment, profile, device and code: a rerun trains only what "
        "changed.",
        "  superposition-lab verify --profile quick\n  superposition-lab verify tms.linear-top-m\n"
        "  superposition-lab verify specs/my.toml --out /tmp/out --no-cache\n"
        "  superposition-lab verify --tag sae --profile full --device cuda",
    ),
    "report": (
        "Write report.md, plots and junit.xml from cached results (running whatever is not cached).",
        "  superposition-lab report\n  superposition-lab report --tag tms --out out",
    ),
    "new": (
        "Scaffold --specs/ID.toml: a tiny real claim with every field commented, which passes as "
        "written with its control failing (about a second of training). Edit it into your claim.",
        "  superposition-lab new tms.my-claim\n  superposition-lab new sae.my-claim --specs /tmp/specs",
    ),
    "metrics": (
        "List each experiment kind's metrics (the names a [[check]] may use) with their meaning; "
        "README.md's metric tables are generated from the same registry.",
        "  superposition-lab metrics\n  superposition-lab metrics toy",
    ),
    "diff": (
        "Compare two runs' results.json: verdicts, and measured values against their tolerances.",
        "  superposition-lab diff old/out out\n  superposition-lab diff a/results.json b/results.json --changed",
    ),
}


def _epilog(examples: str) -> str:
    return f"examples:\n{examples}\n\n{EXIT_CODES}"


def decorate(parser: argparse.ArgumentParser) -> None:
    """Give the top-level parser and each known subcommand a description, exit codes and examples."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _epilog("\n".join(ex.splitlines()[0] for _, ex in HELP.values()))
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            if name in HELP:
                description, examples = HELP[name]
                sub.description = textwrap.fill(description, 78)
                sub.epilog = _epilog(examples)
                sub.formatter_class = argparse.RawDescriptionHelpFormatter
