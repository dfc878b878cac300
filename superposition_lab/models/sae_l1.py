"""The L1 ("vanilla") SAE of Bricken et al. 2023, "Towards Monosemanticity" (Anthropic), with resampling.

    f = ReLU(W_enc (x − b_dec) + b_enc),   loss = ‖x − x̂‖² + λ‖f‖₁,   unit-norm decoder atoms.

With the atom norms fixed at 1 the L1 penalty cannot be dodged by shrinking f and growing W_dec;
it therefore shrinks the codes themselves: on orthogonal data the optimal code is the soft
threshold (a − λ/2)₊ (`analytic/sae.py`), so x̂ underestimates x — "shrinkage", γ < 1.

Dead latents ("Towards Monosemanticity", "Neuron Resampling"): a latent that has not fired for
`dead_window` steps is dead. At each step listed in `resample_at`, every dead latent is re-initialised
from an input chosen with probability ∝ its squared reconstruction loss (here: from the last training
batch): the atom becomes that input (centred by b_dec; or, with resample_from = "residual", its
reconstruction error x − x̂) normalised to unit length, the encoder row the same direction scaled to
`resample_scale` × the mean norm of the alive encoder rows (Anthropic: 0.2; on toy data such a weak row
is often pushed back below threshold by the L1 gradient before it learns, and 1.0 revives reliably),
and its encoder bias 0.
Anthropic also resets the Adam moments of those weights; the trainer's optimiser is not reachable from
this hook, which matters little here: a dead latent's gradients have been zero for a whole window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from superposition_lab.models.sae import SAE

__all__ = ["L1SAE"]


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
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)  # sizes, generator, device, dtype, dead_window: see SAE
        self.register_buffer("penalty", self.hyper(penalty))  # λ, (I,)
        self.resample_at = frozenset(int(s) for s in resample_at)  # training steps (1-based count)
        if resample_from not in ("input", "residual"):
            raise ValueError(f"resample_from must be 'input' or 'residual', got {resample_from!r}")
        self.resample_from = resample_from
        self.resample_scale = resample_scale  # revived encoder row norm / mean alive norm (Anthropic: 0.2)
        self.resampled: list[tuple[int, list[int]]] = []  # (step, latents resampled per instance)

    def encode_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"f": torch.relu(self.pre_activation(x))}  # (I, B, D)

    def penalties(
        self, x: torch.Tensor, parts: dict[str, torch.Tensor], x_hat: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"l1": self.penalty * parts["f"].sum(dim=-1).mean(dim=1)}  # λ E‖f‖₁, (I,)

    @torch.no_grad()
    def after_step(self) -> None:
        super().after_step()
        if self.step in self.resample_at:
            self.resample()

    @torch.no_grad()
    def resample(self) -> torch.Tensor:
        """Re-initialise every dead latent from high-loss inputs of the last batch; returns the mask (I, D)."""
        dead = self.dead_mask()  # (I, D)
        counts = dead.sum(dim=1).tolist()
        self.resampled.append((self.step, counts))
        x, residual = self._last_x, self._last_residual  # (I, B, H) each, from the last training step
        if x is None or residual is None or not dead.any():
            return dead
        err = (residual**2).sum(dim=-1)  # (I, B) squared reconstruction loss per input
        for i in range(self.n_instances):
            n_dead = counts[i]
            if n_dead == 0:
                continue
            weights = err[i] ** 2 + 1e-30  # ∝ loss², never all zero
            rows = torch.multinomial(weights, n_dead, replacement=True, generator=self.generator)  # (n_dead,)
            v = residual[i, rows] if self.resample_from == "residual" else x[i, rows] - self.b_dec[i]  # (n_dead, H)
            v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
            alive = ~dead[i]
            enc_norm = self.W_enc[i][:, alive].norm(dim=0).mean() if alive.any() else torch.tensor(1.0)
            self.W_dec[i][:, dead[i]] = v.T  # (H, n_dead)
            self.W_enc[i][:, dead[i]] = v.T * self.resample_scale * enc_norm
            self.b_enc[i][dead[i]] = 0.0
        self.steps_since_fired[dead] = 0
        return dead
