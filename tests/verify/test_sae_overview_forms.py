"""The SAE overview's simplified forms as variant knobs: `gated.gate = "sigmoid"` and
`jumprelu.form = "shifted_relu"` (specs/sae.overview-*.toml); the defaults stay the papers' models."""

from __future__ import annotations

import numpy as np
import pytest

from verify.errors import structure_errors
from verify.experiments.sae import run_sae
from verify.experiments.sae_config import GatedVariant, JumpReLUVariant, SAEConfig
from verify.kind import RunContext
from verify.spec import converter

BASE = dict(n_features=6, n_dims=4, d_sae=8, density=0.2, steps=30, eval_samples=2048)


def config(**kw) -> SAEConfig:
    return converter.structure({**BASE, **kw}, SAEConfig)


def test_defaults_are_the_papers_forms() -> None:
    assert GatedVariant().gate == "heaviside" and JumpReLUVariant().form == "jump"
    assert config(variant="gated").variant.model_options({"penalty": [0.1]}, 9)["gate"] == "heaviside"
    assert config(variant="jumprelu").variant.model_options({"penalty": [0.1], "bandwidth": [0.2]}, 9)["form"] == "jump"


def test_the_overview_forms_reach_the_models() -> None:
    gated = config(variant={"name": "gated", "gate": "sigmoid"}).variant
    assert gated == GatedVariant(gate="sigmoid")
    opts = gated.model_options({"penalty": [0.3]}, 9)
    assert opts["gate"] == "sigmoid" and opts["penalty"] == [0.3] and opts["magnitude_l1"] is False
    jump = config(variant={"name": "jumprelu", "form": "shifted_relu"}).variant
    opts = jump.model_options({"penalty": [0.1], "bandwidth": [0.2]}, 9)
    assert opts["form"] == "shifted_relu" and opts["penalty"] == [0.1] and opts["bandwidth"] == [0.2]


@pytest.mark.parametrize(
    "variant, knob, value",
    [("gated", "gate", "tanh"), ("jumprelu", "form", "relu"), ("l1", "gate", "sigmoid"), ("gated", "form", "jump")],
)
def test_bad_form_names_the_knob(variant: str, knob: str, value: str) -> None:
    with pytest.raises(Exception) as exc:
        config(variant={"name": variant, knob: value})
    assert [path for path, _ in structure_errors(exc.value, "experiment")] == [f"experiment.variant.{knob}"]


@pytest.mark.parametrize(
    "variant", [{"name": "gated", "gate": "sigmoid"}, {"name": "jumprelu", "form": "shifted_relu"}]
)
def test_a_tiny_run_of_each_overview_form_is_finite(variant: dict) -> None:
    o = run_sae(config(variant=variant, penalty=[0.01, 0.1]), RunContext(device="cpu"))
    for name in ("l0", "fvu", "gamma"):
        assert o.arrays[name].shape == (2, 1) and np.isfinite(o.arrays[name]).all()
