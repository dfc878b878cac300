"""The toy kind's trajectory metrics (TMS "Learning Dynamics") on hand-made snapshots and on a tiny run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from superposition_lab import trajectories as tr
from verify.experiments import trajectory_metrics as tm
from verify.experiments.toy import PLOTS, ToyConfig, run_toy, toy_metrics
from verify.kind import Outcome, RunContext
from verify.spec import converter

T = 200


def _outcome(abrupt: bool, drop: float, seed: int = 0) -> Outcome:
    """Two features in two dimensions. Feature 1 turns from e2 to −e1: dedicated dimensions (D = 1, 1)
    become an antipodal pair (D = 1/2, 1/2) — abruptly at T/2 or smoothly over the whole run. The
    batch loss falls by `drop` at T/2 on top of noise of 0.01."""
    angle = np.where(np.arange(T) < T // 2, 0.0, np.pi / 2) if abrupt else np.linspace(0, np.pi / 2, T)
    W = np.zeros((T, 2, 2))
    W[:, 0, 0] = 1.0  # feature 0 = e1
    W[:, 0, 1], W[:, 1, 1] = -np.sin(angle), np.cos(angle)  # feature 1: e2 → −e1
    rng = np.random.default_rng(seed)
    loss = 1.0 - drop * (np.arange(T) >= T // 2) + rng.normal(0, 0.01, T)
    return Outcome(
        points=[{}],
        arrays={
            "snapshot_W": W[None, None],  # (P, S, T, H, F)
            "snapshot_loss": loss[None, None],
            "snapshot_steps": np.arange(T, dtype=float)[None, None] * 10,
        },
    )


def _measure(o: Outcome) -> dict[str, float]:
    names = ["jump_count", "jumping_features", "jump_share", "jump_loss_drop_fraction", "random_loss_drop_fraction"]
    return {k: float(tm.trajectory_metrics[k].fn(o, None)[0, 0]) for k in names}


def test_a_jump_from_dedicated_dimensions_to_an_antipodal_pair_at_a_loss_drop() -> None:
    m = _measure(_outcome(abrupt=True, drop=0.05))
    assert m["jump_count"] == 2 and m["jumping_features"] == 2  # both features: 1 → 1/2
    assert m["jump_share"] == pytest.approx(1.0)
    assert m["jump_loss_drop_fraction"] == 1.0
    # at random times only the starts whose gap straddles T/2 see the drop (≈ 2 gaps of ~130 starts)
    assert m["random_loss_drop_fraction"] < 0.3


def test_a_jump_without_a_loss_drop_is_not_at_a_loss_drop() -> None:
    m = _measure(_outcome(abrupt=True, drop=0.0))
    assert m["jump_count"] == 2 and m["jump_loss_drop_fraction"] == 0.0


def test_the_same_change_made_smoothly_has_no_jump_and_finite_zeros() -> None:
    m = _measure(_outcome(abrupt=False, drop=0.05))
    assert m == {**m, "jump_count": 0.0, "jumping_features": 0.0, "jump_share": 0.0, "jump_loss_drop_fraction": 0.0}


def test_the_rule_scales_with_the_run_and_never_fires_on_a_ramp() -> None:
    for n in (21, 101, 251, 401):
        rule = tm.jump_rule(n)
        assert tr.ramp_never_fires(rule), rule
        assert rule.span() < n
    assert tm.jump_rule(251) == tr.JumpRule(jump_window=13, plateau_window=38, min_jump=0.1, band=0.05)


def test_without_snapshots_the_metrics_say_what_to_set() -> None:
    o = Outcome(points=[{}], arrays={"W": np.zeros((1, 1, 2, 3))})
    with pytest.raises(ValueError, match="snapshot_every"):
        tm.trajectory_metrics["jump_count"].fn(o, None)


def test_a_tiny_toy_run_gives_trajectories_metrics_and_the_figure(tmp_path: Path) -> None:
    raw = dict(
        model="relu_output",
        n_features=12,
        n_hidden=3,
        sparsity=0.7,
        seeds=2,
        steps=200,
        lr=0.01,
        batch_size=128,
        snapshot_every=5,
        eval_samples=2048,
        plots=["trajectories"],
    )
    cfg = converter.structure(raw, ToyConfig)
    o = run_toy(cfg, RunContext(device="cpu"))
    D = toy_metrics["dimensionality_trajectory"].fn(o, cfg)
    assert D.shape == (1, 2, 41, 12) and np.isfinite(D).all()  # steps 0, 5, …, 195, 199
    for name in ("jump_count", "jump_share", "jump_loss_drop_fraction", "random_loss_drop_fraction"):
        values = toy_metrics[name].fn(o, cfg)
        assert values.shape == (1, 2) and np.isfinite(values).all()
    (path,) = PLOTS["trajectories"](o, cfg, tmp_path, "run")
    assert path.exists() and path.stat().st_size > 0
