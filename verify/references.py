"""Closed forms a check may name as `expect = "analytic.<module>.<name>"`.

Each adapter reads the experiment config at ONE grid point and returns the value the closed form in
`analytic/` predicts there. The closed forms stay pure numpy/scipy; this module is the only place
that knows which config fields feed them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analytic import linear, polytopes, relu_output
from analytic import sae as analytic_sae
from verify.registry import ANALYTIC

__all__: list[str] = []


# ---------------------------------------------------------------- the tied linear model (TMS "Demonstrating …")
@ANALYTIC.add("analytic.linear.top_m")
def _linear_top_m(c: Any) -> Any:
    return linear.top_m(c.importance.vector(c.n_features), c.n_hidden)


@ANALYTIC.add("analytic.linear.optimal_loss")
def _linear_optimal_loss(c: Any) -> Any:
    return linear.optimal_loss(c.importance.vector(c.n_features), c.n_hidden, c.sparsity)


# ---------------------------------------------------------------- L1 SAE on orthogonal data, U[lo, hi] coefficients
# γ, and L0 / MSE summed over the n independent features (each fires with the experiment's density)
@ANALYTIC.add("analytic.sae.l1_gamma_uniform")
def _l1_gamma_uniform(c: Any) -> Any:
    return analytic_sae.l1_gamma_uniform(c.penalty, c.lo, c.hi)


@ANALYTIC.add("analytic.sae.l1_expected_l0")
def _l1_expected_l0(c: Any) -> Any:
    return c.n_features * analytic_sae.l1_expected_l0(c.penalty, c.lo, c.hi, c.density)


@ANALYTIC.add("analytic.sae.l1_expected_mse")
def _l1_expected_mse(c: Any) -> Any:
    return c.n_features * analytic_sae.l1_expected_mse(c.penalty, c.lo, c.hi, c.density)


# ... and at the optimum with a learned decoder bias (what a trained SAE reaches)
@ANALYTIC.add("analytic.sae.l1_gamma_learned_bias")
def _l1_gamma_learned_bias(c: Any) -> Any:
    return analytic_sae.l1_gamma_learned_bias(c.penalty, c.density, c.lo, c.hi)


@ANALYTIC.add("analytic.sae.l1_expected_l0_learned_bias")
def _l1_expected_l0_learned_bias(c: Any) -> Any:
    return c.n_features * analytic_sae.l1_expected_l0_learned_bias(c.penalty, c.density, c.lo, c.hi)


# ---------------------------------------------------------------- uniform polytopes (TMS "Geometry of Superposition")
# the regular simplex from projecting n basis vectors ⊥ (1, …, 1)
@ANALYTIC.add("analytic.polytopes.simplex_dimensionality")
def _simplex_dimensionality(c: Any) -> float:
    return float(polytopes.simplex_dimensionality(c.n))


@ANALYTIC.add("analytic.polytopes.simplex_cosine")
def _simplex_cosine(c: Any) -> float:
    return float(polytopes.simplex_cosine(c.n))


def _uniform_polytope(c: Any) -> polytopes.Polytope:
    """The named uniform configuration with the experiment's n_features points in n_hidden dims."""
    for polytope in polytopes.KNOWN.values():
        if (polytope.n_features, polytope.n_dims) == (c.n_features, c.n_hidden):
            return polytope
    raise ValueError(
        f"no uniform polytope of {c.n_features} features in {c.n_hidden} dims (known: {', '.join(polytopes.KNOWN)})"
    )


@ANALYTIC.add("analytic.polytopes.uniform_dimensionality")
def _uniform_dimensionality(c: Any) -> float:
    """D_i of every feature of the uniform polytope (e.g. 2/5 for 5 features in 2 dims, the pentagon)."""
    return float(_uniform_polytope(c).dimensionality)


@ANALYTIC.add("analytic.polytopes.uniform_gap_degrees")
def _uniform_gap_degrees(c: Any) -> float:
    """The angle between neighbouring features of a 2-D uniform polytope (72° for the pentagon)."""
    polytope = _uniform_polytope(c)
    if polytope.n_dims != 2:
        raise ValueError(f"angular gaps are defined for 2-D configurations, not {polytope.name}")
    W = polytopes.configuration(polytope.name)  # (2, k)
    angles = np.sort(np.degrees(np.arctan2(W[1], W[0])) % 360.0)
    gaps = np.diff(np.append(angles, angles[0] + 360.0))
    return float(gaps.min())


def _polygon_optimum(c: Any) -> relu_output.PolygonOptimum:
    """The exact optimum of the symmetric polygon of the experiment's features in 2 dims at its sparsity."""
    if c.n_hidden != 2:
        raise ValueError(f"the symmetric polygon lives in 2 dims, not {c.n_hidden}")
    return relu_output.regular_polygon_optimum(c.n_features, float(c.sparsity))


@ANALYTIC.add("analytic.relu_output.polygon_norm")
def _polygon_norm(c: Any) -> np.ndarray:
    """‖W_i‖ of every feature at the exact optimum of the regular polygon (uniform features, 2 dims)."""
    return np.full(c.n_features, _polygon_optimum(c).norm)


@ANALYTIC.add("analytic.relu_output.polygon_bias")
def _polygon_bias(c: Any) -> np.ndarray:
    """b_i of every feature at the exact optimum of the regular polygon (uniform features, 2 dims)."""
    return np.full(c.n_features, _polygon_optimum(c).bias)


# ---------------------------------------------------------------- the tied linear model: bias, WᵀW, explained variance
# (the TDS article's linear model)
@ANALYTIC.add("analytic.linear.optimal_bias")
def _linear_optimal_bias(c: Any) -> Any:
    return linear.optimal_bias(c.importance.vector(c.n_features), c.n_hidden, c.sparsity)


@ANALYTIC.add("analytic.linear.optimal_offdiag_mass")
def _linear_optimal_offdiag_mass(c: Any) -> Any:
    return linear.optimal_offdiag_mass(c.importance.vector(c.n_features), c.n_hidden)


@ANALYTIC.add("analytic.linear.max_explained_features")
def _linear_max_explained_features(c: Any) -> Any:
    return linear.max_explained_features(c.n_hidden)
