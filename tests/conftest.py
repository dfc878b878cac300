"""Shared fixtures: tiny specs written to a temporary folder, and the repo's specs folder.

Hypothesis' "ci" profile (loaded when $CI is set, as in .ci/run and GitHub Actions): derandomised
draws, no deadline (shared CPUs are slow), the failing example's blob printed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, database=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"

# A toy claim small enough to train in about a second (300 steps of batch 256 at lr 0.05, cosine;
# 200 steps leave the dense linear model short of the top-m features): with n=5, m=2 the linear model keeps the
# top 2 features; the ReLU control at S = 0.9 superposes more than 2.
TINY_SPEC = textwrap.dedent("""
    id = "test.tiny-linear"
    title = "tiny linear top-m"
    claim = "The linear model keeps the top-m features."
    tags = ["test"]
    [source]
    paper = "Toy Models of Superposition"
    section = "Demonstrating Superposition"
    [experiment]
    kind = "toy"
    model = "linear"
    n_features = 5
    n_hidden = 2
    importance = { geometric = 0.7 }
    sparsity = [0.0, 0.9]
    seeds = 2
    steps = { quick = 300, full = 3000 }
    batch_size = 256
    lr = 0.05
    schedule = "cosine"
    eval_samples = 16384
    [[check]]
    metric = "represented_features"
    rule = "equal"
    expect = "analytic.linear.top_m"
    [[check]]
    metric = "n_represented"
    rule = "at_most"
    expect = "experiment.n_hidden"
    why = "m hidden dimensions hold at most m orthogonal features."
    [control]
    model = "relu_output"
    sparsity = [0.9]
""")

# A phase map split into parts (`chunks`): 3 × 3 cells in three parts of three cells, two restarts
# each, 150 steps — seconds. The executor tests check that its parts, run as separate jobs, give
# the Outcome of the single-process run.
CHUNKED_PHASE_SPEC = textwrap.dedent("""
    id = "test.chunked-phase"
    title = "a 2-in-1 phase map in three parts"
    claim = "The parts of a chunked phase map merge into the map."
    tags = ["test"]
    [source]
    paper = "Toy Models of Superposition"
    section = "Superposition as a Phase Change"
    [experiment]
    kind = "phase"
    r = { log = [0.1, 10], points = 3 }
    p = { log = [0.1, 1], points = 3 }
    restarts = 2
    steps = 150
    chunks = 3
    [[check]]
    metric = "superposition_cells"
    rule = "at_least"
    expect = 1
    why = "the ReLU model superposes somewhere on the grid; the linear control never does"
    [control]
    model = "linear"
""")


@pytest.fixture
def chunked_phase_spec_path(tmp_path: Path) -> Path:
    return write_spec(tmp_path / "specs", "test.chunked-phase.toml", CHUNKED_PHASE_SPEC)


@pytest.fixture
def tiny_spec_path(tmp_path: Path) -> Path:
    return write_spec(tmp_path / "specs", "test.tiny-linear.toml", TINY_SPEC)


def write_spec(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def load_benchmark(name: str) -> ModuleType:
    """A script of benchmarks/ (not a package) imported as module `name`, for its tests."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module
