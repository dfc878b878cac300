"""The tied toy models of TMS "Demonstrating Superposition", batched over instances.

    linear:       h = W x,        x' = Wᵀh + b
    relu_output:  h = W x,        x' = ReLU(Wᵀh + b)
    relu_hidden:  h = ReLU(W x),  x' = ReLU(Wᵀh + b)   (TMS "Superposition in a Privileged Basis";
                                                       the TDS article's ReLU model)

W is (I, H, F) — feature i's direction W_i is column i — and b is (I, F). Init follows the TMS
notebook: W Xavier-normal, b = 0, drawn from the given generator so a seed fixes the model.

Any of them may carry an L1 penalty on the hidden activations, λ·E[Σ_k |h_k|] per instance
(`hidden_l1`, TMS "The Strategic Picture of Superposition": a pressure against superposition).

The three models also have a hand-written gradient (`fused_loss_and_grads`): for a model this small the
backward pass is three matmuls, and writing it out skips autograd's bookkeeping and most of the
elementwise passes; the trainer uses it when a model has it (tests check it against autograd).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["ToyModel", "LinearToy", "ReLUOutputToy", "ReLUHiddenToy", "xavier_normal"]


def xavier_normal(
    shape: tuple[int, int, int], generator: torch.Generator, device: torch.device | str, dtype: torch.dtype
) -> torch.Tensor:
    """Xavier-normal weights for I instances of an (out, in) matrix, (I, out, in): N(0, 2/(out + in)),
    the TMS notebook's init, drawn from `generator` so a seed fixes the model."""
    std = math.sqrt(2.0 / (shape[1] + shape[2]))
    return torch.randn(shape, generator=generator, device=device, dtype=dtype) * std


