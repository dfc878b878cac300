"""Reading spec files: TOML → `Spec` objects, every problem of every file reported in one pass.

`load_specs(paths)` expands folders to their *.toml files, structures each (verify/spec.py),
validates it against the registry (verify/validation.py), refuses duplicate ids, and raises
`SpecErrors` listing every `file: dotted.field: reason` found.
"""

from __future__ import annotations

import codecs
import difflib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from verify.errors import SpecError, SpecErrors, structure_errors
from verify.spec import ID_PATTERN, Check, Source, Spec, converter
from verify.validation import validate_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_specs", "load_spec_file"]


def _read_text(path: Path) -> tuple[str | None, str]:
    """The file as text, or None and why not — UTF-8 only, named precisely (byte, line, column)."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        return None, "is a folder, not a spec file"
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    if raw.startswith(codecs.BOM_UTF8):
        return None, "starts with a byte-order mark (BOM); save it as UTF-8 without a BOM"
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, (
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, column {column} (save the file as UTF-8)"
        )


_TABLES = ("source", "experiment", "control", "property")
attrs.resolve_types(Spec)  # field types as classes, to structure one field at a time


def _structure_checks(value: Any) -> tuple[list[tuple[int, Check]], list[tuple[str, str]]]:
    """[[check]] tables one by one: the good ones (with their index) and every problem."""
    if isinstance(value, dict):
        return [], [("check", "write each check as [[check]] (an array of tables), not [check]")]
    if not isinstance(value, list):
        return [], [("check", f"expected [[check]] tables, got {value!r}")]
    if not value:
        return [], [("check", "needs at least one [[check]]")]
    good, errors = [], []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            errors.append((f"check[{i}]", f"expected a table ([[check]]), got {item!r}"))
            continue
        try:
            good.append((i, converter.structure(item, Check)))
        except Exception as exc:  # noqa: BLE001 — every failure becomes a located message
            errors.extend(structure_errors(exc, f"check[{i}]"))
    return good, errors


def _structure_leniently(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem of a spec that does not structure: each top-level field on its own, then the
    experiment, control and checks validated even when some other field failed."""
    fields = {f.name: f for f in attrs.fields(Spec) if f.name != "path"}
    errors = []
    for key in sorted(set(data) - set(fields)):
        close = difflib.get_close_matches(key, list(fields), n=1)
        errors.append((key, "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")))
    values: dict[str, Any] = {}
    checks: list[tuple[int, Check]] = []
    for name, f in fields.items():
        if name not in data:
            if f.default is attrs.NOTHING:
                errors.append((name, "required field missing"))
            continue
        value = data[name]
        if name == "check":
            checks, errs = _structure_checks(value)
            errors.extend(errs)
        elif name in _TABLES and not isinstance(value, dict):
            errors.append((name, f"expected a table [{name}], got {value!r}"))
        else:
            assert f.type is not None  # every Spec field is annotated
            try:
                values[name] = converter.structure(value, f.type)
            except Exception as exc:  # noqa: BLE001
                errors.extend(structure_errors(exc, name))
    if "id" in values and not ID_PATTERN.match(values["id"]):
        errors.append(("id", f"must match regex {ID_PATTERN.pattern!r} ({values['id']!r} doesn't)"))
    if "experiment" in values:  # validate what can be: the experiment, the control, the good checks
        with attrs.validators.disabled():
            partial = Spec(
                id="partial",
                title="",
                claim="",
                source=Source("", ""),
                experiment=values["experiment"],
                check=[c for _, c in checks],
                control=values.get("control"),
                property=values.get("property"),
            )
        index = [i for i, _ in checks]
        for path, reason in validate_spec(partial):
            m = re.match(r"^check\[(\d+)\]", path)
            if m:
                path = f"check[{index[int(m.group(1))]}]" + path[m.end() :]
            errors.append((path, reason))
    return list(dict.fromkeys(errors))


def _load_one(path: Path) -> tuple[Spec | None, list[SpecError]]:
    fname = str(path)
    text, why = _read_text(path)
    if text is None:
        return None, [SpecError(fname, "", why)]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [SpecError(fname, "", f"invalid TOML: {exc}")]
    try:
        spec = converter.structure(data, Spec)
    except Exception as exc:  # noqa: BLE001 — every failure becomes a located message
        errors = _structure_leniently(data) or structure_errors(exc)
        return None, [SpecError(fname, p, r) for p, r in errors]
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
            errors.append(
                SpecError(
                    str(p),
                    "",
                    f"no such file or folder (looked for {p.resolve()}; run from the "
                    f"repository root or point elsewhere with --specs DIR)",
                )
            )
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
