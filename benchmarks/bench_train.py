"""Speed of the lab's trainer against a notebook-style baseline, measured in one run.

    python benchmarks/bench_train.py                    # CPU, the default configurations (~3 min on 2 cores)
    python benchmarks/bench_train.py --steps 60 --device cuda
    python benchmarks/bench_train.py --configs 400-30 --repeats 5

The baseline is the straightforward step of the TMS notebook, written here and used nowhere else:
every step draws a dense batch (B, I, F) with two `torch.rand` calls and a `torch.where`, runs two
einsums, autograd and `torch.optim.AdamW`. "ours" is `superposition_lab.train.train` on the same
configuration, for the same number of steps, timed in interleaved rounds (the median round counts)
so that both see the same machine load. On the CPU the baseline is timed with torch's default thread
count (the notebook as written: "ratio") and with one thread; "ratio vs best" takes the faster of
the two, so it credits the trainer only with what is not a thread setting.

FLOPs per step: a toy step is five matmuls of 2·I·B·H·F FLOPs each — forward h = Wx and WᵀH,
backward ∂/∂h, ∂/∂W through both uses of W — so 10·I·B·H·F; the SAE step likewise 10·I·B·m·d
(encoder and decoder forward, three backward matmuls; the input needs no gradient). Rows that the
trainer leaves out (all-zero samples) still count, so GFLOP/s is the rate of useful work. The peak is
a large float32 matmul timed in the same run, at the default thread count.

Memory: peak resident memory of a fresh subprocess while it runs a few steps of one side, minus
its resident memory before them (after two warm-up steps and glibc's malloc_trim; VmHWM − VmRSS from
/proc/self/status, the peak reset through /proc/self/clear_refs; on CUDA the peak of `torch.cuda.max_memory_allocated`
above the allocation before the steps). `--no-memory` skips it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the lab is imported from this checkout (the sys.path entry above), so after it
from superposition_lab.data import Sampler, SparseUniform  # noqa: E402
from superposition_lab.models import MODELS  # noqa: E402
from superposition_lab.train import TrainableModel, TrainConfig, train  # noqa: E402


# ------------------------------------------------------------------------------------------ configurations
def _toy_config(
    name: str, I: int, F: int, H: int, density: torch.Tensor, importance: torch.Tensor, note: str
) -> dict[str, Any]:
    return dict(name=name, kind="toy", I=I, F=F, H=H, density=density, importance=importance, note=note)


def configs() -> dict[str, dict[str, Any]]:
    """The workloads of the suite: a phase grid, the TMS sweep, the geometry sweep, an SAE."""
    # 2 features in 1 dimension (TMS "Superposition as a Phase Change"): 32 importance ratios r in
    # [0.1, 10] × 32 densities p in [0.01, 1] (log) × 2 seeds = 2048 instances
    r = torch.logspace(-1, 1, 32)
    p = torch.logspace(-2, 0, 32)
    rr, pp = torch.meshgrid(r, p, indexing="ij")
    rr, pp = rr.flatten().repeat_interleave(2), pp.flatten().repeat_interleave(2)  # (2048,)
    grid = _toy_config(
        "2in1-grid",
        2048,
        2,
        1,
        pp[:, None].expand(-1, 2).contiguous(),
        torch.stack([torch.ones_like(rr), rr], dim=1),
        "r∈[.1,10]×p∈[.01,1]×2 seeds",
    )
    # TMS "Demonstrating Superposition": n=20, m=5, I=0.7^i, 16 densities in [0.01, 1] × 4 seeds
    p20 = torch.logspace(-2, 0, 16).repeat_interleave(4)
    tms = _toy_config(
        "20-5",
        64,
        20,
        5,
        p20[:, None].expand(-1, 20).contiguous(),
        (0.7 ** torch.arange(20.0)).expand(64, -1).contiguous(),
        "p∈[.01,1], I=0.7^i",
    )
    # TMS "The Geometry of Superposition": n=400, m=30, I=1, 1/(1−S) from 1 to 200 (log), 20 points
    p400 = 1.0 / torch.logspace(0, math.log10(200), 20)
    geo = _toy_config(
        "400-30", 20, 400, 30, p400[:, None].expand(-1, 400).contiguous(), torch.ones(20, 400), "1/(1−S)∈[1,200], I=1"
    )
    sae: dict[str, Any] = dict(
        name="sae-l1", kind="sae", I=8, F=128, H=32, D=128, note="m=32, d=128, 128 features p=0.05"
    )
    return {c["name"]: c for c in (grid, tms, geo, sae)}


# ------------------------------------------------------------------------------------------ the baseline
class NotebookToy:
    """The TMS notebook's step: dense batch (B, I, F) from two rand calls, two einsums, AdamW."""

    def __init__(self, cfg: dict, device: torch.device) -> None:
        I, F, H = cfg["I"], cfg["F"], cfg["H"]
        g = torch.Generator(device="cpu").manual_seed(0)
        self.W = torch.nn.Parameter((torch.randn((I, F, H), generator=g) * math.sqrt(2 / (F + H))).to(device))
        self.b = torch.nn.Parameter(torch.zeros((I, F), device=device))
        self.p = cfg["density"].to(device)[None]  # (1, I, F)
        self.imp = cfg["importance"].to(device)  # (I, F)
        self.opt = torch.optim.AdamW([self.W, self.b], lr=1e-3)
        self.shape = (1024, I, F)
        self.device = device

    def step(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr
        feat = torch.rand(self.shape, device=self.device)
        batch = torch.where(
            torch.rand(self.shape, device=self.device) <= self.p, feat, torch.zeros((), device=self.device)
        )
        hidden = torch.einsum("...if,ifh->...ih", batch, self.W)
        out = torch.einsum("...ih,ifh->...if", hidden, self.W)
        out = torch.relu(out + self.b)
        error = self.imp * (batch - out) ** 2  # (B, I, F)
        loss = error.sum(dim=-1).mean(dim=0).sum()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


class NotebookSAE:
    """A straightforward L1 SAE step: dense sparse codes, x = D c, einsum encoder/decoder, AdamW,
    decoder gradient projected and atoms renormalised (as in Anthropic's set-up)."""

    def __init__(self, cfg: dict, device: torch.device) -> None:
        I, F, m, d = cfg["I"], cfg["F"], cfg["H"], cfg["D"]
        g = torch.Generator(device="cpu").manual_seed(0)
        dirs = torch.randn((I, F, m), generator=g)
        self.dirs = (dirs / dirs.norm(dim=-1, keepdim=True)).to(device)  # (I, F, m)
        atoms = torch.randn((I, d, m), generator=g)
        atoms = atoms / atoms.norm(dim=-1, keepdim=True)
        self.W_dec = torch.nn.Parameter(atoms.to(device))  # (I, d, m)
        self.W_enc = torch.nn.Parameter(atoms.transpose(1, 2).clone().to(device))  # (I, m, d)
        self.b_enc = torch.nn.Parameter(torch.zeros((I, d), device=device))
        self.b_dec = torch.nn.Parameter(torch.zeros((I, m), device=device))
        self.opt = torch.optim.AdamW([self.W_dec, self.W_enc, self.b_enc, self.b_dec], lr=1e-3)
        self.shape, self.device, self.lam = (1024, I, F), device, 0.1

    def step(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr
        coef = torch.where(
            torch.rand(self.shape, device=self.device) <= 0.05,
            torch.rand(self.shape, device=self.device),
            torch.zeros((), device=self.device),
        )
        x = torch.einsum("bif,ifm->bim", coef, self.dirs)
        f = torch.relu(torch.einsum("bim,imd->bid", x - self.b_dec, self.W_enc) + self.b_enc)
        x_hat = torch.einsum("bid,idm->bim", f, self.W_dec) + self.b_dec
        loss = (((x - x_hat) ** 2).sum(-1).mean(0) + self.lam * f.sum(-1).mean(0)).sum()
        self.opt.zero_grad()
        loss.backward()
        with torch.no_grad():
            gr = self.W_dec.grad
            assert gr is not None  # set by backward
            gr -= (gr * self.W_dec).sum(-1, keepdim=True) * self.W_dec
        self.opt.step()
        with torch.no_grad():
            self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True))


