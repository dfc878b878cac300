"""The L1 ("vanilla") SAE of Bricken et al. 2023, "Towards Monosemanticity" (Anthropic), with resampling.

    f = ReLU(W_enc (x − b_dec) + b_enc),   loss = ‖x − x̂‖² + λ‖f‖₁,   unit-norm decoder atoms.

With the atom norms fixed at 1 the L1 penalty cannot be dodged by shrinking f and growing W_dec;
it therefore shrinks the codes themselves: on orthogonal data the optimal code is the soft
threshold (a − λ/2)₊ (`analytic/sae.py`), so x̂ underestimates x — "shrinkage", γ < 1.

Dead latents ("Towards Monosemanticity", appendix "Neuron Resampling"): a latent that has not fired
for `dead_window` steps is dead. At each step listed in `resample_at`, following the published recipe:

1. find the dead latents;
2. compute the current model's loss on a sample of inputs — here the last `resample_pool` training
   inputs, fresh draws from the data (Anthropic: 819 200 inputs);
3. give each input a probability ∝ the square of its loss ‖x − x̂‖² (`resample_weights`);
4. for each dead latent draw an input by these probabilities (without replacement: in Anthropic's
   large sample a repeat is vanishingly rare, and in a finite pool it would give two latents one
   atom; a dead latent for which no input with a nonzero loss is left stays dead until the next
   resampling) and set its atom to that input normalised to unit length (`resample_from = "input"`;
   "residual" uses the input's reconstruction error x − x̂ instead, a common variant);
5. set its encoder row to the same unit vector × `resample_scale` × the mean norm of the alive
   encoder rows (Anthropic: 0.2), and its encoder bias to 0;
6. reset the Adam moments of every weight and bias so modified (`SAE.reset_optimizer_state`; the
   trainer binds its optimiser to the model).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from superposition_lab.models.sae import SAE, squared_error_grad

__all__ = ["L1SAE", "resample_weights"]


def resample_weights(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The published sampling weights: the square of each input's loss ‖x − x̂‖², (…, B) for (…, B, H)."""
    return ((x - x_hat) ** 2).sum(dim=-1) ** 2


