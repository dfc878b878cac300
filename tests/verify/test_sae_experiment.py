"""The `sae` experiment kind: config validation, a tiny run, its metrics, the frontier, verdict flips."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from superposition_lab.models import SAES
from tests.conftest import write_spec
from verify.checks import judge_check
from verify.errors import structure_errors
from verify.experiments.sae import SAE_PARTS, merge_sae, run_sae, run_sae_part
from verify.experiments.sae_config import VARIANTS, GatedVariant, L1Variant, SAEConfig, TopKVariant
from verify.experiments.sae_measures import frontier_fvu, sae_metrics
from verify.experiments.sae_plot import plot_sae
from verify.experiments.sae_size_metrics import size_metrics
from verify.kind import Outcome, RunContext
from verify.loading import load_specs
from verify.registry import ANALYTIC
from verify.runner import judge_spec
from verify.spec import Check, converter

BASE = dict(variant="l1", n_features=6, n_dims=4, d_sae=8, density=0.2, steps=30, eval_samples=4096)


def config(**kw) -> SAEConfig:
    return converter.structure({**BASE, **kw}, SAEConfig)


@pytest.mark.parametrize(
    "bad, field",
    [
        (dict(directions="orthogonal"), "directions"),  # n = 6 > m = 4
        (dict(variant="topk", k=[2, 9]), "k"),  # K > d_sae
        (dict(k=2.5), "k"),
        (dict(firing=[0.1, 0.2]), "firing"),
        (dict(parents=[-1, 2, -1, -1, -1, -1]), "parents"),
        (dict(absorption_pair=[0, 0]), "absorption_pair"),
        (dict(variant="sparse"), "variant"),
        (dict(variant={"name": "topk", "aux_k": -1}), "aux_k"),
        (dict(variant={"resample_every": 3}), "name"),
        (dict(baseline_penalty=[0.1]), "baseline_penalty"),  # a baseline grid without a baseline
        (dict(density=[0.1, 1.5]), "density"),
        (dict(alive_min_fires=0), "alive_min_fires"),
        (dict(variant={"name": "l1", "resample_pool": 0}), "resample_pool"),
        (dict(variants=7), "variants"),  # more variants than features
        (dict(variants=2, directions="orthogonal", n_dims=6), "variants"),  # d0 needs a 7th dimension
        (dict(d_sae=[8, 0]), "d_sae"),
        (dict(variant="topk", k=4, d_sae=[2, 8]), "k"),  # K > the smallest d_sae
    ],
)
def test_config_validation_names_the_field(bad: dict, field: str) -> None:
    with pytest.raises(Exception) as exc:
        config(**bad)
    assert any(path.split(".")[-1] == field for path, _ in structure_errors(exc.value, "experiment"))


@pytest.mark.parametrize(
    "variant, knob",
    [
        ("l1", "aux_k"),
        ("topk", "resample_every"),
        ("gated", "threshold_init"),
        ("pca", "resample_scale"),
        ("jumprelu", "threshold_int"),
    ],
)
def test_a_knob_the_variant_lacks_is_an_unknown_key_under_variant(variant: str, knob: str) -> None:
    with pytest.raises(Exception) as exc:
        config(variant={"name": variant, knob: 1})
    assert structure_errors(exc.value, "experiment") == [(f"experiment.variant.{knob}", "unknown key")]


def test_one_config_class_per_sae_model_plus_pca() -> None:
    assert set(VARIANTS) == set(SAES) | {"pca"}
    assert all(VARIANTS[name].name == name for name in VARIANTS)


def test_each_variant_gets_only_its_own_knobs_and_axes() -> None:
    c = config(
        variant={"name": "l1", "resample_every": 10, "resample_scale": 1.0}, steps=35, penalty=[0.1, 0.2], k=[1, 2]
    )
    assert c.variant == L1Variant(resample_every=10, resample_scale=1.0)
    opts = c.variant.model_options({"penalty": [0.1, 0.2]}, c.steps)
    assert opts == dict(
        penalty=[0.1, 0.2], resample_at=[10, 20, 30], resample_from="input", resample_scale=1.0, resample_pool=8192
    )
    assert config(variant="gated").variant == GatedVariant()
    assert config(variant="jumprelu").variant.model_options({"penalty": [0.1], "bandwidth": [0.2]}, 9) == dict(
        penalty=[0.1], bandwidth=[0.2], threshold_init=0.05, form="jump", threshold_param="log"
    )
    assert config(variant={"name": "topk", "aux_k": 6}).variant.model_options({"k": [2.0]}, 9) == dict(
        k=[2], aux_coeff=1 / 32, aux_k=6
    )
    assert config(variant="pca").variant.axes == ()
    base = config(variant="gated", baseline={"name": "topk", "aux_coeff": 0.0}, penalty=[0.1], baseline_k=[2])
    side = base.baseline_config()
    assert side.variant == TopKVariant(aux_coeff=0.0) and side.baseline is None and side.k == [2]


@pytest.fixture(scope="module")
def outcome() -> tuple[Outcome, SAEConfig]:
    c = config(
        variant="gated",
        baseline="l1",
        penalty=[0.1, 0.3],
        baseline_penalty=[0.05, 0.1, 0.3],
        seeds=2,
        rescale_shift=True,
    )
    return run_sae(c, RunContext(device="cpu")), c


def test_tiny_run_has_the_documented_arrays(outcome) -> None:
    o, c = outcome
    assert o.points == [{"penalty": 0.1}, {"penalty": 0.3}]
    assert o.arrays["W_dec"].shape == (2, 2, 4, 8) and o.arrays["directions"].shape == (2, 4, 6)
    assert o.arrays["baseline_l0"].shape == (3, 2)
    assert o.info["baseline_points"] == [{"penalty": 0.05}, {"penalty": 0.1}, {"penalty": 0.3}]
    for name, metric in sae_metrics.items():
        if name in size_metrics:  # need a feature family or a d_sae sweep (tests/verify/test_sae_size_metrics.py)
            with pytest.raises(ValueError):
                metric.fn(o, c)
            continue
        if name in ("baseline_gamma", "shrinkage_ratio"):  # need the same grid on both sides
            with pytest.raises(ValueError, match="same grid"):
                metric.fn(o, c)
            continue
        assert metric.fn(o, c).shape[:2] == (2, 2), name
    np.testing.assert_allclose(np.linalg.norm(o.arrays["W_dec"], axis=2), 1.0, atol=1e-5)


def test_rescale_shift_keeps_l0_and_never_loses_much_fvu(outcome) -> None:
    o, _ = outcome
    for side in ("", "baseline_"):
        fvu, fitted = o.arrays[f"{side}fvu"], o.arrays[f"{side}rescaled_fvu"]
        assert fitted.shape == fvu.shape and np.isfinite(fitted).all()
        # fitted on other inputs, so not exactly ≤ on the evaluation set, but the identity is a candidate
        assert (fitted <= fvu * 1.05 + 1e-6).all()
    base = o.arrays["baseline_gamma"]
    assert (np.abs(1 - o.arrays["baseline_rescaled_gamma"]) <= np.abs(1 - base) + 0.02).all()


def test_rescaled_metrics_need_the_fit() -> None:
    o = run_sae(config(variant="l1", baseline="l1", steps=5, eval_samples=512), RunContext(device="cpu"))
    assert "rescaled_fvu" not in o.arrays
    for name in ("rescaled_fvu", "rescaled_gamma", "relative_rescaled_frontier_gain"):
        with pytest.raises(ValueError, match="rescale_shift"):
            sae_metrics[name].fn(o, None)


def test_plot_writes_a_png(outcome, tmp_path) -> None:
    o, c = outcome
    (path,) = plot_sae(o, c, tmp_path, "sae.test")
    assert path.exists() and path.stat().st_size > 1000


def test_pca_reference_and_the_untrained_dictionary() -> None:
    pca = run_sae(config(variant="pca", d_sae=4), RunContext(device="cpu"))
    assert pca.arrays["fvu"].max() < 1e-6 and pca.arrays["W_dec"].shape[-1] == 4  # rank m: exact
    raw = run_sae(config(steps=0), RunContext(device="cpu"))
    assert raw.arrays["gamma"].shape == (1, 1)


def test_alive_means_firing_on_at_least_alive_min_fires_eval_inputs() -> None:
    # the untrained dictionary (biases 0) fires on some of 512 inputs with every latent; asking for more
    # firings than there are inputs leaves every latent dead
    def dead(k: int) -> float:
        outcome = run_sae(config(steps=0, eval_samples=512, alive_min_fires=k), RunContext(device="cpu"))
        return float(outcome.arrays["dead_fraction"][0, 0])

    assert dead(1) == 0.0 and dead(513) == 1.0
    assert config().alive_min_fires == 10  # the default


def test_frontier_interpolates_in_log_log_and_is_conservative() -> None:
    l0, fvu = np.array([1.0, 4.0, 2.0]), np.array([0.4, 0.025, 0.1])  # FVU = 0.4/L0²: a power law
    np.testing.assert_allclose(frontier_fvu(l0, fvu, [1.0, 2.0, 3.0, 4.0]), 0.4 / np.array([1, 4, 9, 16.0]))
    assert frontier_fvu(l0, fvu, [0.5])[0] == 0.4  # below the range: the sparsest point (a lower bound)
    assert np.isnan(frontier_fvu(l0, fvu, [5.0])[0])  # above it: unknown
    # a dominated baseline point does not count: the frontier is the running minimum
    np.testing.assert_allclose(frontier_fvu(np.array([1.0, 2.0]), np.array([0.1, 0.3]), [2.0]), [0.1])


def fake(gamma, baseline_gamma, l0=None, fvu=None, bl0=None, bfvu=None) -> Outcome:
    P = len(gamma)
    arrays = {
        "gamma": np.array(gamma)[:, None],
        "baseline_gamma": np.array(baseline_gamma)[:, None],
        "l0": np.array(l0 or [1.0] * P)[:, None],
        "fvu": np.array(fvu or [0.1] * P)[:, None],
        "baseline_l0": np.array(bl0 or [1.0] * P)[:, None],
        "baseline_fvu": np.array(bfvu or [0.1] * P)[:, None],
    }
    return Outcome(points=[{"penalty": 0.1 * (i + 1)} for i in range(P)], arrays=arrays)


def test_shrinkage_verdict_flips_when_the_gated_side_shrinks() -> None:
    check = Check(metric="shrinkage_ratio", rule="at_most", expect=0.1)
    c = config(penalty=[0.1, 0.2])
    assert judge_check(check, fake([0.995, 1.003], [0.9, 0.8]), c, sae_metrics, ANALYTIC).passed
    assert not judge_check(check, fake([0.9, 0.8], [0.9, 0.8]), c, sae_metrics, ANALYTIC).passed


def test_frontier_verdict_flips_when_the_variant_is_not_better() -> None:
    check = Check(metric="relative_frontier_gain", rule="at_least", expect=0.3)
    c = config(penalty=[0.1, 0.2])
    better = fake([1, 1], [1, 1], l0=[1.5, 3.0], fvu=[0.05, 0.01], bl0=[1.0, 2.0, 4.0], bfvu=[0.4, 0.1, 0.025])
    same = fake([1, 1], [1, 1], l0=[1.0, 2.0], fvu=[0.4, 0.1], bl0=[1.0, 2.0, 4.0], bfvu=[0.4, 0.1, 0.025])
    assert judge_check(check, better, c, sae_metrics, ANALYTIC).passed
    assert not judge_check(check, same, c, sae_metrics, ANALYTIC).passed
    beyond = fake([1, 1], [1, 1], l0=[1.5, 9.0], fvu=[0.05, 0.001], bl0=[1.0, 2.0, 4.0], bfvu=[0.4, 0.1, 0.025])
    assert not judge_check(check, beyond, c, sae_metrics, ANALYTIC).passed  # L0 beyond the baseline's range: NaN


def test_rescaled_frontier_verdict_flips_when_the_gain_is_only_shrinkage() -> None:
    """The gated side beats the raw L1 frontier, but the repaired L1 frontier only when its own gain is real."""
    check = Check(metric="relative_rescaled_frontier_gain", rule="at_least", expect=0.1, reduce="mean")
    c = config(penalty=[0.1, 0.2])
    bl0, bfvu = [1.0, 2.0, 4.0], [0.4, 0.1, 0.025]

    def side(fvu: list[float], base_fitted: list[float]) -> Outcome:
        o = fake([1, 1], [1, 1], l0=[1.5, 3.0], fvu=fvu, bl0=bl0, bfvu=bfvu)
        o.arrays["rescaled_fvu"] = np.array(fvu)[:, None]
        o.arrays["baseline_rescaled_fvu"] = np.array(base_fitted)[:, None]
        return o

    shrinkage_only = side([0.1, 0.025], [0.2, 0.05, 0.0125])  # undoing the L1 shrinkage halves its FVU
    more = side([0.05, 0.01], [0.2, 0.05, 0.0125])
    assert judge_check(
        Check(metric="relative_frontier_gain", rule="at_least", expect=0.3), shrinkage_only, c, sae_metrics, ANALYTIC
    ).passed
    assert not judge_check(check, shrinkage_only, c, sae_metrics, ANALYTIC).passed
    assert judge_check(check, more, c, sae_metrics, ANALYTIC).passed


TOPK_SPEC = textwrap.dedent("""
    id = "test.topk-l0"
    title = "TopK keeps at most K"
    claim = "A TopK SAE (ReLU after TopK) keeps at most K latents active on every input (a tiny, fast version)."
    [source]
    paper = "Gao et al. 2024"
    section = "2.3"
    [experiment]
    kind = "sae"
    variant = "topk"
    n_features = 6
    n_dims = 4
    d_sae = 8
    k = [1, 3]
    steps = 20
    eval_samples = 2048
    [[check]]
    metric = "l0_max"
    rule = "at_most"
    expect = "experiment.k"
    [control]
    variant = "l1"
