"""`benchmarks/full_profile_cost.py` sizes every spec's full-profile config without running it: the
instances of one batched run and the FLOPs of its step (a d_sae sweep included)."""

from __future__ import annotations

from tests.conftest import SPECS, load_benchmark
from verify.loading import load_specs
from verify.validation import experiment_config, experiment_kind


def test_every_spec_is_sized_at_full() -> None:
    cost = load_benchmark("full_profile_cost")
    sized = {}
    for spec in load_specs([SPECS]):
        kind = experiment_kind(spec)
        config = experiment_config(spec, "full", False)
        if kind.name in ("phase", "toy", "sae", "abs_value"):
            n = cost.instances(config, kind.axes)
            sized[spec.id] = (n, cost.step_flops(config, n))
    assert sized["tms.two-in-one-phase"][0] == 25 * 25 * 10
    n, flops = sized["sae.scaling"]  # d_sae ∈ a list: the sizes' mean
    config = experiment_config(next(s for s in load_specs([SPECS]) if s.id == "sae.scaling"), "full", False)
    mean_d = sum(config.d_sae) / len(config.d_sae)
    assert flops == 10.0 * n * config.batch_size * mean_d * config.n_dims
    assert all(n > 0 and f > 0 for n, f in sized.values())
