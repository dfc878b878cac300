"""Problems with spec files, said as `file: dotted.field: reason` — all of them in one pass.

`SpecError` is one located problem, `SpecErrors` all problems of a set of files; `did_you_mean`
words an unknown name with the closest known one; `structure_errors` turns a cattrs/attrs exception
(group) into (dotted path, reason) pairs a person can act on.
"""

from __future__ import annotations

import difflib
import re

import attrs
import cattrs

__all__ = ["SpecError", "SpecErrors", "did_you_mean", "structure_errors"]


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
    """ "unknown metric 'x' for experiment kind 'toy' (did you mean 'y'?); known: …"."""
    close = difflib.get_close_matches(name, list(options), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {name!r}{where}{hint}; known: {', '.join(sorted(options))}"


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