""")


def test_tiny_spec_passes_and_its_control_fails(tmp_path) -> None:
    (spec,) = load_specs([write_spec(tmp_path / "specs", "test.topk-l0.toml", TOPK_SPEC)])
    result = judge_spec(spec, profile="quick", device="cpu")
    assert result.verdict == "pass"
    assert result.control is not None and not result.control.passed


def test_each_program_is_a_part_and_the_parts_merge_into_the_run():
    """A variant over three dictionary sizes and its baseline: four programs, each depending only on
    (config, part), so they can run anywhere and in any order."""
    c = config(variant="topk", k=2, d_sae=[4, 8, 12], seeds=2, baseline="l1", baseline_penalty=[0.1], steps=10)
    assert SAE_PARTS.count(c) == 3 + 3  # the baseline sweeps the same sizes
    assert SAE_PARTS.count(config()) == 1 and SAE_PARTS.count(config(baseline="l1")) == 2
    ctx = RunContext(device="cpu")
    parts = {i: run_sae_part(c, i, ctx) for i in reversed(range(6))}
    merged = merge_sae(c, [parts[i] for i in range(6)])
    whole = run_sae(c, ctx)
    assert merged.digest() == whole.digest() and whole.info["parts"] == 6
    assert whole.arrays["W_dec"].shape == (3, 2, 4, 12) and whole.arrays["baseline_l0"].shape == (3, 2)
    assert "directions" in parts[0].arrays and "directions" not in parts[1].arrays
    # the run's directions (S, H, F) are not per-(point, seed) arrays even when S = H and a program has S rows
    square = config(n_features=3, n_dims=2, d_sae=[2, 3], k=1, penalty=[0.1, 0.2], seeds=2, steps=5, eval_samples=256)
    out = run_sae(square, ctx)
    assert out.arrays["directions"].shape == (2, 2, 3) and out.arrays["W_dec"].shape == (4, 2, 2, 3)
