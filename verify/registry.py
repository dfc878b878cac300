"""Names a spec may use: experiment kinds (with their metrics), analytic references, check rules.

A new claim is usually a TOML file that only names registered things. A new experiment kind,
metric or closed form adds one function and one line here; unknown names fail with a suggestion.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, TypeVar

import attrs

from analytic import linear, polytopes
from analytic import sae as analytic_sae
from verify.checks import RULES
from verify.experiments import ExperimentKind
from verify.experiments.loss_decomposition import LOSS_DECOMPOSITION
from verify.experiments.phase import PHASE, PHASE_POINT
from verify.experiments.phase_free_optimum import PHASE_FREE_OPTIMUM
from verify.experiments.polytope import POLYTOPE
from verify.experiments.sae import SAE
from verify.experiments.toy import TOY
from verify.spec import PROFILES, Spec, converter, did_you_mean, field_errors

__all__ = ["Registry", "EXPERIMENTS", "ANALYTIC", "RULES", "validate_spec", "UnknownName"]

T = TypeVar("T")


class UnknownName(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """A name → entry table that refuses duplicates and explains unknown names."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str, what: str | None = None) -> T:
        if name not in self._items:
            raise UnknownName(did_you_mean(name, tuple(self._items), what or self.what))
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self):
        return self._items.items()


# ---------------------------------------------------------------- experiment kinds
EXPERIMENTS: Registry[ExperimentKind] = Registry("experiment kind")
EXPERIMENTS.register("toy", TOY)
EXPERIMENTS.register("loss_decomposition", LOSS_DECOMPOSITION)
EXPERIMENTS.register("phase", PHASE)
EXPERIMENTS.register("phase_point", PHASE_POINT)
EXPERIMENTS.register("phase_free_optimum", PHASE_FREE_OPTIMUM)
EXPERIMENTS.register("polytope", POLYTOPE)
EXPERIMENTS.register("sae", SAE)

# ---------------------------------------------------------------- analytic references
# Each takes the experiment config at one grid point and returns the expected value there.
ANALYTIC: Registry[Callable[[Any], Any]] = Registry("analytic reference")
ANALYTIC.register("analytic.linear.top_m",
                  lambda c: linear.top_m(c.importance.vector(c.n_features), c.n_hidden))
ANALYTIC.register("analytic.linear.optimal_loss",
                  lambda c: linear.optimal_loss(c.importance.vector(c.n_features), c.n_hidden, c.sparsity))
# L1 SAE on orthogonal data with U[lo, hi] coefficients (analytic/sae.py): γ, and L0 / MSE summed over
# the n independent features (each fires with the experiment's density)
ANALYTIC.register("analytic.sae.l1_gamma_uniform", lambda c: analytic_sae.l1_gamma_uniform(c.penalty, c.lo, c.hi))
ANALYTIC.register("analytic.sae.l1_expected_l0",
                  lambda c: c.n_features * analytic_sae.l1_expected_l0(c.penalty, c.lo, c.hi, c.density))
ANALYTIC.register("analytic.sae.l1_expected_mse",
                  lambda c: c.n_features * analytic_sae.l1_expected_mse(c.penalty, c.lo, c.hi, c.density))
# ... and at the optimum with a learned decoder bias (what a trained SAE reaches)
ANALYTIC.register("analytic.sae.l1_gamma_learned_bias",
                  lambda c: analytic_sae.l1_gamma_learned_bias(c.penalty, c.density, c.lo, c.hi))
ANALYTIC.register("analytic.sae.l1_expected_l0_learned_bias",
                  lambda c: c.n_features * analytic_sae.l1_expected_l0_learned_bias(c.penalty, c.density, c.lo, c.hi))

# the regular simplex from projecting n basis vectors ⊥ (1, …, 1) (analytic/polytopes.py)
ANALYTIC.register("analytic.polytopes.simplex_dimensionality", lambda c: float(polytopes.simplex_dimensionality(c.n)))
ANALYTIC.register("analytic.polytopes.simplex_cosine", lambda c: float(polytopes.simplex_cosine(c.n)))


