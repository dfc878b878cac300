"""The toy kind's instruments for TMS's later sections: the hidden-ReLU model, an L1 penalty on h as
a grid axis, and training snapshots."""

from __future__ import annotations

import attrs
import numpy as np

from verify.experiments.toy import TOY_PARTS, ToyConfig, merge_toy, run_toy, run_toy_part
from verify.kind import RunContext
from verify.spec import converter


def _config(**kw) -> ToyConfig:
    raw = dict(model="relu_hidden", n_features=6, n_hidden=3, sparsity=0.7, steps=120, eval_samples=4096)
    return converter.structure({**raw, **kw}, ToyConfig)


def test_hidden_l1_axis_and_reported_loss_is_reconstruction() -> None:
    cfg = _config(hidden_l1=[0.0, 1.0], seeds=2, batch_size=256, steps=300, lr=0.01)
    o = run_toy(cfg, RunContext(device="cpu"))
    assert o.points == [{"hidden_l1": 0.0}, {"hidden_l1": 1.0}] and o.arrays["W"].shape == (2, 2, 3, 6)
    # the penalty costs reconstruction (the reported loss has no penalty term: 0.18 → 0.47 measured)
    assert (o.arrays["loss"][1] > 1.5 * o.arrays["loss"][0]).all()
    # λ = 0 alone is the same run as a spec without the axis (same instances, same draws)
    plain = run_toy(_config(seeds=2, batch_size=256, steps=120), RunContext(device="cpu"))
    assert plain.arrays["W"].shape == (1, 2, 3, 6)


def test_snapshots_follow_the_kept_restart() -> None:
    cfg = _config(sparsity=[0.5, 0.9], seeds=2, restarts=2, snapshot_every=50, batch_size=128)
    o = run_toy(cfg, RunContext(device="cpu"))
    assert o.arrays["snapshot_W"].shape == (2, 2, 4, 3, 6)  # steps 0, 50, 100, 119
    assert o.arrays["snapshot_steps"][0, 0].tolist() == [0, 50, 100, 119]
    assert o.arrays["snapshot_loss"].shape == (2, 2, 4) and np.isfinite(o.arrays["snapshot_loss"]).all()
    # the last snapshot is one optimiser step before the final W: close to it, not equal
    last, final = o.arrays["snapshot_W"][:, :, -1], o.arrays["W"]
    assert np.abs(last - final).max() < 0.05 and not np.array_equal(last, final)
    assert "snapshot_W" not in run_toy(_config(), RunContext(device="cpu")).arrays


def test_a_chunked_run_is_its_parts_each_with_its_own_streams() -> None:
    cfg = _config(sparsity=[0.5, 0.9], seeds=3, restarts=2, snapshot_every=60, randomize=True, chunks=4)
    ctx = RunContext(device="cpu")
    # 2 points × 3 seeds = 6 groups in four parts (2, 2, 1, 1); a group's restarts stay together
    assert TOY_PARTS.count(cfg) == 4 and TOY_PARTS.count(attrs.evolve(cfg, chunks=50)) == 6
    parts = [run_toy_part(cfg, i, ctx) for i in reversed(range(4))][::-1]  # any order: only (config, i) matter
    assert [p.arrays["W"].shape[0] for p in parts] == [2, 2, 1, 1]
    whole = run_toy(cfg, ctx)
    assert whole.digest() == merge_toy(cfg, parts).digest() and whole.info["parts"] == 4
    assert whole.arrays["snapshot_W"].shape == (2, 3, 3, 3, 6) and whole.arrays["restart_norms"].shape == (2, 3, 2, 6)
    # one part is the unsplit run; more parts draw from their own streams
    one = run_toy(attrs.evolve(cfg, chunks=1), ctx)
    assert one.info["parts"] == 1 and not np.array_equal(one.arrays["restart_loss"], whole.arrays["restart_loss"])