# ------------------------------------------------------------------------------------------ the product
class Ours:
    """`superposition_lab.train.train` on the same configuration, `chunk` steps per call."""

    def __init__(self, cfg: dict, device: torch.device) -> None:
        gen = torch.Generator(device=device).manual_seed(0)
        self.gen = gen
        self.model: TrainableModel
        self.sampler: Sampler
        if cfg["kind"] == "toy":
            self.model = MODELS["relu_output"](cfg["I"], cfg["F"], cfg["H"], generator=gen, device=device)
            self.sampler = SparseUniform(cfg["density"].to(device))
            self.imp = cfg["importance"].to(device)
        else:
            self.model, self.sampler, self.imp = _product_sae(cfg, device, gen)

    def run(
        self, steps: int, *, threads: int = 0, prefetch: bool = True, shards: int = 0, scratch: bool = True
    ) -> None:
        """`steps` steps with TrainConfig's CPU switches as given (the defaults are the trainer's)."""
        cfg = TrainConfig(
            steps=steps, lr=1e-3, schedule="cosine", threads=threads, prefetch=prefetch, shards=shards, scratch=scratch
        )
        train(self.model, self.sampler, self.imp, cfg, generator=self.gen)


def _product_sae(cfg: dict, device: torch.device, gen: torch.Generator) -> tuple[TrainableModel, Sampler, torch.Tensor]:
    """The lab's L1 SAE on ground-truth data (x = D c), trained by the generic (autograd) path."""
    I, F, m, d = cfg["I"], cfg["F"], cfg["H"], cfg["D"]
    data: Sampler
    model: TrainableModel
    try:
        from superposition_lab.ground_truth import GroundTruth, feature_directions
        from superposition_lab.models.sae_l1 import L1SAE

        dirs = feature_directions(I, m, F, generator=gen, device=device)
        data = GroundTruth(dirs, torch.full((I, F), 0.05, device=device))
        model = L1SAE(I, m, d, generator=gen, device=device, penalty=0.1)
    except ImportError:  # the SAE modules are not there: a minimal stand-in through the same trainer
        data, model = _MiniSAEData(I, F, m, device, gen), _MiniSAE(I, m, d, device, gen)
    return model, data, torch.ones((I, m), device=device)


