"""SAELens as a differential reference: the lab's SAE variants and SAELens's, side by side.

    pip install sae-lens                                   # optional; never a dependency of the lab
    python benchmarks/saelens_peer.py                      # every variant, 3 seeds, 2M samples (~6 min on 2 cores)
    python benchmarks/saelens_peer.py --variants gated gated-paper --samples 20000000
    python benchmarks/saelens_peer.py --speed --samples 1000000   # speed only (#16's targets), ~7 min

The task is SAELens's own synthetic one (`sae_lens.synthetic`): n = 64 ground-truth features, unit
random directions in m = 32 dims, each firing with p = 0.05 at magnitude ReLU(N(1, 0.25²)); d_sae = 64,
batch 1024, Adam at lr 3e-4, constant. Both sides see batches drawn the same way from the same
directions (one draw per seed); each is then measured on the same 65 536 fresh inputs with the lab's
metrics (superposition_lab.sae_metrics): L0, FVU, γ, matched MMCS and the dead fraction (latents
that never fire on the evaluation set).

Matched settings. SAELens's trainer always clips the gradient norm at 1, so the lab trains with
`clip_grad_norm = 1` here (one norm per model). What stays different is each side's convention, and
the comparison is for the variant with SAELens's:
- decoder norms: SAELens leaves them free (initialised at 0.1, W_enc = W_decᵀ) and weights its L1 terms
  by them; the lab keeps unit-norm atoms. Every loss here is unchanged by rescaling a latent, so the
  objectives are the same; only the optimiser's path differs.
- gated: SAELens's auxiliary loss trains the decoder; the paper (eq. 8) and the lab freeze it. The row
  `gated` runs the lab's SAE with `aux_decoder = "trained"`; `gated-paper` runs the lab's default
  against the same SAELens model, the documented difference (tests/peers pins its direction).
- topk: SAELens's AuxK coefficient defaults to 1; it is set to the paper's 1/32, the lab's default.
- jumprelu: SAELens trains θ directly, the lab (like the paper's pseudo-code) log θ; both start at 0.05.

Agreement (`compare`): for each metric, the two sides' seed means may differ by at most
max(floor, 4 · SE), SE the standard error of the difference of the means (Welch) — a 4σ bound on
seed-to-seed scatter — and `floor` the smallest difference that counts (the evaluation's Monte Carlo
error and a margin; FLOORS below). Speed: samples/s of one model on each side, timed in the same run;
`--speed` times only, in interleaved rounds (lab, SAELens at torch's default threads, SAELens on one
thread, then the lab training a sweep of SWEEP models as one batched program), and judges #16's
targets: the lab ≥ 2× SAELens per variant, ≥ 3× for the sweep (its samples/s count every model's;
SAELens trains one model at a time), on batches drawn before the clock starts (`PooledStream`). The
issue's reference is SAELens on one thread, as the lab's one-SAE step runs; the ratio against SAELens
on every core is printed beside it, with its own met / NOT met.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from superposition_lab.ground_truth import feature_directions  # noqa: E402
from superposition_lab.models import SAES  # noqa: E402
from superposition_lab.sae_metrics import fvu, matched_mmcs, relative_reconstruction_bias  # noqa: E402
from superposition_lab.train import TrainConfig, train  # noqa: E402

N_FEATURES, N_DIMS, D_SAE, FIRING = 64, 32, 64, 0.05
BATCH, LR = 1024, 1e-3
EVAL_SAMPLES = 65536

# variant → (the lab's SAE and options, SAELens's architecture and config fields)
VARIANTS: dict[str, tuple[str, dict[str, Any], str, dict[str, Any]]] = {
    "l1": ("l1", {"penalty": 0.3}, "standard", {"l1_coefficient": 0.3}),
    "topk": ("topk", {"k": 4}, "topk", {"k": 4, "aux_loss_coefficient": 1 / 32}),
    "jumprelu": (
        "jumprelu",
        {"penalty": 0.1, "bandwidth": 0.05, "threshold_init": 0.05, "threshold_param": "direct"},
        "jumprelu",
        {"l0_coefficient": 0.1, "jumprelu_bandwidth": 0.05, "jumprelu_init_threshold": 0.05},
    ),
    "jumprelu-paper": (
        "jumprelu",
        {"penalty": 0.1, "bandwidth": 0.05, "threshold_init": 0.05},
        "jumprelu",
        {"l0_coefficient": 0.1, "jumprelu_bandwidth": 0.05, "jumprelu_init_threshold": 0.05},
    ),
    "gated": ("gated", {"penalty": 0.3, "aux_decoder": "trained"}, "gated", {"l1_coefficient": 0.3}),
    "gated-paper": ("gated", {"penalty": 0.3}, "gated", {"l1_coefficient": 0.3}),
}
METRICS = ("l0", "fvu", "gamma", "mmcs", "dead")
# The smallest difference of seed means that counts as a disagreement, per metric (absolute, or
# relative to the larger mean where marked): what the two sides' conventions (free vs unit-norm atoms
# and their initialisation) leave after 3M samples on agreeing variants — up to 6% in L0 and 0.023 in
# matched MMCS for L1 (2026-12-02) — far below the documented departures (gated-paper: 2.2× L0, −0.4
# MMCS; jumprelu-paper: 7× L0). The dead fraction is reported, not judged (SAELens's 0.1-norm encoder
# init keeps a few more latents alive; see the README).
FLOORS: dict[str, tuple[float, bool]] = {
    "l0": (0.10, True),  # 10% of L0
    "fvu": (0.10, True),  # 10% of FVU
    "gamma": (0.01, False),
    "mmcs": (0.03, False),
    "dead": (2 / D_SAE, False),  # two latents
}
JUDGED = ("l0", "fvu", "gamma", "mmcs")
# JumpReLU agrees in sparsity and shrinkage only: the lab's leaves more latents dead (2 seeds: 5.5% vs
# 0.8% of 64), so fewer features are recovered (matched MMCS 0.89 vs 0.94, FVU 0.12 vs 0.10). A dead
# JumpReLU latent is one whose pre-activation never comes within ε/2 of θ: no gradient reaches it,
# from the reconstruction or the L0 term. How many die depends on the initial scale of the
# pre-activations against the fixed θ and ε — SAELens started from unit-norm atoms leaves 3.1% and 1.6%
# dead — and on SAELens's free decoder norms, which move that scale during training.
JUDGED_BY_VARIANT = {"jumprelu": ("l0", "gamma")}


class SyntheticStream:
    """x = D c: c_i = 1[u_i < p] · ReLU(N(1, 0.25²)) per feature, D (I, H, F) unit columns; (I, B, H)."""

    def __init__(self, directions: torch.Tensor) -> None:
        self.directions = directions

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        n_instances, _, n_features = self.directions.shape
        shape = (n_instances, batch_size, n_features)
        on = torch.rand(shape, generator=generator) < FIRING
        magnitude = torch.relu(1.0 + 0.25 * torch.randn(shape, generator=generator))
        return torch.bmm(on * magnitude, self.directions.transpose(1, 2))


class PooledStream:
    """`SyntheticStream`'s batches drawn once, before the clock starts, and served in turn (`--speed`).

    The reference draw costs ~0.9 ms a batch on one core (two (1024, 64) draws from torch's CPU
    generator at ~5 ns a number), more than either trainer's step: timed with fresh draws, the
    benchmark would mostly time the random number generator. Both sides get the same pool.
    """

    def __init__(self, directions: torch.Tensor, batches: int, generator: torch.Generator) -> None:
        stream = SyntheticStream(directions)
        self.pool = [stream.sample(BATCH, generator) for _ in range(batches)]
        self.next = 0

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        assert batch_size == BATCH
        x = self.pool[self.next % len(self.pool)]
        self.next += 1
        return x


POOL = 32  # batches in a speed run's pool


def directions(seed: int) -> torch.Tensor:
    """Seed `seed`'s ground-truth directions, (1, H, F)."""
    return feature_directions(1, N_DIMS, N_FEATURES, generator=torch.Generator().manual_seed(1000 + seed))


