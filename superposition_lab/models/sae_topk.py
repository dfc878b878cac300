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

from superposition_lab import host_sync
from superposition_lab.models.sae import SAE, squared_error_grad

__all__ = ["TopKSAE", "topk_mask"]


_FAR = 3e38  # subtracted from a value to take it out of the running (a finite float32 step: no NaN)


def _largest_levels(z: torch.Tensor, n: int) -> list[torch.Tensor]:
    """The n largest distinct values of each row of z, descending, each (…, 1): n rounds of "take the
    row's maximum, then remove every entry equal to it" — a few elementwise passes, where `torch.topk`
    on the CPU sorts row by row (~4× slower on a (1024, 64) batch at k = 4)."""
    w, hit, levels = z.clone(), torch.empty_like(z), []
    for r in range(n):
        m = w.amax(dim=-1, keepdim=True)  # (…, 1)
        levels.append(m)
        if r < n - 1:
            w.sub_(torch.ge(w, m, out=hit), alpha=_FAR)  # a float mask (a bool one costs ~10× more to apply)
    return levels


def topk_mask(
    z: torch.Tensor, k: torch.Tensor, *, dtype: torch.dtype = torch.bool, k_max: int | None = None
) -> torch.Tensor:
    """Mask (…, D) of the k largest entries of z along the last axis; k broadcasts over (…).

    Exactly the set `torch.topk` returns. On the CPU: the entries at or above each row's k-th
    largest value (`_largest_levels`), which is that set whenever it has exactly k members; where it
    has not (a tie among the top k, or a NaN) the rows are chosen by `torch.topk` itself. `dtype`:
    bool, or a float dtype for a 1/0 mask — formed and counted as floats from the start, which on the
    CPU is ~4× cheaper per pass than a bool mask and ~5× cheaper to multiply by (the same set either
    way). Both choices read values on the host, so on a GPU (`host_sync`) the mask is one
    `torch.topk(z, k_max)` with the ranks below k kept; `k_max`, a bound on k the caller knows
    (k ≤ k_max everywhere), spares reading it there (a CPU checks it; without it k's largest value
    is read).
    """
    if k_max is not None and not host_sync.reads_are_free(z):
        return _topk_by_rank(z, k, k_max, dtype)
    k_min, k_top = (int(v) for v in torch.aminmax(k)) if k.numel() else (0, 0)
    if k_max is not None and k_top > k_max:
        raise ValueError(f"topk_mask: k reaches {k_top}, above its stated bound k_max = {k_max}")
    k_max = k_top
    if k_max == 0:  # nothing to keep (k = 0 everywhere, or no k at all)
        return torch.zeros_like(z, dtype=dtype)
    levels = _largest_levels(z, k_max)  # k_max × (…, 1)
    if k_min == k_max:  # one k everywhere (a single K): its level is the last one found
        kth = levels[-1]
    else:
        rank = torch.broadcast_to(k[..., None] - 1, z.shape[:-1] + (1,))  # (…, 1): the k-th is at k − 1
        at_rank = torch.cat(levels, dim=-1).gather(-1, rank.clamp_min(0))
        kth = torch.where(rank >= 0, at_rank, float("inf"))  # k = 0: keep none
    keep = z >= kth if dtype == torch.bool else torch.ge(z, kth, out=torch.empty_like(z, dtype=dtype))
    count = keep.sum(dim=-1)  # (…,): a float count of 1s is exact
    if torch.equal(count, torch.broadcast_to(k, keep.shape[:-1]).to(count.dtype)):
        return keep
    return _topk_by_rank(z, k, k_max, dtype)


