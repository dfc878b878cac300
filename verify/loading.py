"""Reading spec files: TOML → `Spec` objects, every problem of every file reported in one pass.

`load_specs(paths)` expands folders to their *.toml files, structures each (verify/spec.py),
validates it against the registry (verify/validation.py), refuses duplicate ids, and raises
`SpecErrors` listing every `file: dotted.field: reason` found.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import attrs

from verify.errors import SpecError, SpecErrors, structure_errors
from verify.spec import Spec, converter
from verify.validation import validate_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_specs", "load_spec_file"]


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
    return spec, [SpecError(fname, p, r) for p, r in validate_spec(spec)]


def load_spec_file(path: str | Path) -> Spec:
    spec, errors = _load_one(Path(path))
    if errors:
        raise SpecErrors(errors)
    assert spec is not None  # no errors means a structured spec
    return spec


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.toml")) if p.is_dir() else [p])
    return files


def load_specs(paths: Sequence[str | Path] | str | Path = "specs") -> list[Spec]:
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
