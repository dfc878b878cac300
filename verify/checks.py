"""Verdict rules: measured values against expected ones.

A metric yields an array (P points, S seeds, …). A check first keeps the grid points named in
`at`, optionally combines seeds (`reduce`), then applies its rule:

- case-wise rules judge every (point, seed) case — `equal`, `close` (|m − e| ≤ abs_tol + rel_tol·|e|),
  `at_most` (m ≤ e + abs_tol), `at_least` (m ≥ e − abs_tol); all trailing dimensions must agree.
  By default every case must pass; with `min_fraction` the one-sided Clopper–Pearson lower bound
  (at `confidence`) on the fraction of passing cases must reach `min_fraction` — so a few seeds
  cannot "prove" a high rate, and noise is allowed for honestly rather than by a loose tolerance;
- `monotone` walks the grid `axis` after combining seeds (median unless `reduce` says otherwise):
  every step must move in `direction` by more than −abs_tol (or by more than abs_tol if `strict`).

A sweep-wide metric (one value per seed for the whole sweep) is judged once per seed, not once per
grid point, so case counts and binomial bounds are not inflated by repeats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
from scipy import stats

from verify.kind import Metric, Outcome, at_point
from verify.registry import RULES, Registry
from verify.spec import Check

__all__ = ["CheckResult", "Rule", "judge_check", "binomial_lower_bound", "summarise", "nan_error"]

_REDUCERS: dict[str, Callable[..., np.ndarray]] = {
    "median": np.median,
    "mean": np.mean,
    "min": np.min,
    "max": np.max,
}


@attrs.define
class CheckResult:
    metric: str
    rule: str
    passed: bool
    measured: Any  # JSON-ready (nested lists)
    expected: Any
    tolerance: dict[str, float]
    detail: str
    measured_summary: str = ""
    expected_summary: str = ""
    error: str | None = None  # the check could not be judged (NaN in a judged value): neither pass nor fail


def binomial_lower_bound(successes: int, trials: int, confidence: float) -> float:
    """One-sided Clopper–Pearson lower bound on a success probability."""
    if successes == 0:
        return 0.0
    return float(stats.beta.ppf(1.0 - confidence, successes, trials - successes + 1))


def _trailing_all(cases: np.ndarray) -> np.ndarray:
    return np.asarray(cases.reshape(cases.shape[0], cases.shape[1], -1).all(axis=-1))


@attrs.frozen
class Rule:
    """A verdict rule: `fn(measured, expected, check)` → pass per case (None for `monotone`, which
    walks a grid axis instead)."""

    fn: Callable[..., Any] | None
    needs_expect: bool
    case_wise: bool
    doc: str


def _rule(
    name: str, doc: str, *, needs_expect: bool = True, case_wise: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a case-wise rule function under `name` in RULES."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        RULES.register(name, Rule(fn, needs_expect, case_wise, doc))
        return fn

    return register


@_rule("equal", "measured equals expected in every case")
def _equal(m: np.ndarray, e: np.ndarray, c: Check) -> np.ndarray:
    return _trailing_all(np.broadcast_to(m == e, np.broadcast_shapes(m.shape, e.shape)))


@_rule("close", "|measured − expected| ≤ abs_tol + rel_tol·|expected|")
def _close(m: np.ndarray, e: np.ndarray, c: Check) -> np.ndarray:
    ok = np.abs(m - e) <= c.abs_tol + c.rel_tol * np.abs(e)
    return _trailing_all(np.broadcast_to(ok, np.broadcast_shapes(m.shape, e.shape)))


@_rule("at_most", "measured ≤ expected + abs_tol")
def _at_most(m: np.ndarray, e: np.ndarray, c: Check) -> np.ndarray:
    return _trailing_all(np.broadcast_to(m <= e + c.abs_tol, np.broadcast_shapes(m.shape, e.shape)))


@_rule("at_least", "measured ≥ expected − abs_tol")
def _at_least(m: np.ndarray, e: np.ndarray, c: Check) -> np.ndarray:
    return _trailing_all(np.broadcast_to(m >= e - c.abs_tol, np.broadcast_shapes(m.shape, e.shape)))


RULES.register("monotone", Rule(None, False, False, "non-decreasing/non-increasing along a grid axis"))


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def summarise(a: np.ndarray) -> str:
    """A few characters that say what an array holds (for the terminal table)."""
    a = np.asarray(a)
    if a.size == 0:
        return "—"
    if a.dtype == bool and a.ndim >= 3:  # masks: report set sizes
        sizes = a.reshape(a.shape[0], a.shape[1], -1).sum(-1)
        lo, hi = sizes.min(), sizes.max()
        return f"{lo} features" if lo == hi else f"{lo}–{hi} features"
    flat = a.astype(float).ravel()
    lo, hi = flat.min(), flat.max()
    return _fmt(lo) if np.isclose(lo, hi, rtol=1e-9, atol=0) else f"{_fmt(lo)}…{_fmt(hi)}"


def _select(outcome: Outcome, check: Check) -> list[int]:
    idx = []
    for i, point in enumerate(outcome.points):
        if all(k in point and np.isclose(point[k], xs).any() for k, xs in check.at_values().items()):
            idx.append(i)
    if not idx:
        wanted = ", ".join(f"{k}={'|'.join(f'{x:g}' for x in xs)}" for k, xs in check.at_values().items())
        raise ValueError(f"at: no grid point has {wanted}")
    return idx


def expected_values(
    check: Check, outcome: Outcome, config: Any, idx: list[int], analytic: Registry[Callable[[Any], Any]]
) -> np.ndarray | None:
    """Expected values with shape (P', 1, …) broadcastable against the measurement; `analytic` holds
    the closed forms a string `expect` may name."""
    e = check.expect
    if e is None:
        return None
    if isinstance(e, str):
        if e.startswith("experiment."):
            field = e.split(".", 1)[1]
            vals = [getattr(at_point(config, outcome.points[i]), field) for i in idx]
        else:
            fn = analytic.get(e, "analytic reference")
            vals = [fn(at_point(config, outcome.points[i])) for i in idx]
        arr = np.stack([np.asarray(x) for x in vals])
        return arr[:, None, ...]
    return np.asarray(e)


def _monotone(m: np.ndarray, outcome: Outcome, idx: list[int], check: Check) -> tuple[bool, str]:
    if m.ndim != 2:
        raise ValueError(f"monotone: metric {check.metric!r} is not a scalar per model")
    xs = np.array([outcome.points[i][check.axis] for i in idx])
    order = np.argsort(xs)
    ys = m[order, 0]
    steps = np.diff(ys) * (1 if check.direction == "increasing" else -1)
    ok = steps > check.abs_tol if check.strict else steps >= -check.abs_tol
    series = ", ".join(f"{check.axis}={x:g}: {_fmt(y)}" for x, y in zip(xs[order], ys))
    if ok.all():
        return True, f"{check.direction} along {check.axis}: {series}"
    k = int(np.argmin(ok))
    return False, (
        f"not {check.direction} between {check.axis}={xs[order][k]:g} and "
        f"{xs[order][k + 1]:g} ({_fmt(ys[k])} → {_fmt(ys[k + 1])}); {series}"
    )


def _first_failure(
    ok: np.ndarray, m: np.ndarray, e: np.ndarray, outcome: Outcome, idx: list[int], sweep_wide: bool = False
) -> str:
    p, s = np.argwhere(~ok)[0]
    where = (
        "the sweep"
        if sweep_wide
        else ", ".join(f"{k}={x:g}" for k, x in outcome.points[idx[p]].items()) or "the only point"
    )
    mv = m[p, s]
    ev = np.broadcast_to(e, np.broadcast_shapes(m.shape, e.shape))[p, s]
    return f"fails at {where}, seed {s}: measured {_show(mv)}, expected {_show(ev)}"


def _show(a: np.ndarray) -> object:
    """Masks as the indices that are set; booleans and numbers as themselves (rounded)."""
    a = np.asarray(a)
    if a.dtype == bool:
        return np.flatnonzero(a).tolist() if a.ndim else bool(a)
    return np.round(a.astype(float), 5).tolist()


def _nan_mask(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return np.isnan(a) if a.dtype.kind in "fc" else np.zeros(a.shape, dtype=bool)


def _where(outcome: Outcome, idx: list[int], index: tuple[int, ...], sweep_wide: bool) -> str:
    """'sparsity=0.9, seed 1' for a case index (point, seed, …) of judged values."""
    point = (
        "the sweep"
        if sweep_wide
        else ", ".join(f"{k}={x:g}" for k, x in outcome.points[idx[index[0]]].items()) or "the only point"
    )
    return point + (f", seed {index[1]}" if len(index) > 1 else "")


def nan_error(
    check: Check, m: np.ndarray, e: np.ndarray | None, outcome: Outcome, idx: list[int], sweep_wide: bool = False
) -> str | None:
    """Why a check cannot be judged — NaN in the measured or the expected values, and where — or None."""
    for side, values, name in (("measured", m, check.metric), ("expected", e, check.expect)):
        if values is None:
            continue
        nan = _nan_mask(values)
        if nan.any():
            first = tuple(int(i) for i in np.argwhere(nan)[0]) if nan.ndim else ()
            if side == "measured" and len(first) >= 2:
                where = _where(outcome, idx, first[:2], sweep_wide)
            elif len(first) >= 1 and nan.shape[0] == len(idx):  # an expectation per grid point
                where = _where(outcome, idx, first[:1], sweep_wide)
            else:
                where = "every point"
            return (
                f"NaN in the {side} {name!r} at {where} ({int(nan.sum())} of {nan.size} values); "
                f"NaN is no evidence either way"
            )
    return None


def judge_check(
    check: Check, outcome: Outcome, config: Any, metrics: dict[str, Metric], analytic: Registry[Callable[[Any], Any]]
) -> CheckResult:
    """Apply one check to one Outcome: `metrics` are the kind's measurements, `analytic` the closed
    forms an `expect` string may name."""
    rule = RULES.get(check.rule)
    tol = {k: getattr(check, k) for k in ("rel_tol", "abs_tol") if getattr(check, k)}
    idx = _select(outcome, check)
    metric = metrics[check.metric]
    m = np.asarray(metric.fn(outcome, config))[idx]
    if metric.sweep_wide:  # the same value at every grid point: one case per seed
        idx, m = idx[:1], m[:1]
    reduce = check.reduce if not (check.rule == "monotone" and check.reduce == "each") else "median"
    if reduce != "each":
        m = _REDUCERS[reduce](m, axis=1, keepdims=True)
    e = expected_values(check, outcome, config, idx, analytic)
    if e is not None and isinstance(check.expect, str) and e.ndim < m.ndim:
        # a value per grid point (P', 1) against per-feature cases (P', S, F): align it on the point axis
        e = e.reshape(e.shape + (1,) * (m.ndim - e.ndim))
    base = dict(
        metric=check.metric,
        rule=check.rule,
        measured=m.tolist(),
        expected=None if e is None else e.tolist(),
        tolerance=tol,
        measured_summary=summarise(m),
        expected_summary="" if e is None else summarise(e),
    )
    why_not = nan_error(check, m, e, outcome, idx, metric.sweep_wide)
    if why_not is not None:
        return CheckResult(passed=False, detail=f"error: {why_not}", error=why_not, **base)
    if rule.case_wise:
        assert rule.fn is not None and e is not None
        ok = rule.fn(m, e, check)  # (P', S')
        n, k = ok.size, int(ok.sum())
        if check.min_fraction is None:
            passed = bool(ok.all())
            detail = f"{k}/{n} cases pass" + (
                "" if passed else "; " + _first_failure(ok, m, e, outcome, idx, metric.sweep_wide)
            )
        else:
            lb = binomial_lower_bound(k, n, check.confidence)
            passed = lb >= check.min_fraction
            detail = (
                f"{k}/{n} cases pass; {check.confidence:.0%} lower bound {lb:.2f} "
                f"{'≥' if passed else '<'} {check.min_fraction:g}"
            )
            if k < n:
                detail += "; " + _first_failure(ok, m, e, outcome, idx, metric.sweep_wide)
        return CheckResult(passed=passed, detail=detail, **base)
    passed, detail = _monotone(m, outcome, idx, check)
    return CheckResult(passed=passed, detail=detail, **base)