def _topk_by_rank(z: torch.Tensor, k: torch.Tensor, k_max: int, dtype: torch.dtype) -> torch.Tensor:
    """`torch.topk`'s set of the k largest (k ≤ k_max): its first k_max, each kept if its rank is below k."""
    if k_max == 0:
        return torch.zeros_like(z, dtype=dtype)
    idx = torch.topk(z, k_max, dim=-1).indices  # (…, k_max), largest first
    ranked = (torch.arange(k_max, device=z.device) < k[..., None]).expand_as(idx)  # (…, k_max): rank < k
    return torch.zeros_like(z, dtype=dtype).scatter(-1, idx, ranked.to(dtype))


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
        self.k_max = int(per_k.max())  # the largest K, on the host: a GPU step never reads k (`topk_mask`)
        self.aux_k = int(aux_k) if aux_k else min(self.d_sae, 2 * self.k_max)  # k_aux
        self.auxk_on = bool((self.aux_coeff > 0).any())  # whether any instance has the AuxK term (α > 0)

    def encode_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.pre_activation(x)  # (I, B, D)
        keep = topk_mask(z, self.k[:, None], dtype=z.dtype, k_max=self.k_max)  # (I, B, D), 1/0
        return {"f": (z * keep).relu_(), "z": z}  # ReLU after TopK: at most K active

    @staticmethod
    def _auxk_has_dead(dead: torch.Tensor) -> bool:
        """Whether AuxK has dead latents to reconstruct from, dead (I, D): read on the CPU, where it
        saves the AuxK pass on most steps; on a GPU taken as true, since reading it would wait for the
        step (`host_sync`) — with no latent dead the AuxK pass selects none and adds exact zeros."""
        return not host_sync.reads_are_free(dead) or bool(dead.any())

    def _auxk_latents(self, z: torch.Tensor, dead: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The latents AuxK reconstructs from on each input — the k_aux largest pre-activations among
        the dead latents, a mask (I, B, D) — and the number of dead latents per instance (I,)."""
        masked = z.masked_fill(~dead[:, None, :], float("-inf"))  # only dead latents compete
        n_dead = dead.sum(dim=1)  # (I,)
        k_aux = torch.minimum(n_dead, torch.full_like(n_dead, self.aux_k))  # (I,)
        return topk_mask(masked, k_aux[:, None], k_max=self.aux_k) & dead[:, None, :], n_dead

    def penalties(
        self, x: torch.Tensor, parts: dict[str, torch.Tensor], x_hat: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        if not self.auxk_on:
            return {}
        dead = self.dead_mask()  # (I, D)
        if not self._auxk_has_dead(dead):
            return {"auxk": torch.zeros_like(self.aux_coeff)}
        keep, n_dead = self._auxk_latents(parts["z"], dead)
        f_aux = torch.where(keep, parts["z"], torch.zeros_like(parts["z"]))  # (I, B, D)
        e = (x - x_hat).detach()  # the residual the live latents leave, (I, B, H)
        e_hat = torch.bmm(f_aux, self.W_dec.transpose(1, 2))  # (I, B, H)
        aux = ((e - e_hat) ** 2).sum(dim=-1).mean(dim=1)  # (I,)
        return {"auxk": self.aux_coeff * aux * (n_dead > 0)}

    @torch.no_grad()
    def loss_and_grads(
        self, x: torch.Tensor, importance: torch.Tensor | None = None, *, loss: bool = True
    ) -> torch.Tensor | None:
        """The objective (I,) = E‖x − x̂‖² (+ α·AuxK) on the batch x (I, B, H), with the gradient of its
        sum written to each parameter's `.grad` by hand: the forward is `encode_parts` itself, the
        backward autograd's operations in autograd's order, so the gradients are autograd's bit for
        bit (b_dec's within float rounding: `centred_bias_grad`), pinned by
        tests/superposition_lab/models/test_sae_topk.py. With `loss=False` the objective is not
        formed (None).
        """
        n_batch = x.shape[1]
        parts = self.encode_parts(x)
        f, z = parts["f"], parts["z"]  # (I, B, D)
        d = self.residual(x, f)  # x − x̂, (I, B, H)
        out = (d**2).sum(dim=-1).mean(dim=1) if loss else None  # mse, (I,)
        self._fired = f.sum(dim=1) > 0  # `loss_terms`' Σ_b |f| > 0, with f ≥ 0 here (a ReLU)
        self._last_x = x
        auxk = None  # AuxK's pieces where it has dead latents to reconstruct from
        # in an `instance_views` view, the decisions are the whole model's (so the same bits as the whole)
        whole = self._whole if isinstance(self._whole, TopKSAE) else self
        if whole.auxk_on:
            dead = self.dead_mask()  # (I, D)
            any_dead = dead if whole is self else whole.dead_mask()
            if self._auxk_has_dead(any_dead):
                keep, n_dead = self._auxk_latents(z, dead)
                f_aux = torch.where(keep, z, torch.zeros_like(z))
                e_hat = torch.bmm(f_aux, self.W_dec.transpose(1, 2))
                r = torch.sub(d, e_hat, out=e_hat)  # e − ê, e = x − x̂ held fixed
                auxk = keep, f_aux, r, n_dead > 0
                if out is not None:
                    out = out + self.aux_coeff * (r**2).sum(dim=-1).mean(dim=1) * auxk[3]
            elif out is not None:
                out = out + torch.zeros_like(self.aux_coeff)
        g = squared_error_grad(d)  # ∂/∂x̂, (I, B, H), over d
        # through ReLU(z · keep): the top-K mask is 1 wherever f > 0, so it changes no value here
        g_f = torch.bmm(g, self.W_dec)
        g_z = torch.ops.aten.threshold_backward.grad_input(g_f, f, 0.0, grad_input=g_f)
        W_dec_grad = torch.bmm(f.transpose(1, 2), g).transpose(1, 2)
        if auxk is not None:
            keep, f_aux, r, on = auxk
            weight = (torch.ones_like(self.aux_coeff) * on) * self.aux_coeff  # ∂/∂AuxK of the sum
            g_aux = r.mul_(2.0).mul_((weight / n_batch)[:, None, None]).neg_()  # ∂/∂ê, over r
            W_dec_grad = torch.bmm(f_aux.transpose(1, 2), g_aux).transpose(1, 2) + W_dec_grad
            g_z = g_z + torch.where(keep, torch.bmm(g_aux, self.W_dec), 0.0)
        xc = x - self.b_dec[:, None, :]  # as `pre_activation` centres x
        self.write_affine_grads(xc, g, g_z, W_dec_grad)
        return out
