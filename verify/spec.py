"""The spec schema: what a claim file may say, as attrs classes, and the converter that structures it.

A spec file states a claim (id, title, claim, tags, [source]), the experiment that tests it
([experiment], whose fields depend on its `kind`), the verdict rules ([[check]]), an optional
hypothesis `[property]` domain, and a `[control]`: overrides of the experiment under which the
claim must NOT hold. Every error reads `file: dotted.field: reason` (verify/errors.py). This module is a leaf: reading
files is verify/loading.py, whole-spec validation against the registry is verify/validation.py.

Any experiment value may be given per budget profile, e.g. `steps = { quick = 3000, full = 10000 }`;
`resolve_profile` picks one before the experiment table is structured, and loading checks both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs
import cattrs
from attrs import validators as v

__all__ = [
    "PROFILES",
    "STATUSES",
    "ID_PATTERN",
    "Source",
    "Check",
    "PropertyDomain",
    "Spec",
    "converter",
    "resolve_profile",
]

PROFILES = ("quick", "full")
# supported: the claim's checks hold and its control fails them. refuted: measurement contradicts the
# source — the claim as stated FAILS its checks on its stated setup, and the control is a setup where the
# same checks PASS (so the checks are shown to be able to pass).
STATUSES = ("supported", "refuted")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")


@attrs.frozen
class Source:
    paper: str
    section: str
    url: str = ""


@attrs.frozen
class Check:
    """One verdict rule on one metric. Which fields matter depends on `rule` (see verify/checks.py)."""

    metric: str
    rule: str
    # a literal, "analytic.<module>.<name>" (a registered closed form) or "experiment.<field>"
    expect: float | bool | str | list[float] | None = None
    rel_tol: float = attrs.field(default=0.0, validator=v.ge(0))
    abs_tol: float = attrs.field(default=0.0, validator=v.ge(0))
    axis: str = ""  # monotone: the grid axis to walk along
    direction: str = attrs.field(default="increasing", validator=v.in_(("increasing", "decreasing")))
    strict: bool = False
    # how seeds are combined before judging: each seed on its own, or a summary across seeds
    reduce: str = attrs.field(default="each", validator=v.in_(("each", "median", "mean", "min", "max")))
    # judge only grid points with these axis values: one value or a list per axis
    at: dict[str, float | list[float]] = attrs.field(factory=dict)
    # instead of "every case passes": the one-sided lower confidence bound (Clopper–Pearson) on the
    # fraction of passing cases must reach min_fraction
    min_fraction: float | None = attrs.field(default=None, validator=v.optional([v.gt(0), v.le(1)]))
    confidence: float = attrs.field(default=0.9, validator=[v.gt(0), v.lt(1)])
    why: str = ""  # the reasoning behind a threshold we chose

    def at_values(self) -> dict[str, list[float]]:
        """`at` with every axis's value(s) as a list."""
        return {k: x if isinstance(x, list) else [x] for k, x in self.at.items()}


@attrs.frozen
class PropertyDomain:
    """Hypothesis-drawn verification: each example draws experiment fields from `domain`."""

    domain: dict[str, Any]  # field → [low, high] (ints if both bounds are ints); checked by the registry
    examples: int | dict[str, int] = 20  # may differ per profile: { quick = 10, full = 50 }
    seed: int = 0
    # pinned points run first (hypothesis @example), e.g. [{ log10_r = 0.5, log10_p = -1.0 }];
    # keys and bounds are checked against `domain` by verify/validation.py
    points: list[dict[str, Any]] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        counts = self.examples.values() if isinstance(self.examples, dict) else [self.examples]
        if any(c < 1 for c in counts):
            raise ValueError("examples: must be >= 1")

    def examples_for(self, profile: str) -> int:
        return self.examples[profile] if isinstance(self.examples, dict) else self.examples


