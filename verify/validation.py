"""Whole-spec validation: every name a spec uses is registered, every field fits its experiment kind.

`validate_spec` returns every problem as (dotted field, reason), for both budget profiles and for the
control, so `check-specs` reports a file's problems in one pass; `experiment_config` builds the
kind's attrs config for one profile (and side) of a valid spec.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from verify import catalog
from verify.budget import budget_errors
from verify.errors import did_you_mean, structure_errors
from verify.kind import ExperimentKind, at_point
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


def _check_errors(spec: Spec, kind: ExperimentKind, config: Any | None, prefix: str) -> list[tuple[str, str]]:
    """The checks against the kind; with config None (the experiment did not structure) the names only."""
    errors = []
    fields = {f.name for f in attrs.fields(kind.config)}
    axes = [a for a in kind.axes if isinstance(getattr(config, a, None), list)]
    for i, check in enumerate(spec.check):
        at = f"check[{i}]"
        if check.metric not in kind.metrics:
            errors.append(
                (
                    f"{at}.metric",
                    did_you_mean(check.metric, tuple(kind.metrics), "metric", f" for experiment kind {kind.name!r}"),
                )
            )
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
        if config is None:
            continue  # grid axes are unknown until the experiment structures
        if check.rule == "monotone" and check.axis not in axes:
            errors.append(
                (
                    f"{at}.axis",
                    f"rule 'monotone' needs a grid axis (a list-valued field); "
                    f"this spec's axes: {', '.join(axes) or 'none'}",
                )
            )
        for key in check.at:
            if key not in axes:
                errors.append((f"{at}.at.{key}", f"not a grid axis of this spec (axes: {', '.join(axes) or 'none'})"))
    if spec.property is not None:
        for key, bounds in spec.property.domain.items():
            where = f"property.domain.{key}"
            if key not in fields:
                errors.append((where, "experiment has no such field"))
            elif not (
                isinstance(bounds, list)
                and len(bounds) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in bounds)
            ):
                errors.append((where, "must be [low, high]"))
            elif bounds[0] > bounds[1]:
                errors.append((where, f"low {bounds[0]} > high {bounds[1]}"))
        errors.extend(_point_errors(spec.property.points, spec.property.domain))
    return errors


def _point_errors(points: list[dict[str, Any]], domain: dict[str, Any]) -> list[tuple[str, str]]:
    """Pinned property points: exactly the domain's keys, numbers within its bounds (integers where
    the domain's bounds are integers)."""
    errors = []
    for i, point in enumerate(points):
        where = f"property.points[{i}]"
        missing, extra = sorted(set(domain) - set(point)), sorted(set(point) - set(domain))
        if missing:
            errors.append((where, f"missing {', '.join(missing)} (a point gives every domain field)"))
        for key in extra:
            errors.append((f"{where}.{key}", did_you_mean(key, tuple(domain), "domain field")))
        for key, x in point.items():
            bounds = domain.get(key)
            if not (isinstance(bounds, list) and len(bounds) == 2):
                continue
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                errors.append((f"{where}.{key}", f"expected a number, got {x!r}"))
            elif all(isinstance(b, int) for b in bounds) and not isinstance(x, int):
                errors.append((f"{where}.{key}", f"expected an integer (the domain is [{bounds[0]}, {bounds[1]}])"))
            elif not bounds[0] <= x <= bounds[1]:
                errors.append((f"{where}.{key}", f"{x} is outside the domain [{bounds[0]}, {bounds[1]}]"))
    return errors


def _structure(raw: dict[str, Any], cls: type) -> tuple[Any | None, list[tuple[str, str]]]:
    """The kind's config structured from `raw`, or None and every problem as (experiment.field, reason)."""
    try:
        return converter.structure(raw, cls), []
    except Exception as exc:  # noqa: BLE001 — every failure becomes a located message
        # attrs stops at the first failing validator: run each field's own validator too, so that one
        # bad field does not hide the next
        return None, list(dict.fromkeys(structure_errors(exc, "experiment") + _field_errors(raw, cls)))


