"""`superposition-lab diff OLD NEW`: what changed between two runs' results.

For every claim in either run: the verdict before and after; for every check, the measured value
before and after and whether the change exceeds the check's tolerance (abs_tol + rel_tol·|expected|,
elementwise; a check without tolerance, such as `equal`, counts any change), plus any change to the
check itself (rule, expected value, tolerance) — so re-judging with a changed tolerance names
exactly that check. Exit code 1 when a verdict changed, 0 otherwise, 2 on bad input (cli.py).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from verify.summary import compact

__all__ = ["CheckChange", "Diff", "diff_docs", "diff_text", "change_text"]


@attrs.define
class CheckChange:
    id: str
    index: int
    metric: str
    rule: str
    before: str  # the measured value (summary) in OLD
    after: str
    max_change: float | None  # max |Δ| over all cases; None when not comparable
    tolerance: float | None  # None: exact (any change counts)
    exceeds: bool  # measured values moved by more than the tolerance (or shapes changed)
    definition: list[str] = attrs.field(factory=list)  # "tolerance: … → …" etc.
    passed: tuple[Any, Any] = (None, None)

    @property
    def changed(self) -> bool:
        return self.exceeds or bool(self.definition) or self.passed[0] != self.passed[1]

    def mark(self) -> str:
        if self.exceeds or self.definition or self.passed[0] != self.passed[1]:
            return "!"
        return "~" if self.max_change else "="


@attrs.define
class Diff:
    verdicts: list[tuple[str, str | None, str | None]]  # (id, before, after) where they differ
    checks: list[CheckChange]
    added: list[str]
    removed: list[str]
    same: list[str]  # ids whose verdict did not change

    @property
    def verdict_changed(self) -> bool:
        return bool(self.verdicts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdicts": [{"id": i, "before": b, "after": a} for i, b, a in self.verdicts],
            "checks": [{**attrs.asdict(c), "changed": c.changed} for c in self.checks],
            "added": self.added,
            "removed": self.removed,
        }


def _array(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _tolerance(check: dict[str, Any]) -> np.ndarray | float | None:
    tol = check.get("tolerance") or {}
    abs_tol, rel_tol = float(tol.get("abs_tol") or 0), float(tol.get("rel_tol") or 0)
    if not (abs_tol or rel_tol):
        return None
    expected = _array(check.get("expected"))
    if rel_tol and expected is not None:
        return abs_tol + rel_tol * np.abs(expected)
    return abs_tol


def _definition(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for key in ("metric", "rule", "tolerance"):
        if old.get(key) != new.get(key):
            out.append(f"{key}: {old.get(key)} → {new.get(key)}")
    a, b = _array(old.get("expected")), _array(new.get("expected"))
    if old.get("expected") != new.get("expected") and not (
        a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    ):
        out.append(
            f"expected: {old.get('expected_summary') or compact(old.get('expected'))} → "
            f"{new.get('expected_summary') or compact(new.get('expected'))}"
        )
    return out


def _compare(spec_id: str, i: int, old: dict[str, Any], new: dict[str, Any]) -> CheckChange:
    a, b = _array(old.get("measured")), _array(new.get("measured"))
    tol = _tolerance(new)
    if a is None or b is None or a.shape != b.shape:
        same = a is None and b is None
        max_change, exceeds = None, not same
    else:
        delta = np.abs(a - b)
        delta[np.isnan(a) & np.isnan(b)] = 0.0
        delta[np.isnan(delta)] = np.inf  # a value became or stopped being NaN
        max_change = float(delta.max()) if delta.size else 0.0
        exceeds = bool(np.any(delta > 0)) if tol is None else bool(np.any(delta > np.broadcast_to(tol, delta.shape)))
    tol_value = None if tol is None else float(np.min(tol))
    return CheckChange(
        id=spec_id,
        index=i,
        metric=str(new.get("metric")),
        rule=str(new.get("rule")),
        before=old.get("measured_summary") or compact(old.get("measured")),
        after=new.get("measured_summary") or compact(new.get("measured")),
        max_change=max_change,
        tolerance=tol_value,
        exceeds=exceeds,
        definition=_definition(old, new),
        passed=(old.get("passed"), new.get("passed")),
    )


def diff_docs(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    """Compare two results documents (verify/results_io.load_results) claim by claim, check by check."""
    before = {e["id"]: e for e in old.get("results", [])}
    after = {e["id"]: e for e in new.get("results", [])}
    verdicts, checks, same = [], [], []
    for spec_id in [i for i in after if i in before]:
        o, n = before[spec_id], after[spec_id]
        if o.get("verdict") != n.get("verdict"):
            verdicts.append((spec_id, o.get("verdict"), n.get("verdict")))
        else:
            same.append(spec_id)
        oc, nc = o.get("checks") or [], n.get("checks") or []
        for i in range(max(len(oc), len(nc))):
            if i >= len(oc) or i >= len(nc):
                c = (nc if i < len(nc) else oc)[i]
                checks.append(
                    CheckChange(
                        spec_id,
                        i,
                        str(c.get("metric")),
                        str(c.get("rule")),
                        "—" if i >= len(oc) else compact(oc[i].get("measured_summary")),
                        "—" if i >= len(nc) else compact(nc[i].get("measured_summary")),
                        None,
                        None,
                        True,
                        ["check added" if i >= len(oc) else "check removed"],
                    )
                )
            else:
                checks.append(_compare(spec_id, i, oc[i], nc[i]))
    return Diff(
        verdicts=verdicts,
        checks=checks,
        added=[i for i in after if i not in before],
        removed=[i for i in before if i not in after],
        same=same,
    )


def change_text(c: CheckChange) -> str:
    if c.max_change is None:
        moved = "not comparable" if c.exceeds else "no values"
    else:
        tol = "exact" if c.tolerance is None else f"tol {c.tolerance:.4g}"
        moved = f"|Δ| {c.max_change:.4g} {'>' if c.exceeds else '≤'} {tol}" if c.max_change else "no change"
    extra = "; " + "; ".join(c.definition) if c.definition else ""
    flip = f"; passed {c.passed[0]} → {c.passed[1]}" if c.passed[0] != c.passed[1] else ""
    return f"{c.before} → {c.after} ({moved}){extra}{flip}"


def diff_text(d: Diff, only_changed: bool = False) -> str:
    """The diff as plain text: verdict changes, then one line per check (! changed, ~ within tolerance,
    = identical)."""
    lines = [
        f"verdicts: {len(d.verdicts)} changed, {len(d.same)} unchanged"
        + (f", {len(d.added)} new" if d.added else "")
        + (f", {len(d.removed)} gone" if d.removed else "")
    ]
    lines += [f"  {i}: {b} → {a}" for i, b, a in d.verdicts]
    lines += [f"  new: {i}" for i in d.added] + [f"  gone: {i}" for i in d.removed]
    changed = [c for c in d.checks if c.changed]
    lines.append(f"checks: {len(changed)} of {len(d.checks)} changed beyond tolerance or redefined")
    for c in d.checks:
        if only_changed and not c.changed:
            continue
        lines.append(f"  {c.mark()} {c.id} check[{c.index}] {c.metric} {c.rule}: {change_text(c)}")
    return "\n".join(lines) + "\n"
