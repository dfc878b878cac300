"""Tests for the phase-diagram experiment kinds (verify/experiments/phase.py, phase_free_optimum.py).

Most tests score hand-built Outcomes — the named solutions of `analytic.two_in_one` and
`analytic.three_in_two` placed in every cell — so the metrics and the verdicts are checked without
training; two tiny batched runs check the training path and the linear control end to end.
"""

from __future__ import annotations

import textwrap

import attrs
import numpy as np
import pytest
from scipy import optimize

from analytic import three_in_two, two_in_one
from tests.conftest import SPECS, write_spec
from verify.checks import judge_check
from verify.errors import SpecErrors
from verify.experiments.phase import (
    PHASE,
    PHASE_PARTS,
    PHASE_POINT,
    Axis,
    PhaseConfig,
    PhasePointConfig,
    boundary_distance,
    merge_phase,
    phase_tables,
    run_phase,
    run_phase_part,
    run_phase_point,
    train_cells,
)
from verify.experiments.phase_free_optimum import (
    FREE_OPTIMUM_PARTS,
    PHASE_FREE_OPTIMUM,
    FreeOptimumConfig,
    merge_free_optimum,
    run_free_optimum,
    run_free_optimum_part,
)
from verify.kind import Outcome, RunContext, part_seed
from verify.loading import load_spec_file, load_specs
from verify.registry import ANALYTIC

MODULES = {"two_in_one": two_in_one, "three_in_two": three_in_two}


def ideal_outcome(config: PhaseConfig, swap: dict[str, str] | None = None) -> Outcome:
    """Every cell holds the analytic winner's named solution (or `swap[winner]`'s), as `run_phase` lays it out."""
    mod = MODULES[config.diagram]
    r, p = config.r.array(), config.p.array()
    W = np.zeros((r.size, p.size, mod.N_HIDDEN, mod.N_FEATURES))
    b = np.zeros((r.size, p.size, mod.N_FEATURES))
    loss = np.zeros((r.size, p.size))
    for i, j in np.ndindex(loss.shape):
        name = mod.phase(r[i], p[j])
        name = (swap or {}).get(name, name)
        W[i, j], b[i, j] = mod.solutions(r[i], p[j])[name]
        loss[i, j] = mod.losses(r[i], p[j])[name]
    return Outcome(
        points=[{}],
        arrays={
            "r": r[None, None],
            "p": p[None, None],
            "W": W[None, None],
            "b": b[None, None],
            "loss": loss[None, None],
            "restart_loss": loss[None, None, ..., None],
        },
    )


def _judge(spec_path, outcome, config) -> bool:
    spec = load_spec_file(spec_path)
    return all(judge_check(c, outcome, config, PHASE.metrics, ANALYTIC).passed for c in spec.check)


def _metric(name: str, outcome: Outcome, config) -> float:
    return float(PHASE.metrics[name].fn(outcome, config)[0, 0])


# ----------------------------------------------------------------------------- axes and validation
def test_axis_log_grid_and_list():
    assert np.allclose(Axis(log=(0.1, 10.0), points=3).array(), [0.1, 1.0, 10.0])
    assert Axis(values=(0.2, 0.5)).array().tolist() == [0.2, 0.5]


BAD = textwrap.dedent("""
    id = "x.bad"
    title = "t"
    claim = "c"
    [source]
    paper = "p"
    section = "s"
    [experiment]
    kind = "phase"
    {line}
    [[check]]
    metric = "agreement"
    rule = "at_least"
    expect = 0.95
""")


@pytest.mark.parametrize(
    "line,message",
    [
        ("r = { log = [10, 0.1], points = 5 }", "experiment.r: log = [low, high] needs 0 < low < high (got [10, 0.1])"),
        ("r = { log = [0.1, 10], points = 1 }", "experiment.r: points must be >= 2 (got 1)"),
        (
            "r = { log = [0.1, 10] }",
            "experiment.r: expected { log = [low, high], points = n } or a list of values, got keys ['log']",
        ),
        ("p = [0.5, 1.5]", "experiment.p: must lie in (0, 1] (got 1.5)"),
        (
            'diagram = "two_in_on"',
            "experiment.diagram: unknown value 'two_in_on' (did you mean 'two_in_one'?); "
            "known: three_in_two, two_in_one",
        ),
    ],
)
def test_bad_phase_specs_name_the_field(tmp_path, line, message):
    path = write_spec(tmp_path, "x.bad.toml", BAD.format(line=line))
    with pytest.raises(SpecErrors) as err:
        load_specs([path])
    assert [str(e) for e in err.value.errors] == [f"{path}: {message}"]