@attrs.frozen
class Spec:
    id: str = attrs.field(validator=v.matches_re(ID_PATTERN))
    title: str
    claim: str
    source: Source
    experiment: dict[str, Any]  # raw: structured per kind and profile by `experiment_config`
    check: list[Check] = attrs.field(validator=v.min_len(1))
    tags: list[str] = attrs.field(factory=list)
    status: str = attrs.field(default="supported", validator=v.in_(STATUSES))
    control: dict[str, Any] | None = None  # overrides of `experiment` under which the claim must fail
    property: PropertyDomain | None = None
    # the null in one line: "without <mechanism>, <check> gives <value>" — what a model without the
    # mechanism measures (usually the control's value), so a reader sees what a pass is measured against
    null: str = ""
    notes: str = ""
    path: str = ""  # the file it came from (set by the loader, not in TOML)

    def __attrs_post_init__(self) -> None:
        if self.status == "refuted" and self.control is None:
            raise ValueError("status: a refuted claim needs a [control] where its checks pass")

    def experiment_dict(
        self, profile: str, control: bool = False, defaults: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The [experiment] table for `profile`: the kind's `defaults` under the spec's values, under
        the control's overrides when `control`."""
        raw = {**(defaults or {}), **self.experiment}
        if control:
            if self.control is None:
                raise ValueError(f"spec {self.id} has no [control]")
            raw.update(self.control)
        return resolve_profile(raw, profile)


converter = cattrs.Converter(forbid_extra_keys=True)


# Strict scalars: cattrs would otherwise turn 3.7 into 3 or "0.5" into 0.5 without a word.
def _strict(kind: type, accepts: tuple[type, ...], what: str):
    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and kind is not bool or not isinstance(value, accepts):
            raise TypeError(f"expected {what}, got {value!r}")
        return kind(value)

    return hook


INT_LIMIT = 2**63 - 1  # what numpy and torch hold; a larger integer is a typo, not a size


def _integer(value: Any, _: Any) -> int:
    """An integer that fits 64 bits (TOML allows any length; numpy and torch do not)."""
    out = _strict(int, (int,), "an integer")(value, _)
    if abs(out) > INT_LIMIT:
        raise ValueError(f"integer too large ({len(str(abs(out)))} digits; at most {INT_LIMIT})")
    return out


converter.register_structure_hook(int, _integer)
converter.register_structure_hook(float, _strict(float, (int, float), "a number"))
converter.register_structure_hook(str, _strict(str, (str,), "a string"))
converter.register_structure_hook(bool, _strict(bool, (bool,), "true or false"))


def _axis(cls: type) -> Callable[[Any, Any], Any]:
    """The structure hook of a grid axis of `cls` values: one value, or a list (each a grid point)."""

    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("an axis needs at least one value")
            return [converter.structure(x, cls) for x in value]
        return converter.structure(value, cls)

    return structure


_number_or_list = _axis(float)


def _literal(value: Any, _: Any) -> Any:
    """A check's `expect`: a number, boolean, string reference or list of numbers, as given."""
    if (
        isinstance(value, float)
        and value != value
        or (isinstance(value, list) and any(isinstance(x, float) and x != x for x in value))
    ):
        raise ValueError("NaN is not a value to compare with")
    if isinstance(value, (int, float, bool, str)) or (
        isinstance(value, list) and all(isinstance(x, (int, float)) for x in value)
    ):
        return value
    raise TypeError(f"expected a number, true/false, a reference string or a list of numbers, got {value!r}")


def _count_per_profile(value: Any, _: Any) -> int | dict[str, int]:
    if isinstance(value, dict):
        unknown = set(value) - set(PROFILES)
        if unknown or not value:
            raise ValueError(f"expected an integer or {{ quick = …, full = … }}, got keys {sorted(value)}")
        missing = set(PROFILES) - set(value)
        if missing:
            raise ValueError(f"no value for profile(s) {', '.join(sorted(missing))}")
        return {k: converter.structure(x, int) for k, x in value.items()}
    return converter.structure(value, int)


def _optional_axis(value: Any, _: Any) -> float | list[float] | None:
    """An optional grid axis. TOML has no null, so a spec either gives the field or leaves it out."""
    return None if value is None else _number_or_list(value, None)


converter.register_structure_hook(float | list[float], _number_or_list)
converter.register_structure_hook(int | list[int], _axis(int))  # e.g. the sae kind's d_sae
converter.register_structure_hook(float | list[float] | None, _optional_axis)
converter.register_structure_hook(int | dict[str, int], _count_per_profile)
converter.register_structure_hook(float | bool | str | list[float] | None, _literal)


def resolve_profile(raw: dict[str, Any], profile: str) -> dict[str, Any]:
    """Replace every `{quick = …, full = …}` value by the one for `profile` (recursively)."""

    def pick(value: Any) -> Any:
        if isinstance(value, dict) and value and set(value) <= set(PROFILES):
            if profile not in value:
                raise KeyError(profile)
            return pick(value[profile])
        if isinstance(value, dict):
            return {k: pick(x) for k, x in value.items()}
        return value

    out = {}
    for key, value in raw.items():
        try:
            out[key] = pick(value)
        except KeyError:
            raise ValueError(f"{key}: no value for profile {profile!r}") from None
    return out