class _MiniSAEData:
    def __init__(self, I: int, F: int, m: int, device: torch.device, gen: torch.Generator) -> None:
        dirs = torch.randn((I, m, F), generator=gen, device=device)
        self.dirs = dirs / dirs.norm(dim=1, keepdim=True)  # (I, m, F)
        self.coef = SparseUniform(torch.full((I, F), 0.05, device=device))

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return torch.bmm(self.coef.sample(batch_size, generator), self.dirs.transpose(1, 2))  # (I, B, m)


class _MiniSAE(torch.nn.Module):
    def __init__(self, I: int, m: int, d: int, device: torch.device, gen: torch.Generator) -> None:
        super().__init__()
        atoms = torch.randn((I, m, d), generator=gen, device=device)
        atoms = atoms / atoms.norm(dim=1, keepdim=True)
        self.W_dec, self.W_enc = torch.nn.Parameter(atoms), torch.nn.Parameter(atoms.clone())
        self.b_enc = torch.nn.Parameter(torch.zeros((I, d), device=device))
        self.b_dec = torch.nn.Parameter(torch.zeros((I, m), device=device))

    def loss_terms(self, x: torch.Tensor, importance: torch.Tensor) -> dict[str, torch.Tensor]:
        f = torch.relu(torch.bmm(x - self.b_dec[:, None], self.W_enc) + self.b_enc[:, None])
        x_hat = torch.bmm(f, self.W_dec.transpose(1, 2)) + self.b_dec[:, None]
        return {"mse": ((x - x_hat) ** 2).sum(-1).mean(1), "l1": 0.1 * f.sum(-1).mean(1)}

    def before_step(self) -> None:
        g = self.W_dec.grad
        assert g is not None  # set by backward
        g -= (g * self.W_dec).sum(dim=1, keepdim=True) * self.W_dec

    @torch.no_grad()
    def after_step(self) -> None:
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True))


