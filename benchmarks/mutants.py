"""Mutation check: does every pass mean something? Plant each deliberate bug and see who notices.

    python benchmarks/mutants.py                         # every mutant (~30–40 min on 2 busy cores)
    python benchmarks/mutants.py --only topk-k-plus-1    # one (repeat --only for more)
    python benchmarks/mutants.py --list                  # the mutants, what they break, who should catch them

A mutant (`benchmarks/mutant_list.py`) is a deliberate bug in the lab, the closed forms or the
experiment code, written as exact snippet replacements. For each one this script copies the working
tree's files (`git ls-files`: tracked plus untracked-but-not-ignored, snapshotted once at the start;
`--head PATH` takes a file as committed instead; the working tree itself is never edited) into a
temporary folder, applies the edits there, and runs in that copy

1. the specs the mutant names: `python -m verify.cli verify <ids> --profile quick --no-cache`;
2. the unit tests it names: `python -m pytest <files>`.

The mutant is KILLED when a named spec's verdict is not the one its status expects ("pass", or
"refuted" for a refuted claim: a fail or an error instead) or a unit test fails,
and SURVIVES otherwise. The kill table is printed and written as markdown (`--md`, default
`out/mutants.md`; the README's "Mutation check" section pastes it). Exit code 0 when every mutant is
killed, 1 when one survives or could not be applied.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mutant_list import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """What happened to one mutant: verdicts of its specs, failed tests, and the time it took."""

    mutant: Mutant
    verdicts: dict[str, str] = field(default_factory=dict)  # spec id → pass (as expected) | fail | error | missing
    failed_tests: list[str] = field(default_factory=list)
    tests_rc: int | None = None
    problem: str = ""  # a snippet that did not apply, a timeout, …
    seconds: float = 0.0

    @property
    def spec_killers(self) -> list[str]:
        return [s for s, v in self.verdicts.items() if v != "pass"]

    @property
    def killed(self) -> bool:
        return bool(self.spec_killers) or bool(self.failed_tests) or self.tests_rc in (1, 2)

    @property
    def status(self) -> str:
        if self.problem and not self.killed:
            return "ERROR"
        return "killed" if self.killed else "SURVIVED"


def repo_files(root: Path = ROOT) -> list[str]:
    """The working tree's files: tracked plus untracked ones git does not ignore (that still exist)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted({name for name in out.split("\0") if name and (root / name).is_file()})


def copy_tree(dest: Path, files: list[str], root: Path = ROOT) -> None:
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)


def snapshot(dest: Path, files: list[str], head: list[str], root: Path = ROOT) -> None:
    """The working tree's `files` in `dest`, the paths in `head` as committed (to leave out someone's
    half-done edit); SystemExit unless the unmutated snapshot imports (every mutant would 'die')."""
    copy_tree(dest, files, root)
    for name in head:
        committed = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=root, check=True, capture_output=True)
        (dest / name).write_bytes(committed.stdout)
    proc = subprocess.run(
        [sys.executable, "-c", "import verify.cli, verify.catalog"], cwd=dest, env=_env(dest), capture_output=True
    )
    if proc.returncode:
        raise SystemExit(f"the unmutated snapshot does not import:\n{proc.stderr.decode()[-2000:]}")


def apply(mutant: Mutant, copy: Path) -> None:
    """Apply the mutant's edits in `copy`; ValueError unless each snippet occurs exactly once."""
    for edit in mutant.edits:
        path = copy / edit.path
        text = path.read_text(encoding="utf-8")
        count = text.count(edit.old)
        if count != 1:
            raise ValueError(f"{mutant.name}: {edit.path}: snippet found {count} times (need 1): {edit.old!r}")
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    env.pop("GITHUB_STEP_SUMMARY", None)
    return env


def run_specs(mutant: Mutant, copy: Path, timeout: float, keep: Path | None = None) -> dict[str, str]:
    """Verdict per named spec in the mutated copy ("missing" if the run left none); the run's
    results.json is kept as `keep/<mutant>.json` when `keep` is given (the measured values)."""
    out = copy / "out-mutant"
    cmd = [sys.executable, "-m", "verify.cli", "verify", *mutant.specs, "--profile", "quick", "--out", str(out)]
    subprocess.run(
        [*cmd, "--no-cache"], cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=timeout, check=False
    )
    verdicts = dict.fromkeys(mutant.specs, "missing")
    results = out / "results.json"
    if keep is not None and results.is_file():
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy2(results, keep / f"{mutant.name}.json")
    if results.is_file():
        for entry in json.loads(results.read_text(encoding="utf-8"))["results"]:
            if entry["id"] in verdicts:
                # a verdict other than the expected one (pass, or refuted for a refuted claim) kills
                expected = entry.get("expected_verdict", "pass")
                verdicts[entry["id"]] = "pass" if entry["verdict"] == expected else entry["verdict"]
    return verdicts


