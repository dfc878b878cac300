"""SAELens as a differential reference (optional): the lab's SAE variants against SAELens's on
SAELens's own synthetic task, matched settings, two seeds (benchmarks/saelens_peer.py holds the task,
both trainers and the tolerance rule; its docstring lists each side's conventions).

Agreement: γ, L0, FVU and matched MMCS seed means within max(floor, 4·SE) — a 4σ bound on the
seed-to-seed scatter, with floors of 10% (L0, FVU), 0.01 (γ) and 0.03 (MMCS). The floors are the
differences that the two sides' conventions (free vs unit-norm decoder atoms, their initialisation)
leave after 3M samples: measured up to 6% in L0, 0.023 in MMCS for L1 (2026-12-02). They are far below
the documented departures, which the last tests pin in direction (and size): the paper's gated SAE
(frozen decoder in the auxiliary loss) ends about twice as dense as SAELens's, the paper's log θ
JumpReLU several times as dense as SAELens's direct θ — so the agreement test can tell a real
difference from scatter — and the lab's JumpReLU, which agrees in L0 and γ, leaves more latents dead.

    pip install sae-lens && python -m pytest tests/peers -m peer        # about 8 min on 2 cores
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import load_benchmark

pytest.importorskip("sae_lens", reason="sae-lens is not installed: `pip install sae-lens` runs the peer tests")

pytestmark = [pytest.mark.peer, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (0, 1)
SAMPLES = 3_000_000


PEER = load_benchmark("saelens_peer")


@cache
def _lab(variant: str) -> list[dict[str, float]]:
    return [PEER.train_lab(variant, s, SAMPLES)[0] for s in SEEDS]


@cache
def _saelens(architecture: str, fields: str) -> list[dict[str, float]]:
    variant = next(v for v, row in PEER.VARIANTS.items() if (row[2], repr(row[3])) == (architecture, fields))
    return [PEER.train_saelens(variant, s, SAMPLES)[0] for s in SEEDS]


def _both(variant: str) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    _, _, architecture, fields = PEER.VARIANTS[variant]
    return _lab(variant), _saelens(architecture, repr(fields))


def _compare(variant: str) -> dict[str, dict[str, Any]]:
    lab, peer = _both(variant)
    return PEER.compare(lab, peer)


@pytest.mark.parametrize("variant", ["l1", "topk", "gated", "jumprelu"])
def test_the_lab_agrees_with_saelens(variant: str) -> None:
    result = _compare(variant)
    bad = {m: result[m] for m in PEER.JUDGED_BY_VARIANT.get(variant, PEER.JUDGED) if not result[m]["ok"]}
    assert not bad, f"{variant}: lab vs SAELens outside tolerance: {bad}"


def test_the_papers_gated_sae_is_denser_than_saelenss() -> None:
    """The frozen decoder of eq. 8 (the lab's default) against SAELens's trained one, same λ = 0.3:
    measured L0 14.5 vs 6.5 and matched MMCS 0.56 vs 0.96 (seed 0, lr 1e-3, 3M samples). Pinned as
    L0 at least 1.5× and MMCS at least 0.15 lower — the direction and rough size of the departure."""
    lab, peer = _both("gated-paper")
    l0 = [a["l0"] / b["l0"] for a, b in zip(lab, peer)]
    mmcs = [b["mmcs"] - a["mmcs"] for a, b in zip(lab, peer)]
    assert min(l0) >= 1.5 and min(mmcs) >= 0.15, (l0, mmcs)


def test_the_labs_jumprelu_leaves_more_latents_dead() -> None:
    """The departure that the JumpReLU agreement does not judge (benchmarks/saelens_peer.py says why):
    measured dead fraction 5.5% vs 0.8%, matched MMCS 0.89 vs 0.94 (two seeds). Pinned in direction,
    so that a fix shows up here as a failure to update, not silently."""
    lab, peer = _both("jumprelu")
    dead = sum(r["dead"] for r in lab) - sum(r["dead"] for r in peer)
    mmcs = sum(r["mmcs"] for r in peer) - sum(r["mmcs"] for r in lab)
    assert dead > 0 and mmcs > 0, (dead, mmcs)


def test_the_papers_log_threshold_jumprelu_is_denser_than_saelenss() -> None:
    """log θ (the paper's pseudo-code, the lab's default) against SAELens's direct θ, same L0
    coefficient 0.1 from θ = 0.05: measured L0 22.8 vs 3.1 (seed 0, lr 1e-3, 3M samples), because Adam
    moves log θ, not θ, by about lr per step. Pinned as L0 at least 3×."""
    lab, peer = _both("jumprelu-paper")
    ratio = [a["l0"] / b["l0"] for a, b in zip(lab, peer)]
    assert min(ratio) >= 3.0, ratio


def test_the_speed_mode_times_every_side_on_the_same_pool() -> None:
    """`--speed`: both sides (SAELens at its default threads and on one) and the batched sweep train
    (a tiny run), each rate and ratio positive; torch's thread count is restored after the one-thread side."""
    threads = torch.get_num_threads()
    r = PEER.speed("l1", rounds=1, samples=16 * PEER.BATCH, sweep=2)
    assert set(r) == {"lab_rate", "saelens_rate", "saelens_1t_rate", "sweep_rate"} | {
        f"{k}{t}" for k in ("ratio", "sweep_ratio") for t in ("", "_1t")
    }
    assert all(v > 0 for v in r.values())
    assert torch.get_num_threads() == threads
    pool = PEER.PooledStream(PEER.directions(0), 3, torch.Generator().manual_seed(0))
    served = [pool.sample(PEER.BATCH, torch.Generator()) for _ in range(4)]
    assert [x is pool.pool[i % 3] for i, x in enumerate(served)] == [True] * 4  # in turn, round and round
