"""TopK SAE (arXiv:2406.04093): at most K active latents (ReLU after TopK), hand cases, AuxK for dead latents."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superposition_lab.models import TopKSAE
from superposition_lab.models.sae_topk import topk_mask
from tests.superposition_lab.models.hand_gradient import assert_hand_gradient_is_autograds, assert_same_training, pair


def test_k1_keeps_only_the_largest_preactivation() -> None:
    m = TopKSAE(1, 3, 3, generator=torch.Generator().manual_seed(0), k=1)
    with torch.no_grad():
        m.W_enc.copy_(torch.eye(3)[None])
        m.W_dec.copy_(torch.eye(3)[None])
    x = torch.tensor([[[0.2, 0.7, -0.1], [-0.5, -0.4, -0.9]]])
    # ReLU after TopK (the paper's): the largest of three negatives is kept by TopK, then zeroed
    torch.testing.assert_close(m.encode(x), torch.tensor([[[0.0, 0.7, 0.0], [0.0, 0.0, 0.0]]]))
    assert set(m.loss_terms(x)) == {"mse", "auxk"}  # no L1 term


@settings(deadline=None, derandomize=True, max_examples=15)
@given(ks=st.lists(st.integers(1, 9), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_active_latents_are_the_positive_among_the_top_k(ks: list[int], seed: int) -> None:
    m = TopKSAE(len(ks), 4, 9, generator=torch.Generator().manual_seed(seed), k=ks)
    x = torch.randn(len(ks), 50, 4, generator=torch.Generator().manual_seed(seed + 1))
    f, z = m.encode(x), m.pre_activation(x)
    counts = (f != 0).sum(-1)  # (I, B)
    assert (counts <= torch.tensor(ks)[:, None]).all()
    # exactly min(K, number of positive pre-activations): the ReLU only removes negative kept values
    expected = torch.minimum((z > 0).sum(-1), torch.tensor(ks)[:, None])
    assert torch.equal(counts, expected)


def test_topk_mask_with_per_row_k() -> None:
    z = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    mask = topk_mask(z, torch.tensor([[2], [1]]).squeeze(-1))
    assert mask.tolist() == [[True, False, True], [False, True, False]]


def test_k_is_validated() -> None:
    with pytest.raises(ValueError):
        TopKSAE(2, 3, 4, generator=torch.Generator().manual_seed(0), k=5)
    with pytest.raises(ValueError):
        TopKSAE(2, 3, 4, generator=torch.Generator().manual_seed(0), k=[1, 2, 3])


def test_auxk_is_zero_without_dead_latents_and_trains_only_dead_ones() -> None:
    m = TopKSAE(1, 4, 6, generator=torch.Generator().manual_seed(1), k=2, aux_k=2, aux_coeff=0.5, dead_window=5)
    x = torch.rand(1, 64, 4, generator=torch.Generator().manual_seed(2))
    assert float(m.loss_terms(x)["auxk"].detach()) == 0.0
    with torch.no_grad():
        m.steps_since_fired[0, [1, 4]] = 5  # latents 1 and 4 are dead
    t = m.loss_terms(x)
    assert float(t["auxk"].detach()) > 0
    (g,) = torch.autograd.grad(t["auxk"].sum(), [m.W_enc])
    alive = [0, 2, 3, 5]
    assert torch.count_nonzero(g[0][:, alive]) == 0  # the residual is held fixed
    assert torch.count_nonzero(g[0][:, [1, 4]]) > 0


def test_hand_computed_auxk() -> None:
    m = TopKSAE(1, 2, 2, generator=torch.Generator().manual_seed(0), k=1, aux_k=1, aux_coeff=1.0, dead_window=1)
    with torch.no_grad():
        m.W_enc.copy_(torch.eye(2)[None])
        m.W_dec.copy_(torch.eye(2)[None])
        m.steps_since_fired[0, 1] = 1  # latent 1 dead
    x = torch.tensor([[[0.9, 0.4]]])
    # main code keeps latent 0: x̂ = (0.9, 0), residual e = (0, 0.4); the dead latent 1 has z = 0.4:
    # ê = (0, 0.4), so ‖e − ê‖² = 0
    assert float(m.loss_terms(x)["auxk"].detach()) == pytest.approx(0.0, abs=1e-12)
    with torch.no_grad():
        m.W_enc[0, 1, 1] = 0.5  # now z_1 = 0.2: ê = (0, 0.2), ‖e − ê‖² = 0.04
    assert float(m.loss_terms(x)["auxk"].detach()) == pytest.approx(0.04, rel=1e-5)


def test_auxk_revives_a_latent_whose_preactivations_are_all_negative() -> None:
    # A naturally dead latent has a negative pre-activation on every input (its encoder bias driven far
    # below zero). The auxiliary code is the raw pre-activation (no ReLU, unlike OpenAI's released code),
    # so AuxK still pulls it up toward the residual's projection; under a ReLU it would get no gradient.
    m = TopKSAE(1, 2, 2, generator=torch.Generator().manual_seed(0), k=1, aux_k=1, aux_coeff=1.0, dead_window=1)
    with torch.no_grad():
        m.W_enc.copy_(torch.eye(2)[None])
        m.W_dec.copy_(torch.eye(2)[None])
        m.b_enc[0, 1] = -1.0
        m.steps_since_fired[0, 1] = 1  # latent 1 dead
    x = torch.tensor([[[0.9, 0.4]]])
    # z = (0.9, −0.6): the main code keeps latent 0, e = (0, 0.4); the dead latent's code is z_1 = −0.6,
    # ê = (0, −0.6), ‖e − ê‖² = 1.0, and d/db_1 = −2 (0.4 − (−0.6)) = −2: descent raises b_1
    aux = m.loss_terms(x)["auxk"]
    assert float(aux.detach()) == pytest.approx(1.0, rel=1e-6)
    (g,) = torch.autograd.grad(aux.sum(), [m.b_enc])
    torch.testing.assert_close(g, torch.tensor([[0.0, -2.0]]))


@pytest.mark.parametrize("case", ["distinct", "ties", "minus_inf", "k_zero"])
def test_topk_mask_is_torch_topks_set(case: str) -> None:
    """The level-based mask keeps exactly the entries torch.topk picks, ties and −inf included, as
    bools or as 1/0 floats."""
    g = torch.Generator().manual_seed(3)
    for _ in range(40):
        z = torch.randn(3, 21, 12, generator=g)
        k = torch.randint(1, 7, (3, 1), generator=g)
        if case == "ties":
            z = z.round()  # many equal values, at and above the k-th
        if case == "minus_inf":
            z[:, :, :6] = float("-inf")  # AuxK: only the dead latents compete
        if case == "k_zero":
            k[1] = 0
        idx = torch.topk(z, int(k.max()), dim=-1).indices
        ranked = (torch.arange(int(k.max())) < k[..., None]).expand_as(idx)
        expected = torch.zeros_like(z, dtype=torch.bool).scatter(-1, idx, ranked)
        assert torch.equal(topk_mask(z, k), expected)
        assert torch.equal(topk_mask(z, k, dtype=z.dtype), expected.to(z.dtype))  # the 1/0 float form


def _topk_pair(I: int, H: int, D: int, seed: int, **kw):
    k = torch.randint(1, 5, (I,), generator=torch.Generator().manual_seed(seed)).tolist()
    return pair(TopKSAE, I, H, D, seed, k=k, **kw)


@pytest.mark.parametrize("dead", ["none", "some", "auxk_off"])
@pytest.mark.parametrize("shape", [(1, 1024, 32, 64), (3, 100, 7, 13), (6, 512, 12, 48)])
def test_hand_gradient_is_autograds(dead: str, shape) -> None:
    I, B, H, D = shape
    a, b, g = _topk_pair(I, H, D, seed=I + D, aux_coeff=0.0 if dead == "auxk_off" else 0.5, dead_window=5)
    if dead == "some":  # every third latent dead, except in instance 0 (an instance with none: k_aux = 0)
        for m in (a, b):
            m.steps_since_fired[:, ::3] = 10
            m.steps_since_fired[0, :] = 0
    assert_hand_gradient_is_autograds(a, b, torch.relu(torch.randn(I, B, H, generator=g)))


def test_training_on_the_hand_gradient_follows_autograd() -> None:
    """A whole run in which latents die and AuxK pulls them back ends in the same parameters."""
    a, b, _ = _topk_pair(2, 8, 16, seed=5, dead_window=10)
    with torch.no_grad():  # four latents that start dead, for AuxK to work on
        a.b_enc[:, :4] = -5.0
        b.b_enc[:, :4] = -5.0
    assert_same_training(a, b, lr=0.01, clip_grad_norm=0.0)
    assert any(max(fractions) > 0 for _, fractions in b.dead_history)  # AuxK had dead latents to work on
