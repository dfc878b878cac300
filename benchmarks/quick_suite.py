"""The quick suite's wall time against issue #16's target (≤ 5 minutes on an idle 2-core machine).

    python benchmarks/quick_suite.py               # trains every quick spec from scratch (~5 min on 2 cores)
    python benchmarks/quick_suite.py --jobs 1      # one job at a time
    python benchmarks/quick_suite.py --from out    # judge a finished run's results.json instead

Runs `superposition-lab verify --profile quick --jobs 2 --no-cache` into a temporary folder (the
README's first command without its cache: nothing reused, nothing of out/ touched) and prints the
wall time, the claims' own times added up (they overlap with two jobs), the statuses, and the
target as met / NOT met. The target is for an idle machine, so the load average before the run is
printed beside it: a run that starts on a busy machine (over 0.5 per core) says so instead of being
judged. A failing run prints the end of the suite's output. `--from DIR` reads DIR/results.json,
whose wall time is not recorded: only the claims' sum and statuses are shown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 300.0  # issue #16: the quick suite in at most 5 minutes on an idle 2-core machine
IDLE_LOAD = 0.5  # a 1-minute load average above this per core before the run: not an idle machine


def summary(results_json: Path) -> dict[str, Any]:
    """Claims, their statuses and their own times (s) added up, from a run's results.json."""
    results = json.loads(results_json.read_text())["results"]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {"claims": len(results), "statuses": statuses, "claim_seconds": sum(r["seconds"] for r in results)}


def report(s: dict[str, Any]) -> None:
    """Print a `summary`."""
    print(f"{s['claims']} claims {s['statuses']}; the claims' own times add up to {s['claim_seconds']:.0f} s")


def verdict(wall_s: float, load_before: float, cores: int, target_s: float = TARGET_S) -> str:
    """'met' / 'NOT met' for an idle machine (1-minute load average ≤ IDLE_LOAD per core before the
    run); otherwise why the run is not judged."""
    if load_before > IDLE_LOAD * cores:
        return f"not judged: load average {load_before:.2f} on {cores} cores before the run, not an idle machine"
    return "met" if wall_s <= target_s else "NOT met"


def run_suite(jobs: int, out: Path) -> float:
    """The quick suite from scratch into `out`; its wall time in seconds (raises if the run fails)."""
    cmd = [sys.executable, "-m", "verify.cli", "verify", "--profile", "quick", "--jobs", str(jobs)]
    start = time.perf_counter()
    done = subprocess.run([*cmd, "--no-cache", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        raise subprocess.CalledProcessError(done.returncode, cmd)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="jobs at once, as the README's command (default 2)")
    ap.add_argument("--from", dest="done", type=Path, default=None, help="judge DIR/results.json, run nothing")
    args = ap.parse_args(argv)
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    print(
        f"{cores} cores; load average {load:.2f} before the run; target ≤ {TARGET_S:.0f} s (#16, idle 2-core machine)"
    )
    if args.done is not None:
        report(summary(args.done / "results.json"))
        print("wall time: not recorded in results.json — run without --from to judge the target")
        return 0
    with tempfile.TemporaryDirectory(prefix="quick-suite-") as tmp:
        try:
            wall = run_suite(args.jobs, Path(tmp))
        except subprocess.CalledProcessError as err:
            print(f"the quick suite failed (exit {err.returncode}): run `superposition-lab verify --profile quick`")
            return 1
        report(summary(Path(tmp) / "results.json"))
    judged = verdict(wall, load, cores)
    print(f"quick suite, --jobs {args.jobs}: {wall:.0f} s of wall time — target ≤ {TARGET_S:.0f} s: {judged}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