@torch.no_grad()
def measure(encode: Any, decode: Any, W_dec: torch.Tensor, dirs: torch.Tensor) -> dict[str, float]:
    """The lab's metrics of one SAE (encode/decode on (1, B, H)) on fresh inputs; W_dec is (1, H, D)."""
    x = SyntheticStream(dirs).sample(EVAL_SAMPLES, torch.Generator().manual_seed(99))
    f = encode(x)
    x_hat = decode(f)
    fired = (f != 0).any(dim=1)  # (1, D)
    return {
        "l0": (f != 0).float().sum(-1).mean().item(),
        "fvu": fvu(x, x_hat).item(),
        "gamma": relative_reconstruction_bias(x, x_hat).item(),
        "mmcs": matched_mmcs(dirs, W_dec).item(),
        "dead": 1.0 - fired.float().mean().item(),
    }


def train_lab(
    variant: str, seed: int, samples: int, *, instances: int = 1, pooled: bool = False
) -> tuple[dict[str, float] | None, float]:
    """Train the lab's SAE on seed `seed`'s task; its metrics and samples/s.

    With `instances` > 1 the model is a batch of that many SAEs (a sweep: every instance its own
    model on its own batches) trained as one program; the rate counts every instance's samples,
    and no metrics are measured (None). `pooled`: batches from a `PooledStream`, drawn before timing.
    """
    name, options, _, _ = VARIANTS[variant]
    dirs = directions(seed)
    g = torch.Generator().manual_seed(seed)
    model = SAES[name](instances, N_DIMS, D_SAE, generator=g, **options)
    cfg = TrainConfig(steps=samples // BATCH, batch_size=BATCH, lr=LR, weight_decay=0.0, clip_grad_norm=1.0)
    dirs_i = dirs.expand(instances, -1, -1)
    stream = PooledStream(dirs_i, POOL, g) if pooled else SyntheticStream(dirs_i)
    start = time.perf_counter()
    train(model, stream, torch.ones(instances, N_DIMS), cfg, generator=g)
    rate = instances * cfg.steps * BATCH / (time.perf_counter() - start)
    if instances > 1:
        return None, rate
    return measure(model.encode, model.decode, model.W_dec.detach(), dirs), rate


def _saelens_sae(architecture: str, fields: dict[str, Any]) -> Any:
    from sae_lens.saes.gated_sae import GatedTrainingSAE, GatedTrainingSAEConfig
    from sae_lens.saes.jumprelu_sae import JumpReLUTrainingSAE, JumpReLUTrainingSAEConfig
    from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    classes = {
        "standard": (StandardTrainingSAE, StandardTrainingSAEConfig),
        "topk": (TopKTrainingSAE, TopKTrainingSAEConfig),
        "jumprelu": (JumpReLUTrainingSAE, JumpReLUTrainingSAEConfig),
        "gated": (GatedTrainingSAE, GatedTrainingSAEConfig),
    }
    sae_cls, cfg_cls = classes[architecture]
    return sae_cls(cfg_cls(d_in=N_DIMS, d_sae=D_SAE, **fields))


def train_saelens(variant: str, seed: int, samples: int, *, pooled: bool = False) -> tuple[dict[str, float], float]:
    """Train SAELens's SAE with its own trainer (`SAETrainer`, as `sae_lens.synthetic.train_toy_sae`
    sets it up) on the same task; its metrics and samples/s (`pooled`: as in `train_lab`)."""
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    _, _, architecture, fields = VARIANTS[variant]
    dirs = directions(seed)
    torch.manual_seed(seed)  # SAELens initialises from torch's global generator
    sae = _saelens_sae(architecture, fields)
    g = torch.Generator().manual_seed(seed)
    stream = PooledStream(dirs, POOL, g) if pooled else SyntheticStream(dirs)

    class Batches:
        def __iter__(self) -> Batches:
            return self

        def __next__(self) -> torch.Tensor:
            return stream.sample(BATCH, g)[0]

    cfg = SAETrainerConfig(
        n_checkpoints=0,
        checkpoint_path=None,
        save_final_checkpoint=False,
        total_training_samples=samples,
        device="cpu",
        autocast=False,
        lr=LR,
        lr_end=LR,
        lr_scheduler_name="constant",
        lr_warm_up_steps=0,
        adam_beta1=0.9,
        adam_beta2=0.999,
        lr_decay_steps=0,
        n_restart_cycles=1,
        train_batch_size_samples=BATCH,
        dead_feature_window=1000,
        feature_sampling_window=2000,
        logger=LoggingConfig(log_to_wandb=False, eval_every_n_wandb_logs=2**31 - 1),
        n_batches_for_norm_estimate=1000,
    )
    trainer = SAETrainer(cfg=cfg, sae=sae, data_provider=Batches(), save_checkpoint_fn=lambda _: None)
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar
        trainer.fit()
    rate = samples / (time.perf_counter() - start)
    sae.eval()
    with torch.no_grad():
        W_dec = sae.W_dec.detach().T[None]  # SAELens stores (D, H)
        return measure(lambda x: sae.encode(x[0])[None], lambda f: sae.decode(f[0])[None], W_dec, dirs), rate


SPEED_TARGET = 2.0  # issue #16: the lab's samples/s at least twice SAELens's, every variant
SWEEP_TARGET = 3.0  # issue #16: and three times when a sweep of SWEEP instances trains as one program
SWEEP = 8


def compare(
    lab: list[dict[str, float]], peer: list[dict[str, float]], floors: dict[str, tuple[float, bool]] = FLOORS
) -> dict[str, dict[str, float]]:
    """Per metric: both seed means, their difference, the tolerance max(floor, 4·SE) and whether it holds."""
    out: dict[str, dict[str, float]] = {}
    for m in METRICS:
        a, b = [r[m] for r in lab], [r[m] for r in peer]
        mean_a, mean_b = statistics.fmean(a), statistics.fmean(b)
        var = (statistics.variance(a) / len(a) if len(a) > 1 else 0.0) + (
            statistics.variance(b) / len(b) if len(b) > 1 else 0.0
        )
        floor, relative = floors[m]
        tol = max(floor * (max(abs(mean_a), abs(mean_b)) if relative else 1.0), 4.0 * math.sqrt(var))
        diff = mean_a - mean_b
        out[m] = {"lab": mean_a, "saelens": mean_b, "diff": diff, "tol": tol, "ok": float(abs(diff) <= tol)}
    return out


def run(variant: str, seeds: list[int], samples: int) -> dict[str, Any]:
    """Train both sides on every seed; the comparison and each side's median samples/s."""
    lab, peer, lab_rate, peer_rate = [], [], [], []
    for s in seeds:
        result, rate = train_lab(variant, s, samples)
        assert result is not None
        lab.append(result)
        lab_rate.append(rate)
        result, rate = train_saelens(variant, s, samples)
        peer.append(result)
        peer_rate.append(rate)
    return {
        "compare": compare(lab, peer),
        "lab": lab,
        "saelens": peer,
        "lab_rate": statistics.median(lab_rate),
        "saelens_rate": statistics.median(peer_rate),
    }


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to n for the block, then restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def speed(variant: str, rounds: int, samples: int, sweep: int = SWEEP) -> dict[str, float]:
    """Samples/s of each side in `rounds` interleaved rounds (lab; SAELens at torch's default threads;
    SAELens on one thread; the lab training a sweep of SWEEP models as one batched program; a new seed
    each round), so that all four see the same machine load; the ratios are medians of per-round
    ratios. Batches come from a `PooledStream` (drawn before the clock starts), so the trainers are timed.

    Two references: SAELens on one thread is #16's (the issue measured "SAELens 6.54 (one thread)"),
    the same compute as the lab's one-SAE step, which runs on one intra-op thread; SAELens at torch's
    default count (every core) is the stricter one, printed beside it."""
    one, peer, peer1, batched = [], [], [], []
    for r in range(rounds):
        one.append(train_lab(variant, r, samples, pooled=True)[1])
        peer.append(train_saelens(variant, r, samples, pooled=True)[1])
        with torch_threads(1):
            peer1.append(train_saelens(variant, r, samples, pooled=True)[1])
        batched.append(train_lab(variant, r, samples // sweep, instances=sweep, pooled=True)[1])

    def ratio(lab: list[float], ref: list[float]) -> float:
        return statistics.median(a / b for a, b in zip(lab, ref, strict=True))

    return {
        "lab_rate": statistics.median(one),
        "saelens_rate": statistics.median(peer),
        "saelens_1t_rate": statistics.median(peer1),
        "sweep_rate": statistics.median(batched),
        "ratio": ratio(one, peer),
        "ratio_1t": ratio(one, peer1),
        "sweep_ratio": ratio(batched, peer),
        "sweep_ratio_1t": ratio(batched, peer1),
    }


def print_speed(variant: str, r: dict[str, float], sweep: int = SWEEP) -> None:
    """The speed rows of one variant: the lab's samples/s over SAELens's on one thread (#16's reference)
    and at torch's default threads, each with its #16 target as met / NOT met."""
    for label, rate, key, target in (
        ("speed", r["lab_rate"], "ratio", SPEED_TARGET),
        (f"sweep×{sweep}", r["sweep_rate"], "sweep_ratio", SWEEP_TARGET),
    ):
        verdicts = [f"{r[k]:.2f}× ({'met' if r[k] >= target else 'NOT met'})" for k in (f"{key}_1t", key)]
        print(
            f"{variant:14s} {label:8s} {rate:9.0f} {r['saelens_1t_rate']:9.0f} {r['saelens_rate']:9.0f} samples/s; "
            f"lab/SAELens, target ≥ {target:g}×: vs 1 thread {verdicts[0]}, vs default threads {verdicts[1]}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=3_000_000)
    ap.add_argument("--speed", action="store_true", help="speed only: interleaved rounds, no agreement check")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved speed rounds (--speed)")
    args = ap.parse_args(argv)
    try:
        import sae_lens
    except ImportError:
        print("sae-lens is not installed: `pip install sae-lens` to run the peer comparison (it is optional).")
        return 0
    if args.speed:
        print(
            f"SAELens {sae_lens.__version__}; speed: {args.rounds} interleaved rounds × {args.samples:,} samples; "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads by default"
        )
        print(f"{'variant':14s} {'':8s} {'lab':>9s} {'SAELens':>9s} {'':>9s}")
        print(f"{'':14s} {'':8s} {'':>9s} {'1 thread':>9s} {'default':>9s}")
        for variant in args.variants:
            print_speed(variant, speed(variant, args.rounds, args.samples))
        return 0
    print(f"SAELens {sae_lens.__version__}; {args.seeds} seeds × {args.samples:,} samples; torch {torch.__version__}")
    print(f"{'variant':12s} {'metric':6s} {'lab':>8s} {'SAELens':>8s} {'diff':>8s} {'tol':>7s}  agree")
    for variant in args.variants:
        r = run(variant, list(range(args.seeds)), args.samples)
        for m, c in r["compare"].items():
            judged = JUDGED_BY_VARIANT.get(variant, JUDGED)
            agree = ("yes" if c["ok"] else "NO") if m in judged else "(not judged)"
            print(
                f"{variant:12s} {m:6s} {c['lab']:8.3f} {c['saelens']:8.3f} {c['diff']:+8.3f} {c['tol']:7.3f}  {agree}"
            )
        ratio = r["lab_rate"] / r["saelens_rate"]
        ok = "met" if ratio >= SPEED_TARGET else "NOT met"
        print(
            f"{variant:12s} speed  {r['lab_rate']:8.0f} {r['saelens_rate']:8.0f} samples/s: lab/SAELens {ratio:.2f}× "
            f"(target ≥ {SPEED_TARGET:g}×: {ok}; one run per seed — `--speed` for interleaved rounds)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
