"""The runner's on-disk cache: one entry per spec side (claim or control) and cache key.

An entry is `<id>--<main|control>--<key>` plus a suffix: `.npz` (the Outcome's arrays) and `.json`
(its grid points and info), or `.judgement.json` for a property run. Entries are written atomically
under unique temporary names (verify/files.py) while the entry's lock is held (`entry_lock`), so
two runs sharing one out/ folder neither crash nor compute the same entry twice. A damaged entry
(truncated, empty, missing a key) is not an error: it is reported as a warning line and recomputed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from verify.files import LockBusy, atomic_write, entry_lock
from verify.kind import Outcome

__all__ = ["entry_path", "entry_lock", "LockBusy", "save_outcome", "load_outcome", "save_json", "load_json", "log"]

log = logging.getLogger("verify.cache")  # warnings reach stderr as plain lines unless logging is configured


def entry_path(cache_dir: Path, spec_id: str, control: bool, key: str) -> Path:
    """The entry's path without suffix."""
    return cache_dir / f"{spec_id}--{'control' if control else 'main'}--{key}"


def _with(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _damaged(path: Path, exc: BaseException) -> None:
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    log.warning("warning: damaged cache entry %s (%s); recomputing it", path, reason)


def save_outcome(path: Path, outcome: Outcome) -> None:
    """The arrays first, then the metadata: an entry counts as present only when both are."""
    arrays = outcome.arrays  # numpy's stub types **kwds as bool (for allow_pickle); they are arrays
    atomic_write(_with(path, ".npz"), lambda fh: np.savez_compressed(fh, **arrays), mode="wb")  # type: ignore[arg-type]
    meta = {"points": outcome.points, "info": outcome.info}
    atomic_write(_with(path, ".json"), lambda fh: json.dump(meta, fh), mode="w")


def load_outcome(path: Path) -> Outcome | None:
    """The cached Outcome, or None when there is none or it is damaged (then with a warning line)."""
    npz, meta = _with(path, ".npz"), _with(path, ".json")
    if not (npz.exists() and meta.exists()):
        return None
    try:
        with np.load(npz) as data:
            arrays = {k: data[k] for k in data.files}
        m = json.loads(meta.read_text())
        return Outcome(points=list(m["points"]), arrays=arrays, info=dict(m["info"]))
    except Exception as exc:  # noqa: BLE001 — truncated zip, empty file, bad JSON, missing key: recompute
        _damaged(npz if not isinstance(exc, (KeyError, TypeError, json.JSONDecodeError)) else meta, exc)
        return None


def save_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda fh: json.dump(obj, fh), mode="w")


def load_json(path: Path, parse: Any) -> Any | None:
    """`parse(json.load(path))`, or None when absent or damaged (then with a warning line)."""
    if not path.exists():
        return None
    try:
        return parse(json.loads(path.read_text()))
    except Exception as exc:  # noqa: BLE001 — a damaged entry is recomputed
        _damaged(path, exc)
        return None
