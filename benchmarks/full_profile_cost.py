"""What `--profile full` costs per spec on this CPU, measured on a fraction of each budget and extrapolated.

    python benchmarks/full_profile_cost.py                  # every spec (~10 min on 2 busy cores)
    python benchmarks/full_profile_cost.py tms.pentagon --json cost.json
    python benchmarks/full_profile_cost.py --device cuda    # measured on one GPU instead (benchmarks/gpu_check.sh)

For each spec side (claim, control) the full-profile config is built as the runner builds it. A
trained kind runs twice with its step count cut to s and 3s (s = steps/200, at least 10) on one
thread, and the cost is fitted as t = fixed + per_step·steps (the fixed part: set-up, evaluation,
exact losses), projected to the full step count. A [property] side costs its examples times one
point (the spec's own config). The free-optimum kind has no steps: one grid cell and one boundary
are timed at the full restarts and multiplied by the grid size and the boundary count.

With `--device cuda` the trained kinds run on the GPU and their fit is the GPU's cost, measured
(the free-optimum kind has no steps and stays on the CPU); the table then has no estimate column.
On the CPU the GPU column is an estimate, not a measurement: each step costs the larger
of its matmul FLOPs (10·I·B·H·F for a toy step, 10·I·B·m·d for an SAE step, as in bench_train.py) at
an assumed 20 TFLOP/s sustained float32 on an H100/H200-class GPU, and a launch-bound floor of
0.3 ms per step (~40 kernels of a small step at ~7 µs), paid by each part of a run split with
`chunks` (one part after another on the GPU; `--gpus-per-job` fractions overlap them); the fixed part
is taken as on the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verify.experiments.phase_grid import DIAGRAMS  # noqa: E402
from verify.kind import Optimiser, RunContext, at_point, grid_points  # noqa: E402
from verify.loading import load_specs  # noqa: E402
from verify.validation import experiment_config, experiment_kind  # noqa: E402

GPU_FLOPS = 20e12  # assumed sustained float32 matmul rate of one H100/H200-class GPU (an estimate)
GPU_STEP_FLOOR = 3e-4  # seconds per step: kernel launches of a small step (an estimate)


def instances(config: Any, axes: tuple[str, ...]) -> int:
    """Models a side trains (grid points × seeds × restarts; cells × restarts for a phase map), in one
    batched run or, with `chunks`, in several."""
    if hasattr(config, "r") and hasattr(config.r, "array"):
        return int(config.r.array().size * config.p.array().size * getattr(config, "restarts", 1))
    points = len(grid_points(config, axes) or [{}])
    n = points * getattr(config, "seeds", 1) * getattr(config, "restarts", 1)
    if getattr(config, "baseline", None) is not None:
        base = config.baseline_config()
        n += len(grid_points(base, axes) or [{}]) * base.seeds
    return n


def step_flops(config: Any, n: int) -> float:
    """Matmul FLOPs of one step of the batched model (five matmuls of 2·I·B·in·out)."""
    if hasattr(config, "d_sae"):  # a d_sae sweep: its sizes weigh equally (each trains as many models)
        d_sae = config.d_sae if isinstance(config.d_sae, int) else sum(config.d_sae) / len(config.d_sae)
        return 10.0 * n * config.batch_size * d_sae * config.n_dims
    if hasattr(config, "diagram"):
        mod = DIAGRAMS[config.diagram]
        return 10.0 * n * config.batch_size * mod.N_HIDDEN * mod.N_FEATURES
    return 10.0 * n * config.batch_size * config.n_hidden * config.n_features


def timed(kind: Any, config: Any, device: str) -> float:
    start = time.perf_counter()
    kind.run(config, RunContext(device=device))  # its results come back to the host: the GPU has finished
    return time.perf_counter() - start


def trained_cost(kind: Any, config: Any, device: str) -> dict[str, float]:
    """fixed + per_step·steps from runs of s and 3s steps."""
    full = config.steps
    s = max(10, full // 200)
    cut = {"warmup": 0} if hasattr(config, "warmup") else {}
    t1 = timed(kind, attrs.evolve(config, steps=s, **cut), device)
    t3 = timed(kind, attrs.evolve(config, steps=3 * s, **cut), device)
    per_step = max(0.0, (t3 - t1) / (2 * s))
    fixed = max(0.0, t1 - s * per_step)
    return {"measured_s": t1 + t3, "fixed_s": fixed, "per_step_s": per_step, "steps": full, "fraction": 4 * s / full}


def free_optimum_cost(config: Any) -> dict[str, float]:
    """One cell and one boundary at the full restarts, scaled by the grid and the boundaries."""
    mod = DIAGRAMS[config.diagram]
    r, p, br = config.r.array(), config.p.array(), config.boundary_r.array()
    start = time.perf_counter()
    mod.free_optimum(float(r[len(r) // 2]), float(p[len(p) // 2]), config.restarts, config.seed, config.model)
    cell = time.perf_counter() - start
    start = time.perf_counter()
    mod.free_boundary(float(br[len(br) // 2]), config.boundary_restarts, config.seed, config.boundary_tol, config.model)
    boundary = time.perf_counter() - start
    return {"measured_s": cell + boundary, "fixed_s": r.size * p.size * cell + br.size * boundary * 1.5, "steps": 0}


def side_cost(spec: Any, control: bool, device: str = "cpu") -> dict[str, Any]:
    kind = experiment_kind(spec)
    config = experiment_config(spec, "full", control)
    examples, parts = 1, 1
    if spec.property is not None:  # one point, the spec's own config, times the examples
        examples = spec.property.examples_for("full")
        config = at_point(config, {})
    if kind.name == "phase_free_optimum":
        cost = free_optimum_cost(config)
        n, flops = 0, 0.0
    elif isinstance(config, Optimiser) and config.steps:
        cost = trained_cost(kind, config, device)
        n = instances(config, kind.axes)
        flops = step_flops(config, n)
        parts = kind.parts.count(config) if kind.parts is not None and kind.name in ("toy", "phase") else 1
    else:
        cost = {"measured_s": timed(kind, config, device), "steps": 0}
        cost["fixed_s"] = cost["measured_s"]
        n, flops = 0, 0.0
    cpu = cost["fixed_s"] + cost.get("per_step_s", 0.0) * cost["steps"]
    # a run in parts (`chunks`) pays the launch floor once per part and step, one part after another
    floor = GPU_STEP_FLOOR * (parts if cost["steps"] else 1)
    if device != "cpu" or not cost["steps"]:  # measured on the GPU itself, or no steps to estimate
        gpu = cpu
    else:
        gpu = cost["fixed_s"] + cost["steps"] * max(floor, flops / GPU_FLOPS)
    return {
        "kind": kind.name,
        "instances": n * examples,
        "model_steps": n * cost["steps"] * examples,
        "measured_s": cost["measured_s"],
        "cpu_s": cpu * examples,
        "gpu_s": gpu * examples,
        "step_gflop": flops / 1e9,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ids", nargs="*", help="spec ids (default: all)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the trained kinds run")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("full_profile_cost: --device cuda, but torch sees no CUDA device")
    torch.set_num_threads(1)  # what one job of `--executor ray --cpus-per-job 1` gets
    specs = [s for s in load_specs([ROOT / "specs"]) if not args.ids or s.id in args.ids]
    rows = []
    on = "this CPU" if args.device == "cpu" else "one GPU"
    est = " one GPU (est.) |" if args.device == "cpu" else ""
    print(f"| spec | kind | jobs (instances) | model-steps | measured s | full on {on} |{est}")
    print("|---|---|---|---|---|---|" + ("---|" if est else ""))
    for spec in specs:
        sides = [side_cost(spec, c, args.device) for c in ([False, True] if spec.control is not None else [False])]
        row = {
            "spec": spec.id,
            "kind": sides[0]["kind"],
            "instances": [s["instances"] for s in sides],
            "model_steps": sum(s["model_steps"] for s in sides),
            "measured_s": sum(s["measured_s"] for s in sides),
            "cpu_s": sum(s["cpu_s"] for s in sides),
            "gpu_s": sum(s["gpu_s"] for s in sides),
        }
        rows.append(row)
        print(
            f"| {row['spec']} | {row['kind']} | {len(sides)} ({' + '.join(map(str, row['instances']))}) | "
            f"{row['model_steps']:.2e} | {row['measured_s']:.1f} | {_hms(row['cpu_s'])} |"
            + (f" {_hms(row['gpu_s'])} |" if est else ""),
            flush=True,
        )
    cpu, gpu = sum(r["cpu_s"] for r in rows), sum(r["gpu_s"] for r in rows)
    if args.device == "cpu":
        print(f"\nfull profile on this CPU, one job at a time: {_hms(cpu)}; one GPU (est.): {_hms(gpu)}")
    else:
        print(f"\nfull profile on one GPU, one job at a time (measured fit): {_hms(gpu)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def _hms(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


if __name__ == "__main__":
    main()