# ------------------------------------------------------------------------------------------ timing
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device, n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of the best of `reps` large float32 matmuls."""
    a = torch.randn((n, n), device=device)
    b = torch.randn((n, n), device=device)
    a @ b
    best = math.inf
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    t = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t


def _with_threads(n: int, fn: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            fn()
        finally:
            torch.set_num_threads(before)

    return run


def bench(cfg: dict, steps: int, repeats: int, device: torch.device, ablate: bool = False) -> dict:
    """Seconds per step of each side: median over `repeats` interleaved rounds of steps/repeats steps."""
    base = (NotebookToy if cfg["kind"] == "toy" else NotebookSAE)(cfg, device)
    ours = Ours(cfg, device)
    chunk = max(1, steps // repeats)
    base_steps = lambda n=chunk: [base.step(1e-3) for _ in range(n)]
    sides: dict[str, Callable[[], object]] = {"ours": lambda: ours.run(chunk)}
    if ablate and device.type == "cpu":
        sides["ours-no-prefetch"] = lambda: ours.run(chunk, prefetch=False)
        sides["ours-no-shards"] = lambda: ours.run(chunk, shards=1)
        sides["ours-no-scratch"] = lambda: ours.run(chunk, scratch=False)
        sides["ours@2t"] = lambda: ours.run(chunk, threads=2)
    default_threads = torch.get_num_threads()
    sides[f"base@{default_threads}t"] = base_steps
    if device.type == "cpu" and default_threads > 1:
        sides["base@1t"] = _with_threads(1, base_steps)
    ours.run(3)  # warm-up: draw plans, kernels, allocator
    base_steps(2)
    rounds: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            rounds[name].append(_timed(fn, device) / chunk)
    per_step = {k: statistics.median(v) for k, v in rounds.items()}
    extra = {k: per_step.pop(k) for k in list(per_step) if k.startswith("ours") and k != "ours"}
    base_keys = [k for k in per_step if k.startswith("base")]
    best_base = min(base_keys, key=per_step.__getitem__)
    return dict(per_step=per_step, best_base=best_base, chunk=chunk, extra=extra)


def memory(name: str, side: str, steps: int, device: str) -> float:
    """Peak memory (MiB) above the set-up of one side, in a fresh subprocess."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-probe", name, side, str(steps), "--device", device],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["mib"])


def _memory_probe(name: str, side: str, steps: int, device: torch.device) -> None:
    cfg = configs()[name]
    run: Callable[..., object]
    if side == "ours":
        ours = Ours(cfg, device)
        run = lambda n=steps: ours.run(n)
    else:
        torch.set_num_threads(1)
        base = (NotebookToy if cfg["kind"] == "toy" else NotebookSAE)(cfg, device)
        run = lambda n=steps: [base.step(1e-3) for _ in range(n)]
    run(2)  # warm-up: libraries loaded on first use and draw plans are not working memory
    if device.type == "cuda":
        torch.cuda.synchronize()
        start: float = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run()
        mib = (torch.cuda.max_memory_allocated() - start) / 2**20
    else:
        try:  # give freed heap memory back (glibc), then reset the peak to the resident size (Linux ≥ 4.0)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        start = _resident_mib("VmRSS")
        run()
        mib = _resident_mib("VmHWM") - start
    print(json.dumps({"mib": mib}))


def _resident_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, MiB (Linux). Not ru_maxrss:
    after fork + exec that still carries the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if field == "VmHWM" else 0.0


def flops_per_step(cfg: dict) -> float:
    I, F, H = cfg["I"], cfg["F"], cfg["H"]
    return 10.0 * I * 1024 * H * (cfg["D"] if cfg["kind"] == "sae" else F)


