"""Claim specs: TOML files → attrs objects, validated in one pass with precise errors.

A spec file states a claim (id, title, claim, tags, [source]), the experiment that tests it
([experiment], whose fields depend on its `kind`), the verdict rules ([[check]]), an optional
hypothesis `[property]` domain, and a `[control]`: overrides of the experiment under which the
claim must NOT hold. Every error reads `file: dotted.field: reason`.

Any experiment value may be given per budget profile, e.g. `steps = { quick = 3000, full = 10000 }`;
`resolve_profile` picks one before the experiment table is structured, and loading checks both.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path
from typing import Any

import attrs
import cattrs
from attrs import validators as v

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["PROFILES", "Source", "Check", "PropertyDomain", "Spec", "SpecError", "SpecErrors",
           "converter", "load_specs", "load_spec_file", "resolve_profile", "experiment_config",
           "did_you_mean"]

PROFILES = ("quick", "full")
_ID_RE = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")


@attrs.frozen
class SpecError:
    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}" if self.field else f"{self.file}: {self.reason}"


class SpecErrors(Exception):
    """All problems found in a set of spec files (never just the first)."""

    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


def did_you_mean(name: str, options: list[str] | tuple[str, ...], what: str, where: str = "") -> str:
    """"unknown metric 'x' for experiment kind 'toy' (did you mean 'y'?); known: …"."""
    close = difflib.get_close_matches(name, list(options), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {name!r}{where}{hint}; known: {', '.join(sorted(options))}"


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
    at: dict[str, float] = attrs.field(factory=dict)  # judge only grid points with these axis values
    # instead of "every case passes": the one-sided lower confidence bound (Clopper–Pearson) on the
    # fraction of passing cases must reach min_fraction
    min_fraction: float | None = attrs.field(default=None, validator=v.optional([v.gt(0), v.le(1)]))
    confidence: float = attrs.field(default=0.9, validator=[v.gt(0), v.lt(1)])
    why: str = ""  # the reasoning behind a threshold we chose


@attrs.frozen
class PropertyDomain:
    """Hypothesis-drawn verification: each example draws experiment fields from `domain`."""

    domain: dict[str, Any]  # field → [low, high] (ints if both bounds are ints); checked by the registry
    examples: int | dict[str, int] = 20  # may differ per profile: { quick = 10, full = 50 }
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        counts = self.examples.values() if isinstance(self.examples, dict) else [self.examples]
        if any(c < 1 for c in counts):
            raise ValueError("examples: must be >= 1")

    def examples_for(self, profile: str) -> int:
        return self.examples[profile] if isinstance(self.examples, dict) else self.examples


@attrs.frozen
class Spec:
    id: str = attrs.field(validator=v.matches_re(_ID_RE))
    title: str
    claim: str
    source: Source
    experiment: dict[str, Any]  # raw: structured per kind and profile by `experiment_config`
    check: list[Check] = attrs.field(validator=v.min_len(1))
    tags: list[str] = attrs.field(factory=list)
    control: dict[str, Any] | None = None  # overrides of `experiment` under which the claim must fail
    property: PropertyDomain | None = None
    notes: str = ""
    path: str = ""  # the file it came from (set by the loader, not in TOML)

    def experiment_dict(self, profile: str, control: bool = False) -> dict[str, Any]:
        raw = dict(self.experiment)
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


converter.register_structure_hook(int, _strict(int, (int,), "an integer"))
converter.register_structure_hook(float, _strict(float, (int, float), "a number"))
converter.register_structure_hook(str, _strict(str, (str,), "a string"))
converter.register_structure_hook(bool, _strict(bool, (bool,), "true or false"))


def _number_or_list(value: Any, _: Any) -> float | list[float]:
    """A grid axis: one number, or a list of numbers (each a grid point)."""
    if isinstance(value, list):
        if not value:
            raise ValueError("an axis needs at least one value")
        return [converter.structure(x, float) for x in value]
    return converter.structure(value, float)


def _literal(value: Any, _: Any) -> Any:
    """A check's `expect`: a number, boolean, string reference or list of numbers, as given."""
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


converter.register_structure_hook(float | list[float], _number_or_list)
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


def experiment_config(spec: Spec, profile: str, control: bool = False) -> Any:
    """The experiment's attrs config for `profile` (with the control's overrides when asked)."""
    from verify.registry import EXPERIMENTS

    raw = spec.experiment_dict(profile, control)
    kind = EXPERIMENTS.get(raw.get("kind", "toy"), "experiment kind")
    raw = {k: x for k, x in raw.items() if k != "kind"}
    return converter.structure(raw, kind.config)


