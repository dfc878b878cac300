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
