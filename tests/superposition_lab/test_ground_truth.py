"""Ground-truth activations: unit/orthonormal directions, firing rates, hierarchy, magnitudes, seeding."""

from __future__ import annotations

import pytest
import torch

from superposition_lab.ground_truth import GroundTruth, feature_directions, feature_variants


def test_random_directions_are_unit_and_orthogonal_ones_orthonormal() -> None:
    g = torch.Generator().manual_seed(0)
    D = feature_directions(3, 5, 9, generator=g)
    assert D.shape == (3, 5, 9)
    torch.testing.assert_close(D.norm(dim=1), torch.ones(3, 9))
    Q = feature_directions(2, 6, 4, kind="orthogonal", generator=g)
    torch.testing.assert_close(Q.transpose(1, 2) @ Q, torch.eye(4).expand(2, 4, 4), atol=1e-6, rtol=0)
    with pytest.raises(ValueError):
        feature_directions(1, 3, 4, kind="orthogonal", generator=g)
    with pytest.raises(ValueError):
        feature_directions(1, 3, 4, kind="spherical", generator=g)


def test_seeded_draws_are_reproducible() -> None:
    a = feature_directions(2, 4, 6, generator=torch.Generator().manual_seed(3))
    b = feature_directions(2, 4, 6, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    gt = GroundTruth(a, torch.full((2, 6), 0.3))
    x1 = gt.sample(100, torch.Generator().manual_seed(4))
    x2 = gt.sample(100, torch.Generator().manual_seed(4))
    assert torch.equal(x1, x2)


def test_activations_are_the_coefficients_along_the_directions() -> None:
    D = feature_directions(2, 4, 6, generator=torch.Generator().manual_seed(5))
    gt = GroundTruth(D, torch.full((2, 6), 0.5))
    c, x = gt.sample_with_coefficients(64, torch.Generator().manual_seed(6))
    assert c.shape == (2, 64, 6) and x.shape == (2, 64, 4)
    torch.testing.assert_close(x, torch.einsum("ibf,ihf->ibh", c, D))
    assert (c >= 0).all() and (c <= 1).all()


def test_firing_rates_and_uniform_magnitudes() -> None:
    D = torch.eye(3)[None]
    gt = GroundTruth(D, torch.tensor([[0.1, 0.5, 0.9]]), lo=0.2, hi=0.6)
    c = gt.coefficients(100_000, torch.Generator().manual_seed(7))[0]
    on = c > 0
    torch.testing.assert_close(on.float().mean(0), torch.tensor([0.1, 0.5, 0.9]), atol=0.01, rtol=0)
    active = c[on]
    assert active.min() >= 0.2 and active.max() <= 0.6
    assert abs(float(active.mean()) - 0.4) < 0.005


@pytest.mark.parametrize(
    "lo, hi, parents",
    [(0.0, 2.0, ()), (0.0, 1.0, (-1, 0, -1)), (0.5, 1.5, ())],
    ids=["sparse-draw", "one-uniform-with-parent", "one-uniform-lo"],
)
def test_each_draw_gives_the_stated_rates_and_magnitudes(lo: float, hi: float, parents: tuple[int, ...]) -> None:
    """Both draws (SparseUniform's for U[0, hi] without a hierarchy, one uniform per entry
    otherwise): firing rates, U[lo, hi] magnitudes, and a feature with p = 0 never fires."""
    p = torch.tensor([[0.05, 0.3, 0.0]])
    gt = GroundTruth(torch.eye(3)[None], p, parents=parents, lo=lo, hi=hi)
    c = gt.coefficients(200_000, torch.Generator().manual_seed(9))[0]
    assert torch.isfinite(c).all() and (c[:, 2] == 0).all()
    torch.testing.assert_close((c > 0).float().mean(0), gt.marginal_firing()[0], atol=0.004, rtol=0)
    for f in (0, 1):
        active = c[c[:, f] > 0, f]
        assert active.min() >= lo and active.max() <= hi
        # mean (lo + hi)/2 and variance (hi − lo)²/12 of U[lo, hi], within 5 standard errors
        se = (hi - lo) / 12**0.5 / len(active) ** 0.5
        assert abs(float(active.mean()) - (lo + hi) / 2) < 5 * se
        assert abs(float(active.var()) / ((hi - lo) ** 2 / 12) - 1) < 0.05


def test_hierarchy_child_fires_only_with_its_parent() -> None:
    # Chanin et al.'s toy: f1 fires only when f0 does (w.p. 0.2 given f0), magnitude 1
    gt = GroundTruth(
        torch.eye(4)[None], torch.tensor([[0.25, 0.2, 0.05, 0.05]]), parents=(-1, 0, -1, -1), magnitude="constant"
    )
    c = gt.coefficients(200_000, torch.Generator().manual_seed(8))[0]
    assert not ((c[:, 1] > 0) & (c[:, 0] == 0)).any()
    torch.testing.assert_close((c > 0).float().mean(0), gt.marginal_firing()[0], atol=0.005, rtol=0)
    torch.testing.assert_close(gt.marginal_firing()[0], torch.tensor([0.25, 0.05, 0.05, 0.05]))
    assert set(c.unique().tolist()) == {0.0, 1.0}


def test_bad_hierarchies_and_shapes_are_refused() -> None:
    D = torch.eye(3)[None]
    with pytest.raises(ValueError):
        GroundTruth(D, torch.full((1, 3), 0.5), parents=(-1, 2, -1))  # parent after child
    with pytest.raises(ValueError):
        GroundTruth(D, torch.full((1, 3), 0.5), parents=(-1, 0))
    with pytest.raises(ValueError):
        GroundTruth(D, torch.full((2, 3), 0.5))


@pytest.mark.parametrize("spread", [0.0, 0.75])
def test_feature_variants_sit_at_the_derived_cosines(spread: float) -> None:
    """(d0 + ε·u_k)/√(1 + ε²): cosine 1/√(1 + ε²) with d0, 1/(1 + ε²) with each other; the rest unchanged."""
    Q = feature_directions(2, 8, 6, kind="orthogonal", generator=torch.Generator().manual_seed(7))  # F + 1 = 6
    D, d0 = feature_variants(Q, 3, spread)
    assert D.shape == (2, 8, 5) and d0.shape == (2, 8)
    torch.testing.assert_close(D.norm(dim=1), torch.ones(2, 5))
    torch.testing.assert_close(d0, Q[:, :, 0])
    G = D.transpose(1, 2) @ D  # (I, F, F) Gram matrix
    pair = torch.full((3, 3), 1 / (1 + spread**2)).fill_diagonal_(1.0)
    torch.testing.assert_close(G[:, :3, :3], pair.expand(2, 3, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        torch.einsum("ih,ihv->iv", d0, D[:, :, :3]), torch.full((2, 3), (1 + spread**2) ** -0.5), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(D[:, :, 3:], Q[:, :, 4:])  # the other features: the draw's last columns


def test_feature_variants_of_random_directions_are_offset_orthogonally_to_d0() -> None:
    g = feature_directions(1, 16, 5, generator=torch.Generator().manual_seed(8))  # not orthogonal
    D, d0 = feature_variants(g, 2, 1.0)
    torch.testing.assert_close(d0[0] @ D[0, :, :2], torch.full((2,), 2**-0.5), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="variants"):
        feature_variants(g, 5, 1.0)  # 5 columns hold d0 and at most 4 variants
