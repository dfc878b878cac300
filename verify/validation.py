"""Whole-spec validation: every name a spec uses is registered, every field fits its experiment kind.

`validate_spec` returns every problem as (dotted field, reason), for both budget profiles and for the
control, so `check-specs` reports a file's problems in one pass; `experiment_config` builds the
kind's attrs config for one profile (and side) of a valid spec.
"""

from __future__ import annotations

from typing import Any

import attrs

from verify import catalog
from verify.errors import did_you_mean, structure_errors
from verify.kind import ExperimentKind
from verify.registry import ANALYTIC, EXPERIMENTS, RULES
from verify.spec import PROFILES, Spec, converter

__all__ = ["validate_spec", "experiment_table", "experiment_config", "experiment_kind"]

catalog.load()  # the kinds, closed forms and rules register themselves when their modules load


def experiment_kind(spec: Spec) -> ExperimentKind:
    """The registered experiment kind a spec names (default: toy)."""
    return EXPERIMENTS.get(spec.experiment.get("kind", "toy"), "experiment kind")


def experiment_table(spec: Spec, profile: str, control: bool = False) -> dict[str, Any]:
    """The spec's [experiment] table for `profile` over its kind's defaults (the control's overrides
    on top when asked) — everything that decides what is trained."""
    return spec.experiment_dict(profile, control, experiment_kind(spec).defaults)


def experiment_config(spec: Spec, profile: str, control: bool = False) -> Any:
    """The experiment's attrs config for `profile` (with the control's overrides when asked)."""
    raw = {k: x for k, x in experiment_table(spec, profile, control).items() if k != "kind"}
    return converter.structure(raw, experiment_kind(spec).config)

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
        rule = RULES.get(check.rule)
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


def _structure(raw: dict[str, Any], cls: type) -> tuple[Any | None, list[tuple[str, str]]]:
    """The kind's config structured from `raw`, or None and every problem as (experiment.field, reason)."""
    try:
        return converter.structure(raw, cls), []
    except Exception as exc:  # noqa: BLE001 — every failure becomes a located message
        return None, structure_errors(exc, "experiment")


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
                raw = spec.experiment_dict(profile, control, kind.defaults)
            except ValueError as exc:
                field, reason = str(exc).split(": ", 1)
                if not control or field in (spec.control or {}):
                    errors.append((f"{prefix}.{field}", reason))
                continue
            raw.pop("kind", None)
            config, errs = _structure(raw, kind.config)
            if spec.control is not None and control:  # name the field the control overrides, where it is the culprit
                errs = [(_control_path(p, spec.control), r) for p, r in errs]
            errors.extend(errs)
            if config is not None and not control:
                errors.extend(_check_errors(spec, kind, config, prefix))
    # the same problem in both profiles is one problem
    return list(dict.fromkeys(errors))
