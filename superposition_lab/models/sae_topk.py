"""TopK SAE — Gao et al. 2024, "Scaling and evaluating sparse autoencoders", arXiv:2406.04093.

§2.3: sparsity is imposed by the activation itself — keep the K largest pre-activations, zero the
rest, then a ReLU — so every sample has at most K active latents, the loss is the reconstruction
error alone (no L1, hence no shrinkage), and K replaces λ as the knob:

    f = ReLU(TopK(W_enc (x − b_dec) + b_enc)),   loss = ‖x − x̂‖² + α · AuxK.

The ReLU after TopK is the paper's (and its released code's): a kept pre-activation that is negative
is zeroed, so L0 ≤ K, with equality only where training has made the K largest positive. The encoder
starts as the decoder's transpose (§A.1), as in the shared base.

AuxK (§A.2) against dead latents: the residual e = x − x̂ (held fixed) is reconstructed from the
k_aux largest pre-activations among the latents that have not fired for `dead_window` steps,
ê = W_dec TopK_aux(z_dead), and α‖e − ê‖² (α = 1/32 in the paper) joins the loss. This gives dead
latents a gradient toward directions the live ones miss. K and α are per instance.

The auxiliary code is the raw pre-activation, with no ReLU (as SAELens's `calculate_topk_aux_acts`);
OpenAI's released code (sparse_autoencoder/train.py) applies a ReLU to it and divides the auxiliary
MSE by the residual's variance. The scale matters little — a dead latent's own weights get no other
gradient and Adam normalises per weight — but the ReLU matters: latents that die naturally (a high
learning rate drives their encoder bias far below zero) have a negative pre-activation on all or
nearly all inputs, so under a ReLU they get little or no auxiliary gradient, whereas with the raw
code the top k_aux dead latents get one on every input and are pulled back until they fire. On the
toy of specs/sae.topk-auxk.toml (K = 2, lr 0.05; seed field 0, 3 seeds) this form leaves 0–5% of the
latents dead (FVU 0.40–0.41), the same divided by the residual's variance 3–5% (FVU 0.415–0.428),
the ReLU form 14–16% (FVU 0.43–0.44), no AuxK 16–20% (FVU 0.44–0.45). Pinned by
tests/superposition_lab/models/test_sae_topk.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from superposition_lab.models.sae import SAE

__all__ = ["TopKSAE", "topk_mask"]


def topk_mask(z: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Boolean mask (…, D) of the k largest entries of z along the last axis; k broadcasts over (…)."""
    k_max = int(k.max()) if k.numel() else 0
    if k_max == 0:
        return torch.zeros_like(z, dtype=torch.bool)
    idx = torch.topk(z, k_max, dim=-1).indices  # (…, k_max), largest first
    keep = (torch.arange(k_max, device=z.device) < k[..., None]).expand_as(idx)  # (…, k_max): rank < k
    return torch.zeros_like(z, dtype=torch.bool).scatter(-1, idx, keep)


class TopKSAE(SAE):
    """Keep the K largest pre-activations (K per instance), then a ReLU; AuxK with coefficient α and k_aux latents."""

    k: torch.Tensor  # buffer (I,)
    aux_coeff: torch.Tensor  # buffer (I,)

    def __init__(
        self,
        *args: Any,
        k: int | Sequence[int] = 4,
        aux_coeff: float | Sequence[float] = 1 / 32,
        aux_k: int = 0,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)  # sizes, generator, device, dtype, dead_window: see SAE
        per_k = torch.as_tensor(k, device=self.W_dec.device).long()
        if per_k.ndim == 0:
            per_k = per_k.expand(self.n_instances).clone()
        if per_k.shape != (self.n_instances,) or (per_k < 1).any() or (per_k > self.d_sae).any():
            raise ValueError(f"k must be one integer in [1, d_sae={self.d_sae}] or one per instance, got {k!r}")
        self.register_buffer("k", per_k)  # (I,)
        self.register_buffer("aux_coeff", self.hyper(aux_coeff))  # α, (I,)
        self.aux_k = int(aux_k) if aux_k else min(self.d_sae, 2 * int(per_k.max()))  # k_aux

    def encode_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.pre_activation(x)  # (I, B, D)
        keep = topk_mask(z, self.k[:, None])  # (I, B, D)
        return {"f": torch.relu(z * keep), "z": z}  # ReLU after TopK: at most K active

    def penalties(
        self, x: torch.Tensor, parts: dict[str, torch.Tensor], x_hat: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        if not bool((self.aux_coeff > 0).any()):
            return {}
        dead = self.dead_mask()  # (I, D)
        if not bool(dead.any()):
            return {"auxk": torch.zeros_like(self.aux_coeff)}
        z = parts["z"].masked_fill(~dead[:, None, :], float("-inf"))  # only dead latents compete
        n_dead = dead.sum(dim=1)  # (I,)
        k_aux = torch.minimum(n_dead, torch.full_like(n_dead, self.aux_k))  # (I,)
        keep = topk_mask(z, k_aux[:, None]) & dead[:, None, :]
        f_aux = torch.where(keep, parts["z"], torch.zeros_like(parts["z"]))  # (I, B, D)
        e = (x - x_hat).detach()  # the residual the live latents leave, (I, B, H)
        e_hat = torch.bmm(f_aux, self.W_dec.transpose(1, 2))  # (I, B, H)
        aux = ((e - e_hat) ** 2).sum(dim=-1).mean(dim=1)  # (I,)
        return {"auxk": self.aux_coeff * aux * (n_dead > 0)}