# ---------------------------------------------------------------- errors from cattrs / attrs


def _join(path: str, name: object) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else str(name)


def _plain_attrs_reason(reason: str) -> str:
    """attrs says "must be >= 1: 0" and "must be in (…) (got 'x')"; say it as a person would."""
    m = re.match(r"^(must be [<>=]+ \S+): (.*)$", reason)
    if m:
        return f"{m.group(1)} (got {m.group(2)})"
    m = re.match(r"^must be in (\(.*\)) \(got '([^']*)'\)$", reason)
    if m:
        options = tuple(re.findall(r"'([^']*)'", m.group(1)))
        return did_you_mean(m.group(2), options, "value")
    return reason


def _leaf(exc: BaseException, path: str) -> tuple[str, str]:
    if isinstance(exc, KeyError):
        return path, "required field missing"
    msg = str(exc.args[0]) if exc.args else type(exc).__name__
    # attrs validators say "'name' must be …": move the name into the dotted path
    m = re.match(r"^'([^']+)' (must .*)$", msg, re.S)
    if m:
        return _join(path, m.group(1)), _plain_attrs_reason(m.group(2))
    # a validator may also say "field: reason" for cross-field checks
    m = re.match(r"^([a-z_][a-z_0-9]*): (.*)$", msg, re.S)
    if m:
        return _join(path, m.group(1)), m.group(2)
    return path, msg


def _flatten(exc: BaseException, path: str) -> list[tuple[str, str]]:
    """(dotted path, reason) pairs from a cattrs exception group."""
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return [(_join(path, k), "unknown key") for k in sorted(exc.extra_fields)]
    if isinstance(exc, cattrs.BaseValidationError):
        out: list[tuple[str, str]] = []
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", []):
                if hasattr(note, "name"):
                    sub_path = _join(path, note.name)
                elif hasattr(note, "index"):
                    sub_path = _join(path, note.index)
            out.extend(_flatten(sub, sub_path))
        return out
    return [_leaf(exc, path)]


def structure_errors(exc: BaseException, prefix: str = "") -> list[tuple[str, str]]:
    return _flatten(exc, prefix)


def field_errors(structure, prefix: str) -> list[tuple[str, str]]:
    """Run `structure()` and return its errors as (dotted path under prefix, reason)."""
    try:
        structure()
    except Exception as exc:  # noqa: BLE001
        return structure_errors(exc, prefix)
    return []


# ---------------------------------------------------------------- loading


def _load_one(path: Path) -> tuple[Spec | None, list[SpecError]]:
    fname = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return None, [SpecError(fname, "", f"invalid TOML: {exc}")]
    except OSError as exc:
        return None, [SpecError(fname, "", f"cannot read: {exc.strerror}")]
    try:
        spec = converter.structure(data, Spec)
    except Exception as exc:  # noqa: BLE001 — every failure becomes a located message
        return None, [SpecError(fname, p, r) for p, r in structure_errors(exc)]
    spec = attrs.evolve(spec, path=fname)
    from verify.registry import validate_spec

    return spec, [SpecError(fname, p, r) for p, r in validate_spec(spec)]


def load_spec_file(path: str | Path) -> Spec:
    spec, errors = _load_one(Path(path))
    if errors:
        raise SpecErrors(errors)
    return spec  # type: ignore[return-value]


def _expand(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.toml")) if p.is_dir() else [p])
    return files


def load_specs(paths: list[str | Path] | str | Path = "specs") -> list[Spec]:
    """Load and validate every spec under `paths` (files or folders); raise SpecErrors listing all."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    specs: list[Spec] = []
    errors: list[SpecError] = []
    files = _expand(paths)
    for p in map(Path, paths):
        if not p.exists():
            errors.append(SpecError(str(p), "", "no such file or folder"))
    if not files and not errors:
        errors.append(SpecError(", ".join(map(str, paths)), "", "no spec files (*.toml) found"))
    seen: dict[str, str] = {}
    for f in files:
        if not f.exists():
            continue
        spec, errs = _load_one(f)
        errors.extend(errs)
        if spec is not None:
            if spec.id in seen:
                errors.append(SpecError(str(f), "id", f"duplicate id {spec.id!r} (also in {seen[spec.id]})"))
            seen[spec.id] = str(f)
            if not errs:
                specs.append(spec)
    if errors:
        raise SpecErrors(errors)
    return specs
