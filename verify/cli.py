"""The `superposition-lab` command: list, check-specs, verify, report, diff, new, metrics.

Exit codes: 0 every claim passed, 1 a claim failed (or errored while running), 2 bad input
(a spec that does not validate, an unknown id or tag, a bad option). Never a raw traceback for
bad input: errors read `file: dotted.field: reason`. `diff OLD NEW` exits 1 when a verdict changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from superposition_lab.train import resolve_device
from verify import cli_help, metrics_doc, outputs, provenance, report
from verify.diff import diff_docs, diff_text
from verify.errors import SpecErrors, did_you_mean
from verify.executors import ExecutorSettings, ExecutorUnavailable, add_options, make_executor
from verify.files import writable_dir
from verify.judgement import SpecResult, expected_verdict
from verify.loading import load_specs
from verify.registry import UnknownName
from verify.results_io import last_verdicts, load_results, results_path
from verify.runner import run
from verify.scaffold import write_scaffold
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
    """A rich progress bar per spec side (claim, control) while it trains; with a parallel executor,
    one bar over every job (`start(None, …)`)."""

    def __init__(self, progress: Progress) -> None:
        self.bar = progress
        self.task: TaskID | None = None
        self.label = ""
        self.overall = False

    def start(self, spec: Spec | None, side: str) -> None:
        if self.task is not None:
            self.bar.update(self.task, visible=False)
        self.overall = spec is None  # one bar for the whole run: it stays until the end
        self.label = f"{spec.id} ({side})" if spec is not None else side
        self.task = self.bar.add_task(self.label, total=None)

    def progress(self, advance: int, total: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, total=total, advance=advance)

    def done(self, result: SpecResult) -> None:
        if self.task is not None and not self.overall:
            self.bar.update(self.task, visible=False)
            self.task = None
        mark = {
            "pass": "[green]pass[/]",
            "fail": "[red]FAIL[/]",
            "refuted": "[magenta]refuted[/]",
            "error": "[yellow]ERROR[/]",
        }.get(result.verdict, result.verdict.upper())
        self.bar.console.print(f"{mark}  {result.spec.id}  ({result.seconds:.1f} s)")


def _run_and_write(args: argparse.Namespace, specs: list[Spec], show_table: bool) -> int:
    settings = ExecutorSettings.from_args(args)
    problems = settings.problems() + [p for p in [settings.device_problem(args.device)] if p]
    if problems:
        raise BadInput("; ".join(problems))
    if settings.name == "local":  # a Ray worker resolves the device itself
        try:
            resolve_device(args.device)
        except RuntimeError as exc:
            raise BadInput(str(exc)) from None

    out = Path(args.out)
    why = writable_dir(out)
    if why:
        raise BadInput(f"--out {out}: {why}")
    baseline = getattr(args, "baseline", None)
    if baseline and not results_path(baseline).exists():
        raise BadInput(f"--baseline {baseline}: no results.json there")
    provenance.start_session(argv=sys.argv, profile=args.profile, device=args.device)
    con = report.console()
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    try:
        executor, in_flight = make_executor(settings)
    except ExecutorUnavailable as exc:
        raise BadInput(str(exc)) from None
    try:
        with Progress(*columns, console=con, transient=True, disable=not sys.stderr.isatty()) as bar:
            results = run(
                specs,
                profile=args.profile,
                device=settings.device(args.device),
                out=out,
                use_cache=not getattr(args, "no_cache", False),
                reporter=_ProgressReporter(bar),
                on_result=lambda so_far: report.write_results(so_far, out),  # a partial report
                executor=executor,
                max_in_flight=in_flight,
                threads_per_job=settings.threads if settings.in_workers else None,
            )
    except KeyboardInterrupt:
        _err(f"interrupted — finished runs are cached in {out / 'cache'}; run the same command to resume")
        return 130
    finally:
        executor.shutdown()
    if show_table:
        report.print_table(results, con)
    try:
        paths = outputs.write_all(results, out, baseline)
    except ValueError as exc:  # an unreadable baseline
        raise BadInput(str(exc)) from None
    _err("wrote " + ", ".join(str(p) for p in paths))
    return EXIT_PASS if all(r.verdict == expected_verdict(r.spec) for r in results) else EXIT_FAIL


def cmd_verify(args: argparse.Namespace) -> int:
    specs = _select(args.specs_or_ids, args.tag, args.specs)
    if not specs:
        raise BadInput("no spec matches")
    return _run_and_write(args, specs, show_table=True)


def cmd_report(args: argparse.Namespace) -> int:
    return _run_and_write(args, _select([], args.tag, args.specs), show_table=False)


def cmd_diff(args: argparse.Namespace) -> int:
    try:
        d = diff_docs(load_results(args.old), load_results(args.new))
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    print(diff_text(d, only_changed=args.changed), end="")
    return EXIT_FAIL if d.verdict_changed else EXIT_PASS


def cmd_check_specs(args: argparse.Namespace) -> int:
    specs = load_specs(args.paths or [args.specs])
    _err(f"{len(specs)} spec(s) OK")
    return EXIT_PASS


def cmd_list(args: argparse.Namespace) -> int:
    specs = _select([], args.tag, args.specs)
    last: dict[str, str] = {}
    try:
        last = last_verdicts(args.out)  # "pass (quick)", "stale" where the code changed since
    except (ValueError, KeyError, TypeError):
        _err(f"warning: {results_path(args.out)} is unreadable; last verdicts not shown")
    table = Table(title="claims")
    for col in ("id", "title", "source", "tags", "last verdict"):
        table.add_column(col, overflow="fold")
    for s in specs:
        table.add_row(s.id, s.title, f"{s.source.paper} — {s.source.section}", ", ".join(s.tags), last.get(s.id, "—"))
    report.console().print(table)
    return EXIT_PASS


def cmd_new(args: argparse.Namespace) -> int:
    if not ID_PATTERN.match(args.id):
        raise BadInput(f"id {args.id!r}: use lower-case words separated by '.' or '-', e.g. tms.my-claim")
    try:
        path = write_scaffold(args.id, args.specs)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    _err(f"wrote {path} — it passes as written; edit it, then: superposition-lab check-specs {path}")
    return EXIT_PASS


def cmd_metrics(args: argparse.Namespace) -> int:
    try:
        chosen = metrics_doc.kinds(args.kind)
    except UnknownName as exc:
        raise BadInput(str(exc)) from None
    print("\n\n".join("\n".join(metrics_doc.metric_lines(k)) for k in chosen))
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
            add_options(sp)

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
    sp.add_argument("--baseline", metavar="PATH", help="results.json or out/ folder to diff against in report.html")
    sp.set_defaults(fn=cmd_verify)
    sp = sub.add_parser("report", help="report.html, report.md, plots and junit.xml (runs what is not cached)")
    common(sp, run=True)
    sp.add_argument("--baseline", metavar="PATH", help="results.json or out/ folder to diff against in report.html")
    sp.set_defaults(fn=cmd_report)
    sp = sub.add_parser("new", help="scaffold a spec file with every field commented")
    sp.add_argument("id")
    sp.add_argument("--specs", default="specs")
    sp.set_defaults(fn=cmd_new)
    sp = sub.add_parser("diff", help="compare two runs: verdicts, measured values against tolerances")
    sp.add_argument("old", help="results.json or out/ folder")
    sp.add_argument("new", help="results.json or out/ folder")
    sp.add_argument("--changed", action="store_true", help="list only the checks that changed")
    sp.set_defaults(fn=cmd_diff)
    sp = sub.add_parser("metrics", help="each experiment kind's metrics with their meaning")
    sp.add_argument("kind", nargs="?", help="one experiment kind (default: all)")
    sp.set_defaults(fn=cmd_metrics)
    cli_help.decorate(p)
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
    except OSError as exc:  # a folder or file we cannot use: one line, not a traceback
        _err(f"error: {exc.filename or ''}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
