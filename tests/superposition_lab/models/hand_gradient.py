"""Shared checks for the SAE variants' hand-written gradients (`loss_and_grads`): each must be
autograd's to the bit — values, the sign of every zero, and the layout (a reduction's order
follows it) — on one batch, except b_dec's (summed over the batch before the encoder's matmul,
`centred_bias_grad`), which must be autograd's within float32 rounding; over a whole training run
the parameters then agree within a tolerance."""

from __future__ import annotations

from functools import cache

import torch

from superposition_lab.ground_truth import GroundTruth, feature_directions
from superposition_lab.models.sae import SAE
from superposition_lab.train import TrainConfig, train

# b_dec's gradient is (Σ_b ∂/∂z) W_encᵀ where autograd sums the (B, H) product ∂/∂z W_encᵀ: the same
# value, rounded differently. Float32's ε is 1.2e-7; a sum of B ≤ 1024 terms of either order is
# within ~B·ε of the exact sum relative to its terms' magnitudes (here O(1)), hence these bounds.
ROUNDED = frozenset({"b_dec"})
RTOL, ATOL = 1e-5, 1e-5


def bits(t: torch.Tensor) -> torch.Tensor:
    """The float32 bit patterns: equal here means equal to the bit, the sign of a zero included."""
    return t.detach().contiguous().view(torch.int32)


@cache
def autograd_twin(cls: type[SAE]) -> type[SAE]:
    """`cls` trained through autograd: the trainer's generic path, never the hand gradient."""
    return type(f"Autograd{cls.__name__}", (cls,), {"has_fused_step": lambda self: False})


def pair(
    cls: type[SAE], I: int, H: int, D: int, seed: int, biases: tuple[str, ...] = ("b_dec", "b_enc"), **kw
) -> tuple[SAE, SAE, torch.Generator]:
    """(autograd model, hand-gradient model) with equal parameters; `biases` drawn nonzero so that
    every term of the gradient is exercised."""
    g = torch.Generator().manual_seed(seed)
    a = autograd_twin(cls)(I, H, D, generator=torch.Generator().manual_seed(seed), **kw)
    b = cls(I, H, D, generator=torch.Generator().manual_seed(seed), **kw)
    with torch.no_grad():
        for name in biases:
            getattr(a, name).normal_(0.0, 0.1, generator=g)
            getattr(b, name).copy_(getattr(a, name))
    return a, b, g


def assert_hand_gradient_is_autograds(a: SAE, b: SAE, x: torch.Tensor) -> None:
    """One batch: b's `loss_and_grads` against autograd on a's `loss_terms` (a, b equal models)."""
    loss = sum(a.loss_terms(x).values())
    loss.sum().backward()
    assert b.loss_and_grads(x, loss=False) is None  # the trainer's usual step: the objective left out
    quiet = [p.grad for p in b.parameters()]
    assert torch.equal(bits(b.loss_and_grads(x)), bits(loss))
    for (name, pa), pb, q in zip(a.named_parameters(), b.parameters(), quiet, strict=True):
        if name in ROUNDED:
            torch.testing.assert_close(pb.grad, pa.grad, rtol=RTOL, atol=ATOL, msg=name)
        else:
            assert torch.equal(bits(pa.grad), bits(pb.grad)), name
        assert torch.equal(bits(q), bits(pb.grad)), name
        assert pa.grad.stride() == pb.grad.stride(), name
    assert torch.equal(a._fired, b._fired)
    assert b.has_fused_step() and not a.has_fused_step()


def assert_same_training(a: SAE, b: SAE, **cfg: object) -> None:
    """A whole run on ground-truth data (2 instances, 24 features in 8 dims; by default 60 steps with
    gradient clipping and a cosine schedule, `cfg` overrides): the same parameters at the end, within
    RTOL/ATOL — b_dec's differently rounded gradient moves them by a few float32 ulps (measured
    ≤ 2.4e-7 on parameters of size ~1 after 60 steps for every variant), while a wrong gradient
    term moves them by far more than 1e-5."""
    options = dict(steps=60, batch_size=64, clip_grad_norm=1.0, schedule="cosine", check_every=10) | cfg
    config = TrainConfig(**options)  # type: ignore[arg-type]
    dirs = feature_directions(2, 8, 24, generator=torch.Generator().manual_seed(1))
    data = GroundTruth(dirs, torch.full((2, 24), 0.1))
    for model in (a, b):
        train(model, data, torch.ones(2, 8), config, generator=torch.Generator().manual_seed(2))
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pb, pa, rtol=RTOL, atol=ATOL, msg=name)
