"""Strict JSON for results: no bare NaN or Infinity, yet every value comes back as it went in.

`json.dumps` writes NaN and Infinity as bare words, which strict parsers (browsers, jq, most CI
tools) reject. `encode` replaces every non-finite float by null and records what it was in the
enclosing object's `nonfinite` entry: `{"measured": null, "nonfinite": {"measured": "nan"}}`, or
for a value inside lists, the index path of each one: `{"nonfinite": {"measured": {"0.1": "inf"}}}`.
`decode` puts the floats back. `dumps`/`loads` do both and refuse bare NaN either way.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["encode", "decode", "dumps", "loads", "NONFINITE"]

NONFINITE = "nonfinite"
_NAMES = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _name(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _clean(value: Any, path: str, found: dict[str, str]) -> Any:
    """`value` with non-finite floats (in nested lists) set to None; their index paths into `found`."""
    if isinstance(value, float) and not math.isfinite(value):
        found[path] = _name(value)
        return None
    if isinstance(value, (list, tuple)):
        return [_clean(x, f"{path}.{i}" if path else str(i), found) for i, x in enumerate(value)]
    return encode(value)


def encode(obj: Any) -> Any:
    """A copy of `obj` that strict JSON can hold (see the module docstring); tuples become lists."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        marks: dict[str, Any] = {}
        for key, value in obj.items():
            found: dict[str, str] = {}
            out[key] = _clean(value, "", found)
            if found:
                marks[key] = found.get("", found)
        if marks:
            out[NONFINITE] = marks
        return out
    if isinstance(obj, (list, tuple)):
        return [encode(x) for x in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # a bare non-finite list element outside any object: nothing to record it in
    return obj


def _restore(value: Any, where: dict[str, str]) -> Any:
    for path, name in where.items():
        *head, last = path.split(".")
        target = value
        for i in head:
            target = target[int(i)]
        target[int(last)] = _NAMES[name]
    return value


def decode(obj: Any) -> Any:
    """The inverse of `encode`: non-finite floats back where `nonfinite` says they were."""
    if isinstance(obj, dict):
        marks = obj.get(NONFINITE) if isinstance(obj.get(NONFINITE), dict) else None
        out = {k: decode(v) for k, v in obj.items() if not (marks is not None and k == NONFINITE)}
        for key, mark in (marks or {}).items():
            if isinstance(mark, str):
                out[key] = _NAMES[mark]
            else:
                out[key] = _restore(out[key], mark)
        return out
    if isinstance(obj, list):
        return [decode(x) for x in obj]
    return obj


def _refuse(name: str) -> Any:
    raise ValueError(f"not strict JSON: bare {name}")


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON text (allow_nan=False) of `encode(obj)`."""
    return json.dumps(encode(obj), allow_nan=False, default=str, **kwargs)


def loads(text: str) -> Any:
    """Parse strict JSON (a bare NaN/Infinity is an error) and `decode` it."""
    return decode(json.loads(text, parse_constant=_refuse))
