"""Invariants every SAE in the SAES registry must keep (shared base, superposition_lab/models/sae.py)."""

from __future__ import annotations

import pytest
import torch

from superposition_lab.ground_truth import GroundTruth, feature_directions
from superposition_lab.models import SAES
from superposition_lab.train import TrainConfig, train
from tests.superposition_lab.models.hand_gradient import pair

VARIANTS = sorted(SAES)


def make(name: str, I: int = 3, H: int = 5, D: int = 7, seed: int = 0, **kw) -> torch.nn.Module:
    return SAES[name](I, H, D, generator=torch.Generator().manual_seed(seed), **kw)


def data(I: int = 3, H: int = 5, F: int = 6, seed: int = 0) -> GroundTruth:
    g = torch.Generator().manual_seed(seed)
    return GroundTruth(feature_directions(I, H, F, generator=g), torch.full((I, F), 0.3))


@pytest.mark.parametrize("name", VARIANTS)
def test_shapes_forward_is_decode_of_encode_and_seeded_init(name: str) -> None:
    a, b = make(name), make(name)
    assert a.W_dec.shape == a.W_enc.shape == (3, 5, 7)
    assert a.b_enc.shape == (3, 7) and a.b_dec.shape == (3, 5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    torch.testing.assert_close(a.W_dec.norm(dim=1), torch.ones(3, 7))
    assert torch.equal(a.W_enc, a.W_dec)  # encoder starts as the decoder's transpose
    x = torch.rand(3, 11, 5, generator=torch.Generator().manual_seed(1))
    f = a.encode(x)
    assert f.shape == (3, 11, 7)
    torch.testing.assert_close(a(x), a.decode(f))
    terms = a.loss_terms(x, torch.ones(3, 5))
    assert "mse" in terms and all(t.shape == (3,) for t in terms.values())
    torch.testing.assert_close(terms["mse"], ((x - a(x)) ** 2).sum(-1).mean(1))


@pytest.mark.parametrize("name", VARIANTS)
def test_instances_are_independent(name: str) -> None:
    # changing instance 0's data leaves instance 1's loss terms untouched
    m = make(name)
    x = torch.rand(3, 9, 5, generator=torch.Generator().manual_seed(2))
    y = x.clone()
    y[0] = torch.rand(9, 5, generator=torch.Generator().manual_seed(3))
    tx, ty = m.loss_terms(x), m.loss_terms(y)
    for k in tx:
        torch.testing.assert_close(tx[k][1:], ty[k][1:])


@pytest.mark.parametrize("name", VARIANTS)
def test_decoder_norms_stay_one_and_training_is_deterministic(name: str) -> None:
    runs = []
    for _ in range(2):
        m = make(name)
        train(
            m,
            data(),
            torch.ones(3, 5),
            TrainConfig(steps=30, batch_size=64, lr=0.05, weight_decay=0.0),
            generator=torch.Generator().manual_seed(4),
        )
        torch.testing.assert_close(m.W_dec.norm(dim=1), torch.ones(3, 7), atol=1e-6, rtol=0)
        runs.append([p.detach().clone() for p in m.parameters()])
    for p, q in zip(*runs):
        assert torch.equal(p, q)


@pytest.mark.parametrize("name", VARIANTS)
def test_before_step_removes_the_gradient_along_each_atom(name: str) -> None:
    m = make(name)
    x = torch.rand(3, 16, 5, generator=torch.Generator().manual_seed(5))
    sum(m.loss_terms(x).values()).sum().backward()
    assert m.W_dec.grad is not None and m.W_dec.grad.abs().sum() > 0
    m.before_step()
    along = (m.W_dec.grad * m.W_dec).sum(dim=1)  # (I, D)
    torch.testing.assert_close(along, torch.zeros_like(along), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", VARIANTS)
def test_dead_latent_bookkeeping(name: str) -> None:
    m = make(name, dead_window=3)
    with torch.no_grad():
        m.b_enc[:, 0] = -100.0  # latent 0 can never fire under a ReLU/threshold
    x = torch.rand(3, 8, 5, generator=torch.Generator().manual_seed(6))
    for _ in range(3):
        m.loss_terms(x)
        m.after_step()
    assert m.dead_mask()[:, 0].all()  # (for TopK: never among the K largest)
    assert m.dead_history and m.dead_history[-1][0] == 3
    with torch.no_grad():  # evaluation passes do not count as training steps
        m.loss_terms(x)
    assert int(m.step) == 3


@pytest.mark.parametrize("name", VARIANTS)
def test_hand_b_dec_gradient_is_autograds_up_to_rounding(name: str) -> None:
    """b_dec's hand gradient sums ∂/∂z over the batch before the encoder's matmul (`centred_bias_grad`)
    where autograd sums after it: in float64 the two agree to ~1e-15 relative — the same quantity, so
    the float32 tolerance of the hand-gradient tests covers rounding and nothing else."""
    a, b, g = pair(SAES[name], 3, 9, 17, seed=4, dtype=torch.float64)
    x = torch.relu(torch.randn(3, 300, 9, generator=g, dtype=torch.float64))
    sum(a.loss_terms(x).values()).sum().backward()
    b.loss_and_grads(x, loss=False)
    assert a.b_dec.grad.abs().max() > 1e-3  # a gradient to compare, not zeros
    torch.testing.assert_close(b.b_dec.grad, a.b_dec.grad, rtol=1e-12, atol=1e-12)