def test_phase_specs_resolve_per_profile():
    spec = load_spec_file(SPECS / "tms.two-in-one-phase.toml")
    from verify.validation import experiment_config

    quick, full = experiment_config(spec, "quick"), experiment_config(spec, "full")
    assert quick.r.array().size == 11 and full.r.array().size == 25
    assert experiment_config(spec, "quick", control=True).model == "linear"


# ----------------------------------------------------------------------------- scoring and verdicts
@pytest.mark.parametrize("diagram", ["two_in_one", "three_in_two"])
def test_named_solutions_everywhere_pass_and_the_linear_picture_fails(diagram):
    config = PhaseConfig(diagram=diagram, r=Axis(log=(0.1, 10.0), points=11), p=Axis(log=(0.01, 1.0), points=11))
    spec = SPECS / f"tms.{diagram.replace('_', '-')}-phase.toml"
    ideal = ideal_outcome(config)
    assert _metric("agreement", ideal, config) == 1.0 and _metric("disagreements", ideal, config) == 0
    assert _metric("loss_gap", ideal, config) == pytest.approx(0.0, abs=1e-12)
    assert _judge(spec, ideal, config)
    # what the linear model can do: keep the more important feature(s), never superpose
    linear = {"superposition": "not_learned", "antipodal_pair": "dedicated"}
    flipped = ideal_outcome(config, swap=linear)
    assert _metric("superposition_agreement", flipped, config) == 0.0
    assert _metric("agreement", flipped, config) < 0.5
    assert not _judge(spec, flipped, config)


def test_a_few_wrong_cells_are_tolerated_many_are_not():
    config = PhaseConfig(r=Axis(log=(0.1, 10.0), points=11), p=Axis(log=(0.01, 1.0), points=11))
    spec = SPECS / "tms.two-in-one-phase.toml"
    out = ideal_outcome(config)
    t = phase_tables(out, config)
    judged = np.argwhere(~t["near"] & (t["analytic"] != "superposition"))  # 24 of the 103 judged cells
    W = out.arrays["W"][0, 0]
    for i, j in judged[:4]:  # 4 of 103 judged cells wrong: 96% agree
        W[i, j] = [[1.0, 1.0]]  # both learned, same sign: OTHER
    assert _metric("agreement", out, config) == pytest.approx(1 - 4 / 103)
    assert _metric("superposition_agreement", out, config) == 1.0
    assert _judge(spec, out, config)
    for i, j in judged[4:8]:  # 8 wrong: 92%
        W[i, j] = [[1.0, 1.0]]
    assert _metric("other_cells", out, config) == 8
    assert not _judge(spec, out, config)


def test_cells_near_a_boundary_are_not_judged():
    config = PhaseConfig(r=Axis(values=(0.2, 1.0)), p=Axis(values=(0.02, 0.9)), margin=0.1)
    out = ideal_outcome(config)
    t = phase_tables(out, config)
    assert t["near"].tolist() == [[False, False], [False, True]]  # (1, 0.9): r = 1 above the triple point
    out.arrays["W"][0, 0, 1, 1] = [[1.0, -1.0]]  # wrong there, but not judged
    assert _metric("agreement", out, config) == 1.0 and _metric("judged_cells", out, config) == 3


# ----------------------------------------------------------------------------- training, end to end
FAST_TRAIN = dict(restarts=4, steps=150, lr=0.05, schedule="cosine", batch_size=256)


