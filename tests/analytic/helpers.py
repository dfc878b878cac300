"""Independent references for the phase-diagram closed forms (tests/analytic).

Two evaluations of the expected loss E[Σ_i I_i (x_i − ReLU(WᵀWx + b)_i)²] that share nothing with
`analytic.relu_output`: exact quadrature over sparsity patterns (scipy.integrate.nquad, told where
the ReLU kinks are) and a seeded numpy Monte Carlo. Used by test_two_in_one.py, test_three_in_two.py
and test_free_optimum.py.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import integrate

__all__ = ["quadrature_loss", "monte_carlo_loss"]


def _breakpoints(G, b, act, level, outer, tol):
    """nquad options for u_level: the kinks c_i + Σ_{j∈T} G_ij + G_i,level·u = 0, T ⊆ inner variables."""
    x = np.zeros(G.shape[0])
    x[act[level + 1 :]] = outer
    c, a = G @ x + b, G[:, act[level]]
    pts = set()
    for s in range(level + 1):
        for T in itertools.combinations(act[:level], s):
            shift = c + G[:, list(T)].sum(axis=1)
            pts |= {-sh / ai for sh, ai in zip(shift, a) if ai != 0 and 0 < -sh / ai < 1}
    return {"points": sorted(pts), "epsabs": tol * 1e-2, "epsrel": tol, "limit": 200}


def quadrature_loss(W, b, importance, p, tol=1e-11):
    """Σ over active sets A of p^|A| S^(n−|A|) ∫_{[0,1]^A} Σ_i I_i (x_i − ReLU(Gx + b)_i)² du."""
    G, n = W.T @ W, W.shape[1]
    total = 0.0
    for k in range(n + 1):
        for act in map(list, itertools.combinations(range(n), k)):

            def f(*u, act=act):
                x = np.zeros(n)
                x[act] = u
                return float(importance @ (x - np.maximum(G @ x + b, 0.0)) ** 2)

            opts = [lambda *o, lv=lv, act=act: _breakpoints(G, b, act, lv, o, tol) for lv in range(k)]
            val = integrate.nquad(f, [(0, 1)] * k, opts=opts)[0] if k else f()
            total += p**k * (1 - p) ** (n - k) * val
    return total


def monte_carlo_loss(W, b, importance, p, n_samples=200_000, seed=0):
    """(mean, standard error) of the loss over seeded samples x_i = 1[on]·U[0, 1]."""
    rng = np.random.default_rng(seed)
    shape = (n_samples, W.shape[1])
    x = rng.random(shape) * (rng.random(shape) < p)  # (B, F)
    out = np.maximum(x @ (W.T @ W) + b, 0.0)  # G symmetric, so x @ G = (G x)ᵀ
    per_sample = ((x - out) ** 2) @ importance
    return per_sample.mean(), per_sample.std(ddof=1) / np.sqrt(n_samples)