def run_tests(mutant: Mutant, copy: Path, timeout: float) -> tuple[int, list[str]]:
    """pytest's exit code and the failed test ids for the named unit tests in the mutated copy."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "-m", "not suite", *mutant.tests]
    proc = subprocess.run(cmd, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=timeout, check=False)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, flags=re.M)
    return proc.returncode, failed


def check(
    mutant: Mutant, base: Path, files: list[str], *, specs: bool, tests: bool, timeout: float, keep: Path | None
) -> Result:
    """Copy the snapshot `base`, mutate, run; the copy is removed afterwards."""
    result, start = Result(mutant), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        copy = Path(tmp)
        copy_tree(copy, files, base)
        try:
            apply(mutant, copy)
            if tests:
                result.tests_rc, result.failed_tests = run_tests(mutant, copy, timeout)
                if result.tests_rc not in (0, 1, 2):  # 2: collection failed (the mutant broke an import)
                    result.problem = f"pytest exit code {result.tests_rc}"
            if specs:
                result.verdicts = run_specs(mutant, copy, timeout, keep)
        except (ValueError, subprocess.TimeoutExpired) as exc:
            result.problem = str(exc).splitlines()[0]
    result.seconds = time.perf_counter() - start
    return result


def _short(test_id: str) -> str:
    return test_id.rsplit("/", 1)[-1]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(results: list[Result]) -> str:
    """The kill table as markdown."""
    lines = [
        "| mutant | what it breaks | guard | specs (quick) | unit tests | killed by | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        specs = ", ".join(f"`{s}` {v}" for s, v in r.verdicts.items()) or "—"
        if r.tests_rc is None:
            tests = "—"
        else:
            tests = f"{len(r.failed_tests)} failed" if r.failed_tests or r.tests_rc else "pass"
        killers = [f"`{s}`" for s in r.spec_killers] + [f"`{_short(t)}`" for t in r.failed_tests[:3]]
        if len(r.failed_tests) > 3:
            killers.append(f"(+{len(r.failed_tests) - 3} tests)")
        status = r.status + (f" ({r.problem})" if r.problem else "")
        lines.append(
            f"| `{r.mutant.name}` | {_cell(r.mutant.breaks)} | {r.mutant.guard} | {specs} | {tests} | "
            f"{' '.join(killers) or '—'} | {status} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this mutant (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (each runs its specs and tests)")
    parser.add_argument("--no-specs", action="store_true", help="run only the unit tests")
    parser.add_argument("--no-tests", action="store_true", help="run only the specs")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per spec run and per test run")
    parser.add_argument("--md", type=Path, default=ROOT / "out" / "mutants.md", help="where the markdown table goes")
    parser.add_argument(
        "--head", action="append", default=[], metavar="PATH", help="take this file as committed (repeatable)"
    )
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep each mutant's results.json as DIR/<name>.json")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    unknown = set(args.only) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"unknown mutant(s): {', '.join(sorted(unknown))} (see --list)")
    if args.list:
        for m in chosen:
            print(f"{m.name:26} [{m.guard}] {m.breaks}")
            print(f"{'':29}specs: {', '.join(m.specs)}\n{'':29}tests: {', '.join(m.tests)}")
        return 0
    files, results = repo_files(), []
    with (
        tempfile.TemporaryDirectory(prefix="mutants-base-") as base,
        concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool,
    ):
        snapshot(Path(base), files, args.head)  # one snapshot: later edits of the working tree do not leak in
        run = dict(specs=not args.no_specs, tests=not args.no_tests, timeout=args.timeout, keep=args.keep)
        futures = [pool.submit(check, m, Path(base), files, **run) for m in chosen]
        for future in futures:
            r = future.result()
            results.append(r)
            killers = " ".join(r.spec_killers + [_short(t) for t in r.failed_tests])
            print(f"{r.mutant.name:26} {r.status:9} {r.seconds:6.0f} s  {killers} {r.problem}", flush=True)
    md = table(results)
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(md, encoding="utf-8")
    print("\n" + md + f"\nwrote {args.md}")
    return 0 if all(r.killed and not r.problem for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