def test_tiny_grid_trains_into_the_analytic_phases_and_linear_does_not():
    config = PhaseConfig(r=Axis(values=(0.2, 5.0)), p=Axis(values=(0.02, 0.9)), **FAST_TRAIN)
    out = run_phase(config, RunContext(device="cpu"))
    assert out.arrays["W"].shape == (1, 1, 2, 2, 1, 2) and out.arrays["restart_loss"].shape == (1, 1, 2, 2, 4)
    t = phase_tables(out, config)
    assert t["analytic"].tolist() == [["superposition", "not_learned"], ["superposition", "dedicated"]]
    assert (t["empirical"] == t["analytic"]).all()
    # the kept restart is the one with the lowest exact loss
    assert np.allclose(out.arrays["loss"], out.arrays["restart_loss"].min(axis=-1))
    linear = run_phase(attrs.evolve(config, model="linear"), RunContext(device="cpu"))
    assert _metric("superposition_agreement", linear, config) == 0.0


def test_a_chunked_map_is_its_parts_each_with_its_own_stream():
    config = PhaseConfig(r=Axis(values=(0.2, 5.0)), p=Axis(values=(0.02, 0.9)), **FAST_TRAIN)
    ctx = RunContext(device="cpu")
    whole = run_phase(config, ctx)
    # one part: the unsplit run, seeded with the config's seed
    assert PHASE_PARTS.count(config) == 1 and whole.info["parts"] == 1
    W, _, loss = train_cells(config, np.array([0.2, 0.2, 5.0, 5.0]), np.array([0.02, 0.9, 0.02, 0.9]), ctx)
    np.testing.assert_array_equal(whole.arrays["restart_loss"].reshape(4, -1), loss)
    # three parts of the four cells (2, 1, 1), each trained alone, merge into the chunked run
    chunked = attrs.evolve(config, chunks=3)
    assert PHASE_PARTS.count(chunked) == 3 and PHASE_PARTS.count(attrs.evolve(config, chunks=9)) == 4
    parts = [run_phase_part(chunked, i, ctx) for i in range(3)]
    assert [p.arrays["loss"].shape[0] for p in parts] == [2, 1, 1]
    merged = run_phase(chunked, ctx)
    assert merged.digest() == merge_phase(chunked, parts).digest() and merged.info["parts"] == 3
    # each part draws from its own stream: the first part's cells are not the unsplit run's
    assert not np.array_equal(parts[0].arrays["loss"], loss[:2])
    assert part_seed(0, 0, 1) == 0 and len({part_seed(0, i, 3) for i in range(3)} | {0}) == 4
    assert part_seed(-1, 0, 1) == -1 and part_seed(-1, 1, 2) >= 0  # any integer seed splits


def test_phase_point_reports_agreement_and_distance():
    config = PhasePointConfig(log10_r=-0.7, log10_p=-1.5, **FAST_TRAIN)  # r = 0.2, p = 0.03: superposition
    out = run_phase_point(config, RunContext(device="cpu"))
    m = {k: float(x.fn(out, config)[0, 0]) for k, x in PHASE_POINT.metrics.items()}
    assert m["agrees"] == 1.0 and m["agrees_or_near"] == 1.0
    # the box [r·10^±d] × [p·10^±d] first touches the boundary where p·10^d = p_c(r·10^−d)
    d = optimize.brentq(lambda d: np.log10(two_in_one.critical_density(0.2 * 10**-d)) - (-1.5 + d), 0, 1)
    assert m["boundary_distance"] == pytest.approx(d, abs=0.01)
    linear = attrs.evolve(config, model="linear")
    out = run_phase_point(linear, RunContext(device="cpu"))
    assert float(PHASE_POINT.metrics["agrees_or_near"].fn(out, linear)[0, 0]) == 0.0
    assert float(PHASE_POINT.metrics["in_nearby_phase"].fn(out, linear)[0, 0]) == 0.0
    assert m["in_nearby_phase"] == 1.0


def test_in_nearby_phase_judges_points_near_a_boundary():
    """Near a boundary `agrees_or_near` passes whatever the model does; `in_nearby_phase` only
    accepts the phases that meet there (here superposition and not_learned), not dedicated."""
    r = 0.2
    config = PhasePointConfig(log10_r=np.log10(r), log10_p=float(np.log10(two_in_one.critical_density(r))))
    W = {"not_learned": [[1.0, 0.0]], "superposition": [[1.0, -1.0]], "dedicated": [[0.0, 1.0]]}
    seen = {}
    for name, w in W.items():
        arrays = {
            "W": np.array(w)[None, None],  # (1, 1, H, F), as run_phase_point leaves it
            "loss": np.ones((1, 1)),
            "r": np.array([[[r]]]),
            "p": np.array([[[10**config.log10_p]]]),
        }
        out = Outcome(points=[{}], arrays=arrays)
        seen[name] = float(PHASE_POINT.metrics["in_nearby_phase"].fn(out, config)[0, 0])
        assert float(PHASE_POINT.metrics["agrees_or_near"].fn(out, config)[0, 0]) == 1.0
    assert seen == {"not_learned": 1.0, "superposition": 1.0, "dedicated": 0.0}


