"""The free optimum of the phase-diagram toy models: exact expected loss minimised over W and b.

Source: Toy Models of Superposition (Elhage et al. 2022), "Superposition as a Phase Change". The
paper's phase diagrams compare named solutions with unit-norm directions and fixed biases (the
closed forms of `analytic.two_in_one` and `analytic.three_in_two`); trained models are free to
shorten their directions and move their biases. Here the exact expected loss — the sparsity-
pattern expansion of `analytic.relu_output` for the ReLU output model, or the closed form below
for the linear model — is minimised from many starts, so that the closed-form map can be compared
with the map of true (local, multi-start) optima:

- `minimise_expected_loss`: multi-start L-BFGS-B from the named solutions and random starts;
- `find_map_difference`: grid points where the free optimum's phase is not the closed-form winner;
- `find_free_boundary`: where the free optimum leaves the phase below a closed-form boundary
  (bisection in log p), i.e. how far freely optimised magnitudes and biases move the boundary;
- `one_sided_slopes`: the slopes of a loss curve just left and right of a density, to show that
  the free transition is still first order (the optimal loss has a kink: its slope drops).

The linear model's exact loss: with independent features of mean μ = p/2 and variance
V = p/3 − p²/4, the residual e = (1 − G)x − b, G = WᵀW, has E[e_i²] = V·Σ_j (1 − G)_ij² +
(μ·Σ_j (1 − G)_ij − b_i)².
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
from scipy import optimize

from analytic import relu_output
from analytic.linear import feature_variance

__all__ = [
    "MODELS",
    "exact_loss",
    "linear_expected_loss",
    "FreeOptimum",
    "minimise_expected_loss",
    "PhaseDisagreement",
    "find_map_difference",
    "FreeBoundary",
    "find_free_boundary",
    "one_sided_slopes",
]

Array = np.ndarray
LossFn = Callable[[float | Array, float | Array], Mapping[str, float | Array]]  # (r, p) → {phase: loss}


# 1) the exact expected loss of a model with given (W, b) ----------------------------------------
def linear_expected_loss(W: Array, b: Array, importance: Array, sparsity: float) -> float:
    """Exact E[Σ_i I_i (x_i − (WᵀWx + b)_i)²] of the tied linear model (W (m, n), b (n,))."""
    W = np.asarray(W, dtype=float)
    A = np.eye(W.shape[1]) - W.T @ W  # (F, F): residual e = A x − b
    p = 1.0 - float(sparsity)
    mean_err = A.sum(axis=1) * p / 2.0 - np.asarray(b, dtype=float)  # E[e_i]
    var_err = (A**2).sum(axis=1) * feature_variance(sparsity)  # Var(e_i)
    return float(np.asarray(importance, dtype=float) @ (var_err + mean_err**2))


MODELS: dict[str, Callable[[Array, Array, Array, float], float]] = {
    "relu_output": relu_output.expected_loss,
    "linear": linear_expected_loss,
}


def exact_loss(W: Array, b: Array, importance: Array, p: float, model: str = "relu_output") -> float:
    """Exact expected loss at density p of the `model` ("relu_output" or "linear") with (W, b)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r} (known: {', '.join(MODELS)})")
    return MODELS[model](W, b, importance, 1.0 - p)


# 2) multi-start minimisation --------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class FreeOptimum:
    """Best (W, b) found for the exact expected loss, its phase and the start it came from."""

    loss: float
    W: Array
    b: Array
    phase: str
    start: str


_OFF_NORM = 1e-2  # a feature with ‖W_i‖ below this is switched off exactly (see minimise_expected_loss)


def _with_values(x: Array, mask: Array, values: Array) -> Array:
    out = x.copy()
    out[mask] = values
    return out