def _field_errors(raw: dict[str, Any], cls: type) -> list[tuple[str, str]]:
    """Each given field of an attrs config structured and validated on its own (cross-field rules aside)."""
    errors: list[tuple[str, str]] = []
    try:
        fields = attrs.fields(attrs.resolve_types(cls))
    except Exception:  # noqa: BLE001 — unresolvable annotations: the whole-class error stands alone
        return errors
    for f in fields:
        if f.name not in raw or f.validator is None:
            continue
        try:
            value = converter.structure(raw[f.name], f.type)
            f.validator(None, f, value)
        except (ValueError, TypeError) as exc:  # a validator names its field; a structure hook does not
            errors.extend(
                (p if p != "experiment" else f"experiment.{f.name}", r) for p, r in structure_errors(exc, "experiment")
            )
        except Exception:  # noqa: BLE001,S112 — a validator that needs the whole instance: judged with it
            continue
    return errors


def _control_path(path: str, control: dict[str, Any]) -> str:
    head, _, rest = path.partition(".")
    return f"control.{rest}" if rest and rest.split(".")[0].split("[")[0] in control else path


def validate_spec(spec: Spec) -> list[tuple[str, str]]:
    """Every problem with a structured spec, as (dotted field, reason); both profiles, control too."""
    errors: list[tuple[str, str]] = []
    too_big: dict[str, str] = {}
    raw_kind = spec.experiment.get("kind", "toy")
    if raw_kind not in EXPERIMENTS:
        return [("experiment.kind", did_you_mean(str(raw_kind), tuple(EXPERIMENTS), "experiment kind"))]
    kind = EXPERIMENTS.get(raw_kind)
    if spec.control is not None and "kind" in spec.control:
        errors.append(("control.kind", "a control changes the experiment, not its kind"))
    for profile in PROFILES:
        for control in [False, True] if spec.control is not None else [False]:
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
            if config is None:
                if not control:
                    errors.extend(_check_errors(spec, kind, None, prefix))
                continue
            if not control:
                errors.extend(_check_errors(spec, kind, config, prefix))
                errors.extend(_domain_errors(spec, config))
            errors.extend(_at_errors(spec, kind, config, control))
            for path, reason in budget_errors(kind.name, config, "experiment"):
                path = _control_path(path, spec.control) if control and spec.control else path
                too_big.setdefault(path, reason)  # one line per field, whichever profile or side says it first
    errors.extend(too_big.items())
    # the same problem in both profiles is one problem
    return list(dict.fromkeys(errors))


def _at_errors(spec: Spec, kind: ExperimentKind, config: Any, control: bool) -> list[tuple[str, str]]:
    """Every `at` value of every check is a grid point of this side (the claim, or the control)."""
    errors = []
    side = "the control" if control else "the claim"
    for i, check in enumerate(spec.check):
        for key, x in ((k, x) for k, xs in check.at_values().items() for x in xs):
            grid = getattr(config, key, None) if key in kind.axes else None
            if not isinstance(grid, list):
                if control and key in kind.axes:  # the claim's own axes are checked by _check_errors
                    errors.append(
                        (
                            f"check[{i}].at.{key}",
                            f"{key} is not a grid axis of the control (give the control a list of {key} values)",
                        )
                    )
                continue
            if not any(np.isclose(x, g) for g in grid):
                errors.append(
                    (
                        f"check[{i}].at.{key}",
                        f"{x:g} is not a grid point of {side} ({key} = {', '.join(f'{g:g}' for g in grid)})",
                    )
                )
    return errors


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _domain_errors(spec: Spec, config: Any) -> list[tuple[str, str]]:
    """[property] bounds are finite, integers for an integer field, and valid values of their field."""
    errors: list[tuple[str, str]] = []
    if spec.property is None:
        return errors
    for key, bounds in spec.property.domain.items():
        where = f"property.domain.{key}"
        if not (
            hasattr(config, key) and isinstance(bounds, list) and len(bounds) == 2 and all(map(_is_number, bounds))
        ):
            continue  # _check_errors says what is wrong
        if not all(math.isfinite(b) for b in bounds):
            errors.append((where, f"bounds must be finite numbers (got [{bounds[0]}, {bounds[1]}])"))
            continue
        current = getattr(config, key)
        if isinstance(current, int) and not isinstance(current, bool) and not all(isinstance(b, int) for b in bounds):
            errors.append((where, f"{key} is an integer field: give integer bounds (got [{bounds[0]}, {bounds[1]}])"))
            continue
        for end, value in zip(("low", "high"), bounds):
            try:
                at_point(config, {key: value})
            except Exception as exc:  # noqa: BLE001 — a validator's complaint becomes a located message
                reasons = "; ".join(r for _, r in structure_errors(exc))
                errors.append((where, f"{end} bound {value}: {reasons}"))
    return errors
