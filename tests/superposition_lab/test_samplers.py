"""Correlated and anticorrelated feature sets (TMS "Correlated and Anticorrelated Features").

Statistical checks use seeded generators and 5-sigma bands (binomial standard errors), so a
correct sampler fails with probability ~1e-6 per assertion and the verdict never changes between
runs.
"""

from __future__ import annotations

import math

import pytest
import torch

from superposition_lab.data import AnticorrelatedSets, CorrelatedSets, feature_sets

B = 200_000  # samples per instance
Z = 5.0


def within(observed: float, p: float, n: int) -> bool:
    """|observed − p| within Z binomial standard errors."""
    return abs(observed - p) <= Z * math.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


def draw(sampler, seed: int = 0) -> torch.Tensor:
    return sampler.sample(B, torch.Generator().manual_seed(seed))  # (I, B, F)


# 1) The layout of the sets.


def test_feature_sets_layout():
    assert feature_sets(7, 2).tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert feature_sets(6, 3, n_sets=1).tolist() == [0, 0, 0, 1, 2, 3]
    assert feature_sets(4, 1).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="do not fit"):
        feature_sets(5, 2, n_sets=3)
    with pytest.raises(ValueError, match="set_size"):
        feature_sets(5, 0)


def test_density_must_match_the_sets():
    with pytest.raises(ValueError, match="sets"):
        CorrelatedSets(torch.full((1, 3), 0.5), feature_sets(4, 2))


# 2) Correlated sets: one draw per set, independent values.


def test_correlated_marginals_and_co_occurrence():
    sets = feature_sets(5, 2)  # {0,1}, {2,3}, {4}
    density = torch.tensor([[0.3, 0.1, 0.6]], dtype=torch.float64)
    x = draw(CorrelatedSets(density, sets))[0]  # (B, F)
    on = x != 0
    for f, p in enumerate([0.3, 0.3, 0.1, 0.1, 0.6]):
        assert within(on[:, f].double().mean().item(), p, B), f
    # inside a set: zero together, active together
    assert torch.equal(on[:, 0], on[:, 1]) and torch.equal(on[:, 2], on[:, 3])
    # across sets: independent, P(both) = p_g p_h
    assert within((on[:, 0] & on[:, 2]).double().mean().item(), 0.03, B)
    assert within((on[:, 0] & on[:, 4]).double().mean().item(), 0.18, B)
    # non-zero values are U[0, 1] and independent within a set
    both = on[:, 0]
    a, b = x[both, 0], x[both, 1]
    n = int(both.sum())
    assert abs(a.mean().item() - 0.5) < Z * math.sqrt(1 / 12 / n)
    assert abs(torch.corrcoef(torch.stack([a, b]))[0, 1].item()) < Z / math.sqrt(n)
    assert x[on].min() > 0.0 and x.max() <= 1.0


# 3) Anticorrelated sets: at most one active feature per set.


def test_anticorrelated_marginals_and_exclusion():
    sets = feature_sets(7, 3, n_sets=2)  # {0,1,2}, {3,4,5}, {6}
    density = torch.tensor([[0.6, 0.3, 0.2]], dtype=torch.float64)
    x = draw(AnticorrelatedSets(density, sets), seed=1)[0]
    on = x != 0
    # marginal p_g / k_g, the chosen member uniform over the set
    for f, p in enumerate([0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.2]):
        assert within(on[:, f].double().mean().item(), p, B), f
    # never two features of one set together; the set is active with probability p_g
    assert on[:, 0:3].sum(-1).max() == 1 and on[:, 3:6].sum(-1).max() == 1
    assert within(on[:, 0:3].any(-1).double().mean().item(), 0.6, B)
    # across sets independent
    assert within((on[:, 0:3].any(-1) & on[:, 6]).double().mean().item(), 0.12, B)
    assert within(x[on[:, 0], 0].mean().item(), 0.5, int(on[:, 0].sum()))


def test_samplers_are_seeded_and_batched_over_instances():
    sets = feature_sets(6, 2)
    density = torch.tensor([[0.5, 0.5, 0.5], [0.0, 1.0, 0.0]])
    for cls in (CorrelatedSets, AnticorrelatedSets):
        s = cls(density, sets)
        a, b = s.sample(32, torch.Generator().manual_seed(9)), s.sample(32, torch.Generator().manual_seed(9))
        assert a.shape == (2, 32, 6) and torch.equal(a, b)
        # instance 1: only the middle set is ever active
        assert (a[1][:, [0, 1, 4, 5]] == 0).all() and (a[1][:, 2:4] != 0).any(-1).all()