def minimise_expected_loss(
    starts: Mapping[str, tuple[Array, Array]],
    imp: Array,
    p: float,
    classify_fn: Callable[..., str | Array],
    restarts: int,
    seed: int,
    model: str = "relu_output",
) -> FreeOptimum:
    """Multi-start L-BFGS-B on the exact expected loss over (W, b).

    Starts: every named solution, plus `restarts` Xavier-normal W with b = 0 (seeded). After each
    run, features with ‖W_i‖ < 1e-2 are set exactly to 0 and the rest re-polished: such a feature
    is off anyway, and the exact ReLU expansion divides by G_ii, so it is ill-conditioned for tiny
    but non-zero norms (the optimiser found spurious losses ~4e-4 too low there). Each start's own
    loss is a candidate too, so the result is never worse than any start.
    """
    (m, n) = next(iter(starts.values()))[0].shape
    rng = np.random.default_rng(seed)
    starts = dict(starts) | {
        f"random_{k}": (rng.normal(0, np.sqrt(2 / (m + n)), (m, n)), np.zeros(n)) for k in range(restarts)
    }

    def unpack(x: Array) -> tuple[Array, Array]:
        return x[: m * n].reshape(m, n), x[m * n :]

    def loss_at(x: Array) -> float:
        return exact_loss(*unpack(x), imp, p, model)

    def descend(x: Array, free: Array) -> Array:  # L-BFGS-B over x[free], the rest held fixed
        def loss_of_free(y: Array) -> float:
            return loss_at(_with_values(x, free, y))

        res = optimize.minimize(loss_of_free, x[free], method="L-BFGS-B", options={"maxiter": 500, "gtol": 1e-9})
        return _with_values(x, free, res.x)

    best: tuple[float, Array, str] | None = None
    for name, (W0, b0) in starts.items():
        x0 = np.concatenate([W0.ravel(), b0])
        x = descend(x0, np.ones_like(x0, dtype=bool))
        off = np.linalg.norm(unpack(x)[0], axis=0) < _OFF_NORM  # (F,)
        if off.any():
            pinned = np.concatenate([np.broadcast_to(off, (m, n)).ravel(), np.zeros(n, dtype=bool)])
            x = descend(np.where(pinned, 0.0, x), ~pinned)
        for cand in (x0, x):
            loss = loss_at(cand)
            if best is None or loss < best[0]:
                best = (loss, cand, name)
    assert best is not None  # there is at least one start
    loss, x, name = best
    W, b = unpack(x)
    phase = classify_fn(W, b)
    assert isinstance(phase, str)  # one W: one phase name
    return FreeOptimum(float(loss), W, b, phase, name)


# 3) where the free map differs from the closed-form map ----------------------------------------
class PhaseDisagreement(NamedTuple):
    """A grid point where the free optimum's phase differs from the closed-form winner."""

    r: float
    p: float
    closed_form: str
    free: str
    closed_loss: float
    free_loss: float


def find_map_difference(
    phase_fn: Callable,
    loss_fn: LossFn,
    free_fn: Callable[..., FreeOptimum],
    r_values: Array,
    p_values: Array,
    restarts: int,
    seed: int,
) -> list[PhaseDisagreement]:
    """Grid points (r × p) where `free_fn`'s phase is not the closed-form winner `phase_fn`."""
    out = []
    for r, p in itertools.product(np.atleast_1d(r_values), np.atleast_1d(p_values)):
        closed, free = phase_fn(r, p), free_fn(float(r), float(p), restarts, seed)
        if free.phase != closed:
            out.append(
                PhaseDisagreement(float(r), float(p), closed, free.phase, float(loss_fn(r, p)[closed]), free.loss)
            )
    return out


class FreeBoundary(NamedTuple):
    """The closed-form boundary at r and where the free optimum leaves the phase below it.

    `free` is nan when the free optimum is not in phase `below` even `width` decades under the
    closed-form boundary, and 1.0 when it is still in phase `below` at p = 1 (the boundary left
    the diagram); `shift` = log10(free/closed) in decades.
    """

    r: float
    below: str
    closed: float
    free: float

    @property
    def shift(self) -> float:
        return float(np.log10(self.free / self.closed))


def find_free_boundary(
    boundaries_fn: Callable[[float], list],
    free_fn: Callable[..., FreeOptimum],
    r: float,
    restarts: int = 0,
    seed: int = 0,
    tol: float = 0.005,
    width: float = 0.3,
) -> FreeBoundary:
    """Bisection in log10 p for the density where the free optimum stops being in the phase below
    the lowest closed-form boundary at r: [closed·10^−width, 1] is the bracket, `tol` decades the
    final width (each step is one multi-start `free_fn(r, p, restarts, seed)`)."""
    first = boundaries_fn(r)[0]
    lo, hi = np.log10(first.p) - width, 0.0

    def below(log_p: float) -> bool:
        return free_fn(r, float(10.0**log_p), restarts, seed).phase == first.below

    if not below(lo):
        return FreeBoundary(float(r), first.below, first.p, float("nan"))
    if below(hi):
        return FreeBoundary(float(r), first.below, first.p, 1.0)
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if below(mid) else (lo, mid)
    return FreeBoundary(float(r), first.below, first.p, float(10.0 ** (0.5 * (lo + hi))))


def one_sided_slopes(
    loss: Callable[[float], float], p: float, gap: float = 0.005, step: float = 0.01
) -> tuple[float, float]:
    """dL/dp just below and just above p, from three points on each side (second-order one-sided
    differences, error O(h²)); the two anchors sit `gap` decades either side of p, so an
    uncertainty of up to `gap` in where the kink is does not mix the branches, and consecutive
    points are `step` decades apart. At a smooth point the two agree up to ≈ L''·p·gap·ln 10·2."""
    a = p * 10.0**-gap
    h = a * (1.0 - 10.0**-step)
    c = p * 10.0**gap
    k = c * (10.0**step - 1.0)
    left = (3 * loss(a) - 4 * loss(a - h) + loss(a - 2 * h)) / (2 * h)
    right = (-3 * loss(c) + 4 * loss(c + k) - loss(c + 2 * k)) / (2 * k)
    return float(left), float(right)