class ToyModel(nn.Module):
    """Shared parameters and loss; subclasses define the output nonlinearity."""

    output_relu: bool | None = None  # set by the tied models: which hand-written gradient applies
    hidden_relu: bool = False  # h = ReLU(Wx) instead of Wx (the privileged-basis model)

    def __init__(
        self,
        n_instances: int,
        n_features: int,
        n_hidden: int,
        *,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        hidden_l1: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.n_instances, self.n_features, self.n_hidden = n_instances, n_features, n_hidden
        self.W = nn.Parameter(xavier_normal((n_instances, n_hidden, n_features), generator, device, dtype))  # (I, H, F)
        self.b = nn.Parameter(torch.zeros((n_instances, n_features), device=device, dtype=dtype))  # (I, F)
        # λ per instance (I,) of the L1 penalty on h; None: no penalty (and no term in the loss)
        self.hidden_l1: torch.Tensor | None = None
        if hidden_l1 is not None and bool((hidden_l1 != 0).any()):
            if hidden_l1.shape != (n_instances,) or bool((hidden_l1 < 0).any()):
                raise ValueError(f"hidden_l1 must be ({n_instances},) and ≥ 0, got shape {tuple(hidden_l1.shape)}")
            self.hidden_l1 = hidden_l1.to(device=device, dtype=dtype)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden activations h = W x (ReLU(W x) for the privileged-basis model), (I, B, F) → (I, B, H)."""
        h = torch.bmm(x, self.W.transpose(1, 2))  # (I, B, F) @ (I, F, H) → (I, B, H)
        return torch.relu(h) if self.hidden_relu else h

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """Wᵀh + b for x (I, B, F) → (I, B, F)."""
        return torch.bmm(self.hidden(x), self.W) + self.b[:, None, :]  # (I, B, H) @ (I, H, F) → (I, B, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss_terms(self, x: torch.Tensor, importance: torch.Tensor) -> dict[str, torch.Tensor]:
        """Importance-weighted squared error per instance, Σ_i I_i (x_i − x'_i)², averaged over the batch.

        importance is (I, F); returns {"reconstruction": (I,)}, plus {"hidden_l1": λ·mean_b Σ_k |h_k|}
        when the model carries an L1 penalty on h.
        """
        err = (x - self(x)) ** 2  # (I, B, F)
        terms = {"reconstruction": (err.mean(dim=1) * importance).sum(dim=-1)}
        if self.hidden_l1 is not None:
            terms["hidden_l1"] = self.hidden_l1 * self.hidden(x).abs().sum(dim=-1).mean(dim=1)
        return terms

    def before_step(self) -> None:
        """Hook between backward and the optimiser step, e.g. to edit gradients (none for toy models)."""

    def after_step(self) -> None:
        """Hook for constraints applied after each optimiser step (none for toy models)."""

    def has_fused_step(self) -> bool:
        """True when `fused_loss_and_grads` computes exactly this model's loss: a tied model without
        an L1 penalty on h whose forward, loss and hooks are not overridden by a subclass."""
        own = _FUSED.get((self.output_relu, self.hidden_relu))
        if own is None or self.hidden_l1 is not None:
            return False
        return all(
            getattr(type(self), name) is getattr(own, name)
            for name in ("forward", "hidden", "preactivation", "loss_terms", "before_step", "after_step")
        )

    @torch.no_grad()
    def fused_loss_and_grads(
        self,
        W: torch.Tensor,
        b: torch.Tensor,
        x: torch.Tensor,
        importance: torch.Tensor,
        zero_rows: int = 0,
        *,
        grads: bool = True,
        loss: bool = False,
        entries: tuple[torch.Tensor, torch.Tensor] | None = None,
        scratch: Callable[[int, tuple[int, ...]], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Loss and its exact gradient for a block of instances, without autograd.

        W (n, H, F) and b (n, F) are the block's parameters, importance (n, F); x is feature-major,
        (n, F, R), and the batch is its R rows plus `zero_rows` rows x = 0, so B = R + zero_rows.
        Returns (∂L/∂W (n, H, F), ∂L/∂b (n, F), per-instance loss (n,)) for
        L = Σ_instances Σ_f I_f · mean_b (x_f − x'_f)², the sum of `loss_terms`; None where not asked.

        With y = x' and pre = Wᵀh + b, ∂L/∂pre = c ⊙ g, c = 2I/B, g = (y − x)·[pre > 0] (ReLU) or
        y − x (linear). Then, per instance with h = Wx (rows as samples):
        ∂L/∂W = h (c⊙g)ᵀ + (W(c⊙g)) xᵀ,  ∂L/∂b = Σ_b c⊙g; a zero row only adds c⊙g(b) to ∂L/∂b.
        With a hidden ReLU, h = ReLU(Wx) and the second term's W(c⊙g) is masked by [Wx > 0] = [h > 0].
        The importance scaling c is applied to the small (H, F) and (F,) factors, not to g.

        `entries` (optional, for sparse x): the flat positions of x's nonzeros and their values
        (positions ≥ x.numel() are padding). Then g = ReLU(pre) − x·[pre > 0] is formed in place
        with x subtracted only where it is nonzero, which saves two passes over (n, F, R).

        `scratch(slot, shape)` (optional, e.g. `fast_step.Scratch`) returns a reusable tensor of that shape;
        the two (n, F, R) intermediates are written there instead of into fresh memory (a fresh
        multi-MB tensor is new pages from the OS every step: ~15% of a 400→30 step on one core).
        """
        relu = bool(self.output_relu)
        n, F, R = x.shape
        B = R + zero_rows
        c = importance * (2.0 / B)  # (n, F)
        h = torch.bmm(W, x)  # (n, H, F) @ (n, F, R) → (n, H, R)
        if self.hidden_relu:
            h.relu_()
        pre = torch.baddbmm(
            b[:, :, None], W.transpose(1, 2), h, out=scratch(0, (n, F, R)) if scratch else None
        )  # (n, F, H) @ (n, H, R) + b
        y0 = torch.relu(b) if relu else b  # (n, F): the output on a zero row
        per_instance = None
        if loss:
            y = torch.relu(pre) if relu else pre
            sq = (y - x).square_().sum(dim=-1) + zero_rows * y0.square()  # (n, F)
            per_instance = (sq * importance).sum(dim=-1) / B  # (n,)
        if not grads:
            return None, None, per_instance
        if entries is not None:  # sparse x: g = ReLU(pre) − x·[pre > 0], touching x only where nonzero
            g = pre.relu_() if relu else pre
            flat, at = g.view(-1), entries[0].clamp_max(g.numel() - 1)
            # 1/0 masks written as floats at once (a bool mask and its cast cost ~4× more on the CPU)
            keep = torch.lt(entries[0], g.numel(), out=torch.empty_like(entries[1]))  # padding entries add 0
            if relu:
                active = flat[at]
                keep.mul_(torch.gt(active, 0, out=active))
            flat.index_add_(0, at, keep.mul_(entries[1]).neg_())
        elif relu:  # (pre − x)·[pre > 0] in one pass: exactly what ReLU's backward computes
            d = torch.sub(pre, x, out=scratch(1, (n, F, R)) if scratch else None)
            g = torch.ops.aten.threshold_backward.grad_input(d, pre, 0.0, grad_input=d)  # (n, F, R), in place
        else:
            g = pre.sub_(x)
        gb = (g.sum(dim=-1) + zero_rows * y0).mul_(c)  # (n, F); on a zero row g = y0
        gW = torch.bmm(h, g.transpose(1, 2)).mul_(c[:, None, :])  # (n, H, R) @ (n, R, F) → (n, H, F)
        dh = torch.bmm(W * c[:, None, :], g)  # (n, H, F) @ (n, F, R) → (n, H, R)
        if self.hidden_relu:  # ReLU's backward: through h only where h > 0
            dh = torch.ops.aten.threshold_backward.grad_input(dh, h, 0.0, grad_input=dh)
        gW = torch.baddbmm(gW, dh, x.transpose(1, 2))  # + (n, H, R) @ (n, R, F)
        return gW, gb, per_instance


class LinearToy(ToyModel):
    """x' = WᵀWx + b — the baseline that behaves like PCA and never superposes."""

    output_relu = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.preactivation(x)


class ReLUOutputToy(ToyModel):
    """x' = ReLU(WᵀWx + b) — the model that stores features in superposition when they are sparse."""

    output_relu = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.preactivation(x))


class ReLUHiddenToy(ToyModel):
    """h = ReLU(Wx), x' = ReLU(Wᵀh + b) — a privileged hidden basis (TMS "Superposition in a Privileged
    Basis"): the ReLU makes each hidden neuron a unit one can ask "which features does it respond to?"."""

    output_relu = True
    hidden_relu = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.preactivation(x))


# (output_relu, hidden_relu) → the class whose loss `fused_loss_and_grads` computes
_FUSED: dict[tuple[bool | None, bool], type[ToyModel]] = {
    (False, False): LinearToy,
    (True, False): ReLUOutputToy,
    (True, True): ReLUHiddenToy,
}
