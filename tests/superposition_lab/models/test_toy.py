"""Toy models: shapes, hand-computed outputs, seeded initialisation, batching independence."""

from __future__ import annotations

import pytest
import torch

from superposition_lab.models import MODELS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_and_seeded_init(name: str) -> None:
    a = MODELS[name](4, 6, 2, generator=torch.Generator().manual_seed(1))
    b = MODELS[name](4, 6, 2, generator=torch.Generator().manual_seed(1))
    assert a.W.shape == (4, 2, 6) and a.b.shape == (4, 6)
    assert torch.equal(a.W, b.W) and torch.equal(a.b, torch.zeros(4, 6))
    x = torch.rand(4, 8, 6)
    assert a(x).shape == (4, 8, 6)
    assert a.loss_terms(x, torch.ones(4, 6))["reconstruction"].shape == (4,)


def test_hand_computed_outputs() -> None:
    relu = MODELS["relu_output"](1, 2, 1, generator=torch.Generator().manual_seed(0))
    lin = MODELS["linear"](1, 2, 1, generator=torch.Generator().manual_seed(0))
    for m in (relu, lin):
        with torch.no_grad():
            m.W.copy_(torch.tensor([[[1.0, -1.0]]]))
            m.b.copy_(torch.tensor([[0.0, 0.1]]))
    x = torch.tensor([[[0.5, 0.0]]])  # feature 0 on: WᵀWx = [0.5, −0.5]
    assert torch.allclose(lin(x), torch.tensor([[[0.5, -0.4]]]))
    assert torch.allclose(relu(x), torch.tensor([[[0.5, 0.0]]]))  # ReLU makes negative interference free
    # loss = Σ_i I_i (x_i − x'_i)²: with I = (1, 2): linear 2·0.16, relu 0
    imp = torch.tensor([[1.0, 2.0]])
    assert lin.loss_terms(x, imp)["reconstruction"].item() == pytest.approx(0.32)
    assert relu.loss_terms(x, imp)["reconstruction"].item() == pytest.approx(0.0)


def test_instances_are_independent() -> None:
    """The gradient of instance k does not depend on the other instances."""
    m = MODELS["relu_output"](3, 5, 2, generator=torch.Generator().manual_seed(0))
    x = torch.rand(3, 16, 5, generator=torch.Generator().manual_seed(1))
    m.loss_terms(x, torch.ones(3, 5))["reconstruction"].sum().backward()
    g_all = m.W.grad[1].clone()
    m.W.grad = None
    m.loss_terms(x, torch.ones(3, 5))["reconstruction"][1].backward()
    assert torch.allclose(g_all, m.W.grad[1])


def test_hidden_relu_hand_computed() -> None:
    """relu_hidden: h = ReLU(Wx) cuts the negative hidden activation that relu_output passes on."""
    W = torch.tensor([[[1.0, -1.0], [-1.0, 0.0]]])  # (1, H=2, F=2)
    x = torch.tensor([[[0.5, 0.0]]])  # Wx = (0.5, −0.5)
    hid = MODELS["relu_hidden"](1, 2, 2, generator=torch.Generator().manual_seed(0))
    out = MODELS["relu_output"](1, 2, 2, generator=torch.Generator().manual_seed(0))
    for m in (hid, out):
        with torch.no_grad():
            m.W.copy_(W)
    assert torch.allclose(hid.hidden(x), torch.tensor([[[0.5, 0.0]]]))
    assert torch.allclose(out.hidden(x), torch.tensor([[[0.5, -0.5]]]))
    assert torch.allclose(hid(x), torch.tensor([[[0.5, 0.0]]]))  # Wᵀh = (0.5, −0.5) → ReLU
    assert torch.allclose(out(x), torch.tensor([[[1.0, 0.0]]]))  # Wᵀh = (0.5+0.5, −0.5) → ReLU


def test_hidden_l1_term_is_lambda_times_mean_l1_of_h() -> None:
    lam = torch.tensor([0.0, 0.5])
    m = MODELS["linear"](2, 3, 2, generator=torch.Generator().manual_seed(0), hidden_l1=lam)
    x = torch.rand(2, 7, 3, generator=torch.Generator().manual_seed(1))
    terms = m.loss_terms(x, torch.ones(2, 3))
    expected = lam * m.hidden(x).abs().sum(-1).mean(1)
    assert torch.allclose(terms["hidden_l1"], expected) and terms["hidden_l1"][0] == 0
    assert "hidden_l1" not in MODELS["linear"](2, 3, 2, generator=torch.Generator()).loss_terms(x, torch.ones(2, 3))
    with pytest.raises(ValueError, match="hidden_l1"):
        MODELS["linear"](2, 3, 2, generator=torch.Generator(), hidden_l1=torch.tensor([0.1, -0.1]))