# ---------------------------------------------------------------- whole-spec validation
def _check_errors(spec: Spec, kind: ExperimentKind, config: Any, prefix: str) -> list[tuple[str, str]]:
    errors = []
    fields = {f.name for f in attrs.fields(type(config))}
    axes = [a for a in kind.axes if isinstance(getattr(config, a), list)]
    for i, check in enumerate(spec.check):
        at = f"check[{i}]"
        if check.metric not in kind.metrics:
            errors.append((f"{at}.metric", did_you_mean(check.metric, tuple(kind.metrics), "metric",
                                                        f" for experiment kind {kind.name!r}")))
        if check.rule not in RULES:
            errors.append((f"{at}.rule", did_you_mean(check.rule, tuple(RULES), "rule")))
            continue
        rule = RULES[check.rule]
        if rule.needs_expect and check.expect is None:
            errors.append((f"{at}.expect", f"required by rule {check.rule!r}"))
        if isinstance(check.expect, str):
            if check.expect.startswith("experiment."):
                if check.expect.split(".", 1)[1] not in fields:
                    errors.append((f"{at}.expect", f"{check.expect!r}: experiment has no such field"))
            elif check.expect not in ANALYTIC:
                errors.append((f"{at}.expect", did_you_mean(check.expect, tuple(ANALYTIC), "analytic reference")))
        if check.rule == "close" and not (check.rel_tol or check.abs_tol):
            errors.append((f"{at}.rel_tol", "rule 'close' needs rel_tol or abs_tol > 0"))
        if check.rule == "monotone" and check.axis not in axes:
            errors.append((f"{at}.axis", f"rule 'monotone' needs a grid axis (a list-valued field); "
                                         f"this spec's axes: {', '.join(axes) or 'none'}"))
        for key in check.at:
            if key not in axes:
                errors.append((f"{at}.at.{key}", f"not a grid axis of this spec (axes: {', '.join(axes) or 'none'})"))
    if spec.property is not None:
        for key, bounds in spec.property.domain.items():
            where = f"property.domain.{key}"
            if key not in fields:
                errors.append((where, "experiment has no such field"))
            elif not (isinstance(bounds, list) and len(bounds) == 2
                      and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in bounds)):
                errors.append((where, "must be [low, high]"))
            elif bounds[0] > bounds[1]:
                errors.append((where, f"low {bounds[0]} > high {bounds[1]}"))
    return errors


def _control_path(path: str, control: dict[str, Any]) -> str:
    head, _, rest = path.partition(".")
    return f"control.{rest}" if rest and rest.split(".")[0].split("[")[0] in control else path


def validate_spec(spec: Spec) -> list[tuple[str, str]]:
    """Every problem with a structured spec, as (dotted field, reason); both profiles, control too."""
    errors: list[tuple[str, str]] = []
    raw_kind = spec.experiment.get("kind", "toy")
    if raw_kind not in EXPERIMENTS:
        return [("experiment.kind", did_you_mean(str(raw_kind), tuple(EXPERIMENTS), "experiment kind"))]
    kind = EXPERIMENTS.get(raw_kind)
    if spec.control is not None and "kind" in spec.control:
        errors.append(("control.kind", "a control changes the experiment, not its kind"))
    for profile in PROFILES:
        for control in ([False, True] if spec.control is not None else [False]):
            prefix = "control" if control else "experiment"
            try:
                raw = spec.experiment_dict(profile, control)
            except ValueError as exc:
                field, reason = str(exc).split(": ", 1)
                if not control or field in (spec.control or {}):
                    errors.append((f"{prefix}.{field}", reason))
                continue
            raw.pop("kind", None)
            holder: list[Any] = []
            errs = field_errors(lambda: holder.append(converter.structure(raw, kind.config)), "experiment")
            if control:  # name the field the control overrides, where it is the culprit
                errs = [(_control_path(p, spec.control), r) for p, r in errs]
            errors.extend(errs)
            if holder and not control:
                errors.extend(_check_errors(spec, kind, holder[0], prefix))
    # the same problem in both profiles is one problem
    return list(dict.fromkeys(errors))
