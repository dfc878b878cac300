"""The `superposition-lab` command: list, check-specs, verify, report, new.

Exit codes: 0 every claim passed, 1 a claim failed (or errored while running), 2 bad input
(a spec that does not validate, an unknown id or tag, a bad option). Never a raw traceback for
bad input: errors read `file: dotted.field: reason`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from superposition_lab.train import resolve_device
from verify import report
from verify.errors import SpecErrors, did_you_mean
from verify.loading import load_specs
from verify.runner import SpecResult, run
from verify.spec import ID_PATTERN, PROFILES, Spec

__all__ = ["main"]

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    pass


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _select(targets: list[str], tags: list[str], specs_dir: str) -> list[Spec]:
    """Specs named by file/folder paths or ids (ids are looked up in specs_dir), filtered by tags."""
    paths = [t for t in targets if Path(t).exists() or t.endswith(".toml")]
    ids = [t for t in targets if t not in paths]
    specs = load_specs(paths) if paths else []
    if ids or not paths:
        everything = load_specs([specs_dir])
        if ids:
            by_id = {s.id: s for s in everything}
            for i in ids:
                if i not in by_id:
                    raise BadInput(did_you_mean(i, tuple(by_id), "spec id"))
                specs.append(by_id[i])
        else:
            specs = everything
    if tags:
        known = {t for s in specs for t in s.tags}
        for t in tags:
            if t not in known:
                raise BadInput(did_you_mean(t, tuple(known), "tag"))
        specs = [s for s in specs if any(t in s.tags for t in tags)]
    return specs


class _ProgressReporter:
    """A rich progress bar per spec side (claim, control) while it trains."""

    def __init__(self, progress: Progress) -> None:
        self.bar = progress
        self.task: TaskID | None = None
        self.label = ""

    def start(self, spec: Spec, side: str) -> None:
        if self.task is not None:
            self.bar.update(self.task, visible=False)
        self.label = f"{spec.id} ({side})"
        self.task = self.bar.add_task(self.label, total=None)

    def progress(self, advance: int, total: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, total=total, advance=advance)

    def done(self, result: SpecResult) -> None:
        if self.task is not None:
            self.bar.update(self.task, visible=False)
            self.task = None
        mark = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "error": "[yellow]ERROR[/]"}[result.verdict]
        self.bar.console.print(f"{mark}  {result.spec.id}  ({result.seconds:.1f} s)")


def _run_and_write(args: argparse.Namespace, specs: list[Spec], show_table: bool) -> int:
    try:
        resolve_device(args.device)
    except RuntimeError as exc:
        raise BadInput(str(exc)) from None

    out = Path(args.out)
    con = report.console()
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    try:
        with Progress(*columns, console=con, transient=True, disable=not sys.stderr.isatty()) as bar:
            results = run(specs, profile=args.profile, device=args.device, out=out,
                          use_cache=not getattr(args, "no_cache", False), reporter=_ProgressReporter(bar))
    except KeyboardInterrupt:
        _err(f"interrupted — finished runs are cached in {out / 'cache'}; run the same command to resume")
        return 130
    if show_table:
        report.print_table(results, con)
    paths = [report.write_results(results, out), report.write_report(results, out), report.write_junit(results, out)]
    _err("wrote " + ", ".join(str(p) for p in paths))
    return EXIT_PASS if all(r.verdict == "pass" for r in results) else EXIT_FAIL


def cmd_verify(args: argparse.Namespace) -> int:
    specs = _select(args.specs_or_ids, args.tag, args.specs)
    if not specs:
        raise BadInput("no spec matches")
    return _run_and_write(args, specs, show_table=True)


def cmd_report(args: argparse.Namespace) -> int:
    return _run_and_write(args, _select([], args.tag, args.specs), show_table=False)


def cmd_check_specs(args: argparse.Namespace) -> int:
    specs = load_specs(args.paths or [args.specs])
    _err(f"{len(specs)} spec(s) OK")
    return EXIT_PASS


def cmd_list(args: argparse.Namespace) -> int:
    specs = _select([], args.tag, args.specs)
    last: dict[str, str] = {}
    results = Path(args.out) / "results.json"
    if results.exists():
        try:
            last = {r["id"]: f"{r['verdict']} ({r['profile']})" for r in json.loads(results.read_text())}
        except (ValueError, KeyError, TypeError):
            _err(f"warning: {results} is unreadable; last verdicts not shown")
    table = Table(title="claims")
    for col in ("id", "title", "source", "tags", "last verdict"):
        table.add_column(col, overflow="fold")
    for s in specs:
        table.add_row(s.id, s.title, f"{s.source.paper} — {s.source.section}", ", ".join(s.tags),
                      last.get(s.id, "—"))
    report.console().print(table)
    return EXIT_PASS


SCAFFOLD = '''# {id}: one claim, one falsifiable check. Fields you do not set take the defaults in
# verify/experiments/<kind>.py. Any experiment value may differ per profile: {{ quick = …, full = … }}.
id = "{id}"
title = "One line: what the claim says"
claim = "The claim in the source's words, with the numbers; say why each threshold below is what it is."
tags = ["tms"]

[source]
paper = "Toy Models of Superposition"
section = "Demonstrating Superposition"
# url = "https://transformer-circuits.pub/2022/toy_model/index.html"

[experiment]
kind = "toy"                         # toy | loss_decomposition | … (superposition-lab list shows specs)
model = "relu_output"                # linear | relu_output
n_features = 20
n_hidden = 5
importance = {{ geometric = 0.7 }}     # or {{ linear = [1.0, 0.1] }} or {{ uniform = 1.0 }}
sparsity = [0.0, 0.9, 0.99]          # a list is a grid axis; each value is a grid point
seeds = 3                            # independent models per grid point
restarts = 1                         # best-of-k by final loss, per seed
steps = {{ quick = 3000, full = 10000 }}
# lr = 1e-3
# batch_size = 1024
# weight_decay = 0.01
# schedule = "constant"              # constant | linear | cosine
# warmup = 0
# eval_samples = 1048576
# seed = 0

[[check]]
metric = "n_represented"             # see verify/experiments/<kind>.py for the metric table
rule = "at_least"                    # equal | close | at_most | at_least | monotone
expect = 5                           # a number, "experiment.<field>" or "analytic.<module>.<name>"
# rel_tol = 0.0
# abs_tol = 0.0
# reduce = "each"                    # each | median | mean | min | max (across seeds)
# at = {{ sparsity = 0.99 }}           # judge only these grid points
# min_fraction = 0.8                 # instead of "every case": a binomial lower bound on the pass rate
# confidence = 0.9
# axis = "sparsity"                  # monotone only
# direction = "increasing"           # monotone only
why = "Why this threshold: what the source says, and why the control below must fail it."

[control]                            # overrides under which the claim must NOT hold
model = "linear"
'''


def cmd_new(args: argparse.Namespace) -> int:
    if not ID_PATTERN.match(args.id):
        raise BadInput(f"id {args.id!r}: use lower-case words separated by '.' or '-', e.g. tms.my-claim")
    path = Path(args.specs) / f"{args.id}.toml"
    if path.exists():
        raise BadInput(f"{path}: already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCAFFOLD.format(id=args.id))
    _err(f"wrote {path} — edit it, then: superposition-lab check-specs {path}")
    return EXIT_PASS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="superposition-lab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, run: bool) -> None:
        sp.add_argument("--specs", default="specs", help="folder of spec files (default: specs)")
        sp.add_argument("--out", default="out", help="output folder (default: out)")
        sp.add_argument("--tag", action="append", default=[], help="only specs with this tag (repeatable)")
        if run:
            sp.add_argument("--profile", choices=PROFILES, default="quick")
            sp.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")

    sp = sub.add_parser("list", help="the claims, their sources and last verdicts")
    common(sp, run=False)
    sp.set_defaults(fn=cmd_list)
    sp = sub.add_parser("check-specs", help="validate spec files only")
    sp.add_argument("paths", nargs="*", help="files or folders (default: --specs)")
    sp.add_argument("--specs", default="specs")
    sp.set_defaults(fn=cmd_check_specs)
    sp = sub.add_parser("verify", help="run, judge, print the table, write results")
    sp.add_argument("specs_or_ids", nargs="*", metavar="SPEC_ID_OR_PATH")
    common(sp, run=True)
    sp.add_argument("--no-cache", action="store_true", help="recompute even where a cached result exists")
    sp.set_defaults(fn=cmd_verify)
    sp = sub.add_parser("report", help="report.md, plots and junit.xml (runs what is not cached)")
    common(sp, run=True)
    sp.set_defaults(fn=cmd_report)
    sp = sub.add_parser("new", help="scaffold a spec file with every field commented")
    sp.add_argument("id")
    sp.add_argument("--specs", default="specs")
    sp.set_defaults(fn=cmd_new)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad options, 0 on --help
        return int(exc.code or 0)
    try:
        return args.fn(args)
    except SpecErrors as exc:
        for e in exc.errors:
            _err(str(e))
        _err(f"{len(exc.errors)} problem(s) in spec files")
        return EXIT_BAD_INPUT
    except BadInput as exc:
        _err(f"error: {exc}")
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