class L1SAE(SAE):
    """ReLU encoder with an L1 penalty λ per instance; optional dead-latent resampling."""

    penalty: torch.Tensor  # buffer (I,)

    def __init__(
        self,
        *args: Any,
        penalty: float | Sequence[float] = 0.1,
        resample_at: Iterable[int] = (),
        resample_from: str = "input",
        resample_scale: float = 0.2,
        resample_pool: int = 8192,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)  # sizes, generator, device, dtype, dead_window: see SAE
        self.register_buffer("penalty", self.hyper(penalty))  # λ, (I,)
        self.resample_at = frozenset(int(s) for s in resample_at)  # training steps (1-based count)
        if resample_from not in ("input", "residual"):
            raise ValueError(f"resample_from must be 'input' or 'residual', got {resample_from!r}")
        if resample_pool < 1:
            raise ValueError(f"resample_pool must be >= 1, got {resample_pool}")
        self.resample_from = resample_from
        self.resample_scale = resample_scale  # revived encoder row norm / mean alive norm (Anthropic: 0.2)
        self.resample_pool = resample_pool  # inputs the loss is computed on at each resampling
        self._pool: list[torch.Tensor] = []  # the most recent training batches, (I, B, H) each
        self.resampled: list[tuple[int, list[int]]] = []  # (step, latents resampled per instance)

    def encode_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"f": torch.relu(self.pre_activation(x))}  # (I, B, D)

    def penalties(
        self, x: torch.Tensor, parts: dict[str, torch.Tensor], x_hat: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"l1": self.penalty * parts["f"].sum(dim=-1).mean(dim=1)}  # λ E‖f‖₁, (I,)

    @torch.no_grad()
    def loss_and_grads(
        self, x: torch.Tensor, importance: torch.Tensor | None = None, *, loss: bool = True
    ) -> torch.Tensor | None:
        """The objective (I,) = E‖x − x̂‖² + λ E‖f‖₁ on the batch x (I, B, H), with the gradient of its
        sum written to each parameter's `.grad` by hand — the same operations, in the same order, as
        autograd's backward of `loss_terms`, so the gradients are autograd's bit for bit (b_dec's within
        float rounding: `centred_bias_grad`), pinned by tests/superposition_lab/models/test_sae_l1.py,
        without autograd's per-node overhead.
        Also records the fired latents and the batch, as `loss_terms` does in training. With
        `loss=False` the objective is not formed (None): the trainer reads it only now and then.
        """
        n_batch = x.shape[1]
        xc = x - self.b_dec[:, None, :]  # (I, B, H)
        # elementwise steps in place on tensors nothing else holds: the same values, fewer buffers
        f = torch.bmm(xc, self.W_enc).add_(self.b_enc[:, None, :]).relu_()  # (I, B, D)
        d = self.residual(x, f)  # x − x̂, (I, B, H)
        out = (d**2).sum(dim=-1).mean(dim=1) + self.penalty * f.sum(dim=-1).mean(dim=1) if loss else None
        self._fired = f.sum(dim=1) > 0  # `loss_terms`' Σ_b |f| > 0, with f ≥ 0 here (a ReLU)
        self._last_x = x
        # backward, as autograd takes it: ∂/∂x̂ of the mean squared error, then the two uses of f
        g = squared_error_grad(d)  # (I, B, H), over d
        g_f = torch.bmm(g, self.W_dec).add_((self.penalty / n_batch)[:, None, None])  # decoder and L1 paths
        g_z = torch.ops.aten.threshold_backward.grad_input(g_f, f, 0.0, grad_input=g_f)  # through the ReLU
        self.write_affine_grads(xc, g, g_z, torch.bmm(f.transpose(1, 2), g).transpose(1, 2))
        return out

    @torch.no_grad()
    def after_step(self) -> None:
        super().after_step()
        if not self.resample_at:
            return
        if self._last_x is not None:  # keep the last resample_pool training inputs (each batch is a fresh tensor)
            self._pool.append(self._last_x)
            while sum(b.shape[1] for b in self._pool[1:]) >= self.resample_pool:
                self._pool.pop(0)
        if self.step in self.resample_at:
            self.resample()

    @torch.no_grad()
    def resample(self, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Re-initialise every dead latent from high-loss inputs (the published recipe, module docstring).

        inputs (I, N, H): where to draw from; default the last `resample_pool` training inputs.
        Returns the mask (I, D) of the latents re-initialised.
        """
        dead = self.dead_mask()  # (I, D)
        if inputs is None:
            inputs = torch.cat(self._pool, dim=1)[:, -self.resample_pool :] if self._pool else None
        revived = torch.zeros_like(dead)
        if inputs is not None and dead.any():
            x_hat = self.decode(self.encode(inputs))  # (I, N, H): the current model
            weights = resample_weights(inputs, x_hat)  # (I, N)
            alive_norm = (self.W_enc.norm(dim=1) * ~dead).sum(dim=1) / (~dead).sum(dim=1).clamp_min(1)  # (I,)
            alive_norm = torch.where((~dead).any(dim=1), alive_norm, torch.ones_like(alive_norm))
            for i in range(self.n_instances):
                n = min(int(dead[i].sum()), int((weights[i] > 0).sum()))
                if n == 0:
                    continue
                rows = torch.multinomial(weights[i], n, replacement=False, generator=self.generator)  # (n,)
                v = inputs[i, rows] - x_hat[i, rows] if self.resample_from == "residual" else inputs[i, rows]
                v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (n, H)
                latents = dead[i].nonzero().flatten()[:n]
                self.W_dec[i][:, latents] = v.T
                self.W_enc[i][:, latents] = v.T * (self.resample_scale * alive_norm[i])
                self.b_enc[i][latents] = 0.0
                revived[i, latents] = True
            self.reset_optimizer_state(revived)
            self.steps_since_fired[revived] = 0
        self.resampled.append((self.step, revived.sum(dim=1).tolist()))
        return revived
