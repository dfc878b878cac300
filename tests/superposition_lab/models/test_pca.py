"""The principal-component dictionary (superposition_lab/models/pca.py): the best rank-d linear code."""

from __future__ import annotations

import pytest
import torch

from superposition_lab.models.pca import PCADictionary


def sample(I: int = 2, B: int = 400, H: int = 5, rank: int = 3, seed: int = 0) -> torch.Tensor:
    """x = mean + (rank-r signal with distinct scales), (I, B, H), float64."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(I, H, H, generator=g, dtype=torch.float64))[0][..., :rank]  # (I, H, r)
    scales = torch.arange(rank, 0, -1, dtype=torch.float64)  # r, …, 1: a strict order of variances
    codes = torch.randn(I, B, rank, generator=g, dtype=torch.float64) * scales
    return codes @ basis.transpose(1, 2) + torch.randn(I, 1, H, generator=g, dtype=torch.float64)


def test_full_rank_dictionary_reconstructs_exactly_with_orthonormal_atoms() -> None:
    x = sample()
    pca = PCADictionary(x, d=3)  # the data's rank
    assert pca.W_dec.shape == pca.W_enc.shape == (2, 5, 3) and pca.b_enc.shape == (2, 3)
    torch.testing.assert_close(pca.W_dec.transpose(1, 2) @ pca.W_dec, torch.eye(3, dtype=torch.float64).expand(2, 3, 3))
    torch.testing.assert_close(pca(x), x)
    torch.testing.assert_close(pca.b_dec, x.mean(dim=1))
    assert pca.dead_history == []


def test_components_come_in_order_of_variance() -> None:
    x = sample()
    f = PCADictionary(x, d=3).encode(x)  # (I, B, 3)
    var = f.var(dim=1)
    assert (var[:, :-1] > var[:, 1:]).all()
    # one component: the reconstruction keeps exactly the first component's variance
    one = PCADictionary(x, d=1)
    residual = ((x - one(x)) ** 2).sum(dim=(1, 2)) / x.shape[1]
    total = ((x - x.mean(dim=1, keepdim=True)) ** 2).sum(dim=(1, 2)) / x.shape[1]
    torch.testing.assert_close(residual, total - f[..., 0].pow(2).mean(dim=1))


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="1 <= d <= H"):
        PCADictionary(torch.zeros(1, 10, 3), d=4)
    with pytest.raises(ValueError, match="x \\(I, B, H\\)"):
        PCADictionary(torch.zeros(10, 3), d=2)
