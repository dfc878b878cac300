"""`superposition-lab new ID`: a spec file with every field commented that passes as written.

The template is a real, tiny claim (TMS "Demonstrating Superposition": the tied linear model with
m = 2 hidden dimensions keeps exactly the 2 most important of 5 features), with a control that
fails it (the ReLU-output model at sparsity 0.9 superposes more than m features). It trains in a
second or two at profile quick, so a new file in specs/ never breaks the suite before it is edited;
tests/verify/test_cli.py runs it.
"""

from __future__ import annotations

from pathlib import Path

from verify.files import writable_dir

__all__ = ["TEMPLATE", "scaffold_text", "write_scaffold"]

TEMPLATE = """# {id}: one claim, one falsifiable check. As written this is a tiny real claim that passes with
# its control failing (about a second to train): edit it into yours. Fields you do not set take the
# defaults in verify/experiments/<kind>.py; `superposition-lab metrics` lists every kind's metrics.
# Any experiment value may differ per profile: {{ quick = …, full = … }}.
id = "{id}"
title = "The tied linear model keeps exactly the top-m features"
claim = "With m = 2 hidden dimensions the linear model keeps exactly the top 2 of 5 features at any sparsity."
tags = ["tms"]
# status = "refuted"   # when measurement contradicts the source: the claim must fail, the control pass

[source]
paper = "Toy Models of Superposition"
section = "Demonstrating Superposition"
# url = "https://transformer-circuits.pub/2022/toy_model/index.html"

[experiment]
kind = "toy"                         # toy | sae | phase | phase_point | polytope | … (superposition-lab metrics)
model = "linear"                     # linear | relu_output
n_features = 5
n_hidden = 2
importance = {{ geometric = 0.7 }}     # or {{ linear = [1.0, 0.1] }} or {{ uniform = 1.0 }}
sparsity = [0.0, 0.9]                # a list is a grid axis; each value is a grid point
seeds = 2                            # independent models per grid point
# restarts = 1                       # best-of-k by final loss, per seed
steps = {{ quick = 300, full = 3000 }}
batch_size = 256
lr = 0.05
schedule = "cosine"                  # constant | linear | cosine
# weight_decay = 0.01
# warmup = 0
# clip_grad_norm = 0.0               # > 0: cap each model's gradient norm (SAELens clips at 1)
eval_samples = 16384
# seed = 0

[[check]]
metric = "represented_features"      # superposition-lab metrics toy: every metric with its meaning
rule = "equal"                       # equal | close | at_most | at_least | monotone
expect = "analytic.linear.top_m"     # a number, "experiment.<field>" or "analytic.<module>.<name>"
# rel_tol = 0.0
# abs_tol = 0.0
# reduce = "each"                    # each | median | mean | min | max (across seeds)
# at = {{ sparsity = 0.9 }}            # judge only these grid points (values of the grid)
# min_fraction = 0.8                 # instead of "every case": a binomial lower bound on the pass rate
# confidence = 0.9
# axis = "sparsity"                  # monotone only
# direction = "increasing"           # monotone only
why = "The linear model's optimum is the top-m features (TMS); the ReLU control must superpose more."

[[check]]
metric = "n_represented"
rule = "at_most"
expect = "experiment.n_hidden"
why = "m hidden dimensions hold at most m orthogonal features."

[control]                            # overrides under which the claim must NOT hold
model = "relu_output"
sparsity = [0.9]
"""


def scaffold_text(spec_id: str) -> str:
    return TEMPLATE.format(id=spec_id)


def write_scaffold(spec_id: str, folder: str | Path) -> Path:
    """Write `<folder>/<id>.toml`; ValueError (one line) when the folder is unusable or the file exists."""
    folder = Path(folder)
    why = writable_dir(folder)
    if why:
        raise ValueError(f"--specs {folder}: {why}")
    path = folder / f"{spec_id}.toml"
    if path.exists():
        raise ValueError(f"{path}: already exists")
    try:
        path.write_text(scaffold_text(spec_id), encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
