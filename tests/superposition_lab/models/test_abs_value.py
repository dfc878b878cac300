"""The absolute-value model (TMS "Computation in Superposition"): shapes, a hand-computed output, the
loss against |x|, and the signed sparse inputs it trains on."""

from __future__ import annotations

import pytest
import torch

from superposition_lab.data import SparseUniform
from superposition_lab.models.abs_value import AbsValueModel


def _model(n_instances: int = 1, n_features: int = 2, n_hidden: int = 4) -> AbsValueModel:
    return AbsValueModel(n_instances, n_features, n_hidden, generator=torch.Generator().manual_seed(0))


def test_shapes_and_seeded_init() -> None:
    a, b = _model(3, 5, 2), _model(3, 5, 2)
    assert a.W1.shape == (3, 2, 5) and a.W2.shape == (3, 5, 2)
    assert a.b1.shape == (3, 2) and a.b2.shape == (3, 5)
    assert torch.equal(a.W1, b.W1) and torch.equal(a.W2, b.W2)
    assert not a.b1.any() and not a.b2.any()
    x = torch.rand(3, 7, 5) * 2 - 1
    assert a.hidden(x).shape == (3, 7, 2) and a(x).shape == (3, 7, 5)
    assert a.loss_terms(x, torch.ones(3, 5))["reconstruction"].shape == (3,)


def _abs_circuit() -> AbsValueModel:
    """n = 2, m = 4: neurons ReLU(x_0), ReLU(−x_0), ReLU(x_1), ReLU(−x_1), each output the sum of its pair."""
    m = _model()
    with torch.no_grad():
        m.W1.copy_(torch.tensor([[[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]]))
        m.W2.copy_(torch.tensor([[[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]]))
        m.b1.zero_()
        m.b2.zero_()
    return m


def test_hand_computed_output() -> None:
    m = _abs_circuit()
    x = torch.tensor([[[0.5, -0.3], [-0.7, 0.0]]])
    assert torch.allclose(m.hidden(x), torch.tensor([[[0.5, 0.0, 0.0, 0.3], [0.0, 0.7, 0.0, 0.0]]]))
    assert torch.allclose(m(x), x.abs())  # |x| = ReLU(x) + ReLU(−x)
    with torch.no_grad():  # one neuron short: feature 1 loses its ReLU(−x) neuron, the output bias lifts it
        m.W1[0, 3] = 0.0
        m.b2[0, 1] = -0.5
    assert torch.allclose(m(x), torch.tensor([[[0.5, 0.0], [0.7, 0.0]]]))  # ReLU(0 − 0.5) = 0


def test_loss_targets_absolute_value() -> None:
    m = _abs_circuit()
    x = torch.tensor([[[0.5, -0.3], [-0.7, 0.2]]])
    imp = torch.tensor([[1.0, 2.0]])
    assert m.loss_terms(x, imp)["reconstruction"].item() == pytest.approx(0.0, abs=1e-12)  # the target is |x|
    with torch.no_grad():
        m.W2.zero_()  # y = 0: loss = mean_b Σ_i I_i |x_i|² = ((0.25 + 2·0.09) + (0.49 + 2·0.04)) / 2
    assert m.loss_terms(x, imp)["reconstruction"].item() == pytest.approx((0.43 + 0.57) / 2)


def test_instances_are_independent() -> None:
    m = _model(3, 4, 3)
    x = torch.rand(3, 16, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1
    m.loss_terms(x, torch.ones(3, 4))["reconstruction"].sum().backward()
    g_all = m.W1.grad[1].clone()
    m.W1.grad = None
    m.loss_terms(x, torch.ones(3, 4))["reconstruction"][1].backward()
    assert torch.allclose(g_all, m.W1.grad[1])


def test_signed_inputs_have_both_signs_and_the_density() -> None:
    """The inputs of the task: 0 w.p. S, else U[−1, 1] (`SparseUniform(signed=True)`)."""
    density = torch.tensor([[1.0, 0.3], [0.05, 0.6]])
    x = SparseUniform(density, signed=True).sample(40_000, torch.Generator().manual_seed(0))  # (I, B, F)
    assert x.shape == (2, 40_000, 2) and x.abs().max() <= 1.0
    on = x != 0
    assert torch.allclose(on.double().mean(dim=1), density.double(), atol=0.01)  # ±4σ at p = 0.5
    positive = (x > 0).double().sum(dim=1) / on.double().sum(dim=1)
    assert torch.allclose(positive, torch.full_like(positive, 0.5), atol=0.04)  # each sign half the time
    active = x[on]
    assert active.abs().mean().item() == pytest.approx(0.5, abs=0.01)  # |U[−1, 1]| = U[0, 1]


def _autograd_twin() -> type[AbsValueModel]:
    """The model trained through autograd: the trainer's generic path, never the hand gradient."""
    return type("AutogradAbsValue", (AbsValueModel,), {"has_fused_step": lambda self: False})


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().view(torch.int32)


def _pair(I: int, F: int, H: int, seed: int) -> tuple[AbsValueModel, AbsValueModel]:
    """(autograd model, hand-gradient model) with equal parameters, biases drawn nonzero."""
    a = _autograd_twin()(I, F, H, generator=torch.Generator().manual_seed(seed))
    b = AbsValueModel(I, F, H, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for name in ("b1", "b2"):
            getattr(a, name).normal_(0.0, 0.2, generator=torch.Generator().manual_seed(seed + 1))
            getattr(b, name).copy_(getattr(a, name))
    return a, b


@pytest.mark.parametrize("shape", [(1, 256, 20, 8), (48, 256, 20, 8), (3, 100, 7, 13), (2, 5, 3, 1)])
def test_hand_gradient_is_autograds_bit_for_bit(shape) -> None:
    """Values, the sign of every zero and the layout, with an importance that is not all ones and
    signed sparse inputs (some rows all zero)."""
    I, B, F, H = shape
    a, b = _pair(I, F, H, seed=I + F)
    g = torch.Generator().manual_seed(7)
    x = SparseUniform(torch.full((I, F), 0.4), signed=True).sample(B, g)
    importance = torch.rand(I, F, generator=g) + 0.5
    loss = sum(a.loss_terms(x, importance).values())
    loss.sum().backward()
    assert b.loss_and_grads(x, importance, loss=False) is None
    assert torch.equal(_bits(b.loss_and_grads(x, importance)), _bits(loss))
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(_bits(pa.grad), _bits(pb.grad)), name
        assert pa.grad.stride() == pb.grad.stride(), name
    assert b.has_fused_step() and not a.has_fused_step()


def test_training_on_the_hand_gradient_is_autograds_bit_for_bit() -> None:
    """A whole run (a cosine schedule, the loss read every 10 steps) ends in the same parameters."""
    from superposition_lab.train import TrainConfig, train

    a, b = _pair(6, 10, 4, seed=3)
    sampler = SparseUniform(torch.full((6, 10), 0.3), signed=True)
    importance = (0.9 ** torch.arange(10.0)).expand(6, -1).contiguous()
    config = TrainConfig(steps=80, batch_size=128, lr=0.02, schedule="cosine", check_every=10)
    for model in (a, b):
        train(model, sampler, importance, config, generator=torch.Generator().manual_seed(4))
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(_bits(pa), _bits(pb)), name


def test_a_subclass_that_changes_the_forward_trains_through_autograd() -> None:
    class Leaky(AbsValueModel):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) + 0.0

    assert not Leaky(1, 2, 4, generator=torch.Generator().manual_seed(0)).has_fused_step()
    assert _model().has_fused_step()
