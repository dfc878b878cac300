"""Gated SAE — Rajamanoharan et al. 2024, "Improving Dictionary Learning with Gated Sparse
Autoencoders", arXiv:2404.16014.

The gate path decides WHICH latents fire, the magnitude path HOW MUCH (§3, eq. 6–8):

    π_gate = W_gate (x − b_dec) + b_gate,       π_mag = W_mag (x − b_dec) + b_mag,
    f = 1[π_gate > 0] ⊙ ReLU(π_mag),            W_mag = exp(r_mag) ⊙ W_gate (row-wise scale),

    loss = ‖x − x̂(f)‖² + λ‖ReLU(π_gate)‖₁ + ‖x − x̂_frozen(ReLU(π_gate))‖²,

where x̂_frozen uses stop-gradient copies of W_dec and b_dec. The L1 penalty sits on the gate path
only, so the magnitudes are free of it: no shrinkage. The Heaviside gate passes no gradient, so the
auxiliary term is what trains the gate to reconstruct; freezing the decoder there keeps that term from
pulling the dictionary toward the gate's (shrunk) activations. (The decoder must be frozen in the
auxiliary term: a public implementation once let it train;
`tests/superposition_lab/models/test_sae_gated.py` pins this.)

W_gate and b_gate are the base's W_enc and b_enc (weight tying of §3.2 leaves r_mag and b_mag as the
only extra parameters), and decoder atoms have unit norm as in the base.

Against SAELens (read in its 6.18 source, `sae_lens/saes/gated_sae.py`; not yet checked by a peer run):
its loss has the same three terms and the same λ — its L1 term is λ‖ReLU(π_gate) ⊙ ‖W_dec,j‖‖₁, which is
ours while decoder atoms have unit norm — but its decoder norms are free (initialised at 0.1, with
W_enc = W_decᵀ) and its auxiliary reconstruction does not stop the gradient into W_dec and b_dec.
Each loss is unchanged by rescaling a latent; Adam's steps are not, so the two can train differently.

`magnitude_l1 = True` is an ablation, not the paper's model: the L1 penalty also falls on the output
activations f (loss + λ‖f‖₁), so the magnitudes pay it as an L1 SAE's do — the mechanism that
removes shrinkage is gone and everything else is kept (a control for the shrinkage claim).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from superposition_lab.models.sae import SAE

__all__ = ["GatedSAE"]


class GatedSAE(SAE):
    """Gate (W_enc, b_enc) + magnitude (exp(r_mag) ⊙ W_enc, b_mag); L1 λ on ReLU(π_gate) per instance."""

    penalty: torch.Tensor  # buffer (I,)

    def __init__(
        self,
        *args: Any,
        penalty: float | Sequence[float] = 0.1,
        magnitude_l1: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)  # sizes, generator, device, dtype, dead_window: see SAE
        self.magnitude_l1 = magnitude_l1
        device, dtype = self.W_dec.device, self.W_dec.dtype
        self.r_mag = nn.Parameter(torch.zeros((self.n_instances, self.d_sae), device=device, dtype=dtype))  # (I, D)
        self.b_mag = nn.Parameter(torch.zeros((self.n_instances, self.d_sae), device=device, dtype=dtype))  # (I, D)
        self.register_buffer("penalty", self.hyper(penalty))  # λ, (I,)

    def encode_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        centred = x - self.b_dec[:, None, :]  # (I, B, H)
        pi_gate = torch.bmm(centred, self.W_enc) + self.b_enc[:, None, :]  # (I, B, D)
        W_mag = self.W_enc * torch.exp(self.r_mag)[:, None, :]  # (I, H, D): latent j's row scaled by e^{r_j}
        pi_mag = torch.bmm(centred, W_mag) + self.b_mag[:, None, :]  # (I, B, D)
        f = (pi_gate > 0).to(pi_mag.dtype) * torch.relu(pi_mag)  # the gate carries no gradient
        return {"f": f, "pi_gate": pi_gate}

    def penalties(
        self, x: torch.Tensor, parts: dict[str, torch.Tensor], x_hat: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        gate = torch.relu(parts["pi_gate"])  # (I, B, D)
        l1 = self.penalty * gate.sum(dim=-1).mean(dim=1)  # (I,)
        if self.magnitude_l1:  # the ablation: the magnitudes pay the L1 penalty too
            l1 = l1 + self.penalty * parts["f"].sum(dim=-1).mean(dim=1)
        # auxiliary reconstruction through the gate with a frozen decoder (stop-gradient on W_dec, b_dec)
        x_gate = torch.bmm(gate, self.W_dec.detach().transpose(1, 2)) + self.b_dec.detach()[:, None, :]
        aux = ((x - x_gate) ** 2).sum(dim=-1).mean(dim=1)  # (I,)
        return {"l1": l1, "aux": aux}