def test_boundary_distance():
    assert boundary_distance("two_in_one", 1.0, 0.9) < 0.01  # on the line r = 1 above the triple point
    assert boundary_distance("two_in_one", 1.0, 0.1) > 0.5  # r = 1 is no boundary below it
    assert boundary_distance("three_in_two", 1.0, 0.1) < 0.01  # ... in 3-in-2 it is
    far = boundary_distance("two_in_one", 0.2, 0.01, limit=2.0)
    assert 0.5 < far < 2.0


# ----------------------------------------------------------------------------- free optimum
def test_free_optimum_kind_and_its_linear_control():
    config = FreeOptimumConfig(
        r=Axis(values=(0.3, 3.0)), p=Axis(values=(0.03,)), restarts=0, boundary_r=Axis(values=(0.3,)), boundary_tol=0.02
    )
    out = run_free_optimum(config, RunContext())
    m = {k: float(x.fn(out, config)[0, 0]) for k, x in PHASE_FREE_OPTIMUM.metrics.items()}
    assert m["excess_over_closed_form"] <= 1e-12 and m["free_agreement"] == 1.0
    assert 0.02 < m["boundary_shift"] < 0.1  # 0.039 decades at r = 0.3
    assert m["boundary_rise"] == m["boundary_shift"]  # it moves up
    assert 0.3 < m["free_kink"] < 1.0  # the slope still drops at the free boundary (first order)
    assert m["probe_margin"] == pytest.approx(1 / 12 - 0.07628, abs=2e-4) and m["probe_superposed"] == 1.0
    spec = load_spec_file(SPECS / "tms.phase-free-optimum.toml")
    assert all(judge_check(c, out, config, PHASE_FREE_OPTIMUM.metrics, ANALYTIC).passed for c in spec.check)
    linear = attrs.evolve(config, model="linear")
    out = run_free_optimum(linear, RunContext())
    results = [judge_check(c, out, linear, PHASE_FREE_OPTIMUM.metrics, ANALYTIC) for c in spec.check]
    assert [r.metric for r in results if not r.passed] == [
        "excess_over_closed_form",
        "free_agreement",
        "boundary_shift",
        "boundary_rise",
        "free_kink",
        "probe_margin",
        "probe_superposed",
    ]


def test_free_optimum_parts_are_rows_boundaries_and_the_probe():
    """Each part depends only on the config: computed in any order, they merge into the whole run."""
    config = FreeOptimumConfig(
        r=Axis(values=(0.3, 3.0)),
        p=Axis(values=(0.03, 0.5)),
        restarts=0,
        boundary_r=Axis(values=(0.3,)),
        boundary_tol=0.05,
    )
    assert FREE_OPTIMUM_PARTS.count(config) == 2 + 1 + 1
    seen: list[tuple[int, int]] = []
    ctx = RunContext(progress=lambda n, total: seen.append((n, total)))
    parts = {i: run_free_optimum_part(config, i, ctx) for i in reversed(range(4))}
    merged = merge_free_optimum(config, [parts[i] for i in range(4)])
    whole = run_free_optimum(config, RunContext())
    assert merged.digest() == whole.digest() and merged.arrays["free_W"].shape == (1, 1, 2, 2, 1, 2)
    assert seen == [(1, 6)] * 6  # 4 cells, 1 boundary, the probe: one tick each, in the whole run's units


# ----------------------------------------------------------------------------- plots
def test_plots_write_pngs(tmp_path):
    config = PhaseConfig(diagram="three_in_two", r=Axis(log=(0.1, 10.0), points=5), p=Axis(log=(0.01, 1.0), points=4))
    (path,) = PHASE.plot(ideal_outcome(config), config, tmp_path, "phase")
    assert path.stat().st_size > 10_000