# ------------------------------------------------------------------------------------------ report
# issue #16's targets (round two): the 2-in-1 grid ≥ 20×, the 400 → 30 step ≥ 5× and ≥ 35% of the peak
TARGETS = {"2in1-grid": ("ratio", 20.0), "400-30": ("ratio", 5.0)}
PEAK_TARGET = ("400-30", 0.35)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=0, help="steps per side and config (default: per config)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median round counts")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--configs", nargs="*", default=None, help=f"subset of {', '.join(configs())}")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument(
        "--ablate",
        action="store_true",
        help="also time ours without the drawing thread, without compute shards, without reused "
        "buffers, and at 2 intra-op threads",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--memory-probe", nargs=3, metavar=("CONFIG", "SIDE", "STEPS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("--device cuda: torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    if args.memory_probe:
        name, side, steps = args.memory_probe
        _memory_probe(name, side, int(steps), device)
        return 0
    default_steps = {"2in1-grid": 24, "20-5": 60, "400-30": 36, "sae-l1": 45}
    if device.type == "cuda":
        default_steps = {k: 10 * v for k, v in default_steps.items()}
    chosen = args.configs or list(configs())
    started = time.perf_counter()
    peak = matmul_peak(device)
    rows = []
    for name in chosen:
        cfg = configs()[name]
        steps = args.steps or default_steps[name]
        r = bench(cfg, steps, args.repeats, device, args.ablate)
        ps = r["per_step"]  # seconds per step by side
        t_ours, t_base = ps["ours"], ps[r["best_base"]]
        t_default = ps[f"base@{torch.get_num_threads()}t"]
        gflops = flops_per_step(cfg) / t_ours / 1e9
        row = dict(
            config=name,
            shape=f"{cfg['I']}×({cfg['F']}→{cfg['H']})"
            if cfg["kind"] == "toy"
            else f"{cfg['I']}×(m={cfg['H']}, d={cfg['D']})",
            note=cfg["note"],
            steps=r["chunk"] * args.repeats,
            base_side=r["best_base"],
            base_steps_s={k: 1 / v for k, v in ps.items() if k != "ours"},
            ours_steps_s=1 / t_ours,
            ratio=t_default / t_ours,
            ratio_best=t_base / t_ours,
            model_steps_s=cfg["I"] / t_ours,
            base_model_steps_s=cfg["I"] / t_base,
            gflops=gflops,
            peak_frac=gflops / peak,
            ablations={k: t_base / v for k, v in r["extra"].items()},
        )
        if not args.no_memory:
            mem_steps = max(3, min(10, steps // 3))
            row["mem_base"] = memory(name, "base", mem_steps, args.device)
            row["mem_ours"] = memory(name, "ours", mem_steps, args.device)
        rows.append(row)
        print(
            f"  measured {name}: {row['ratio']:.2f}×, {row['ratio_best']:.2f}× vs best "
            f"({time.perf_counter() - started:.0f} s so far)",
            file=sys.stderr,
        )
    _print_table(rows, peak, device, time.perf_counter() - started)
    if args.json:
        args.json.write_text(
            json.dumps(
                dict(
                    device=str(device),
                    peak_gflops=peak,
                    rows=rows,
                    threads=torch.get_num_threads(),
                    torch=torch.__version__,
                ),
                indent=1,
            )
        )
    return 0


def _print_table(rows: list[dict], peak: float, device: torch.device, seconds: float) -> None:
    mem = "peak MiB (cuda alloc)" if device.type == "cuda" else "peak MiB (RSS Δ)"
    head = [
        "config",
        "instances×shape",
        "steps",
        "baseline steps/s",
        "ours steps/s",
        "ratio",
        "ratio vs best",
        "ours model-steps/s",
        "GFLOP/s",
        "% of peak",
        f"{mem} base→ours",
    ]
    lines = []
    for r in rows:
        base = ", ".join(f"{v:.1f} ({k[5:]})" for k, v in r["base_steps_s"].items())
        m = f"{r['mem_base']:.0f} → {r['mem_ours']:.0f}" if "mem_base" in r else "—"
        lines.append(
            [
                r["config"],
                r["shape"],
                str(r["steps"]),
                base,
                f"{r['ours_steps_s']:.1f}",
                f"{r['ratio']:.2f}×",
                f"{r['ratio_best']:.2f}×",
                f"{r['model_steps_s']:,.0f}",
                f"{r['gflops']:.1f}",
                f"{100 * r['peak_frac']:.0f}%",
                m,
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(head)]
    fmt = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths))
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads by default; "
        f"matmul peak {peak:.1f} GFLOP/s (float32 2048², measured now)"
    )
    print(fmt(head))
    print("-+-".join("-" * w for w in widths))
    for row in lines:
        print(fmt(row))
    print("ratio = ours steps/s over the notebook baseline's at torch's default threads; ratio vs best = over the")
    print("faster baseline thread setting. Same instances on both sides, so model-steps/s ratios are the same;")
    print("GFLOP/s counts 10·I·B·H·F per step (5 matmuls); memory is the peak above set-up over a few steps.")
    by = {r["config"]: r for r in rows}
    for name, (_, target) in TARGETS.items():
        if name in by:
            r = by[name]
            ok = "met" if r["ratio"] >= target else "NOT met"
            print(
                f"target {name}: ratio ≥ {target:g}× — {r['ratio']:.2f}× {ok} "
                f"({r['ratio_best']:.2f}× vs the best baseline thread setting)"
            )
    name, frac = PEAK_TARGET
    if name in by and device.type == "cpu":
        ok = "met" if by[name]["peak_frac"] >= frac else "NOT met"
        print(f"target {name}: ≥ {100 * frac:.0f}% of matmul peak — {100 * by[name]['peak_frac']:.0f}% {ok}")
    for r in rows:
        if r.get("ablations"):
            print(
                f"ablation {r['config']} (ratio vs best): "
                + ", ".join(f"{k} {v:.2f}×" for k, v in r["ablations"].items())
            )
    print(f"benchmark wall time {seconds:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
