"""Gated SAE — Rajamanoharan et al. 2024, "Improving Dictionary Learning with Gated Sparse
Autoencoders", arXiv:2404.16014.

The gate path decides WHICH latents fire, the magnitude path HOW MUCH (§3, eq. 6–8):

    π_gate = W_gate (x − b_dec) + b_gate,       π_mag = W_mag (x − b_dec) + b_mag,
    f = 1[π_gate > 0] ⊙ ReLU(π_mag),            W_mag = exp(r_mag) ⊙ W_gate (row-wise scale),

    loss = ‖x − x̂(f)‖² + λ‖ReLU(π_gate)‖₁ + ‖x − x̂_frozen(ReLU(π_gate))‖²,

where x̂_frozen uses stop-gradient copies of W_dec and b_dec. The L1 penalty sits on the gate path
only, so the magnitudes are free of it: no shrinkage. The Heaviside gate passes no gradient, so the
auxiliary term is what trains the gate to reconstruct; freezing the decoder there keeps that term from
pulling the dictionary toward the gate's (shrunk) activations. (The default, `aux_decoder =
"frozen"`, is the paper's; `tests/superposition_lab/models/test_sae_gated.py` pins that its
auxiliary term sends no gradient to the decoder.)

W_gate and b_gate are the base's W_enc and b_enc (weight tying of §3.2 leaves r_mag and b_mag as the
only extra parameters), and decoder atoms have unit norm as in the base.

How λ relates to SAELens's (6.54, `sae_lens/saes/gated_sae.py`; side by side in
benchmarks/saelens_peer.py and tests/peers/): the same λ. Its sparsity term is
λ‖ReLU(π_gate) ⊙ ‖W_dec,j‖‖₁, which is ours while atoms have unit norm, and each loss is unchanged by
rescaling a latent (atom × c, gate row and biases ÷ c), so its free decoder norms (initialised at 0.1,
W_enc = W_decᵀ) change the optimiser's path, not the objective. What does differ is the auxiliary term:
SAELens lets it train W_dec and b_dec (no stop-gradient), the paper freezes them (eq. 8, and the
paper's ablation says freezing helps). `aux_decoder = "trained"` is SAELens's convention; with it and
SAELens's gradient clipping the two agree (λ = 0.3 on SAELens's synthetic task, 64 features in 32 dims,
lr 1e-3, 3M samples: L0 7.0 vs 6.5, matched MMCS 0.96 vs 0.96). With the paper's frozen decoder
(the default) the same λ lands in a denser basin of the same objective: L0 14.5, MMCS 0.56 (16.3 and
0.53 at lr 3e-4, 5M samples, against SAELens's 8.3 and 0.93). The sparse basin is a better optimum
of the paper's loss too — started there, frozen-decoder training stays (../shared/FINDINGS.md) — so
it is the training path: with a frozen decoder the gate learns against a dictionary that only the
magnitude path shapes, and many gates open a little (cheap under the L1 term at λ = 0.3) while the
magnitudes reconstruct. λ ≥ 0.4 avoids it on that task; neither a λ warm-up (1k or 5k steps) nor a
0.1-norm encoder init did (L0 15.7–17.9 at lr 3e-4, 5M samples). Adding SAELens's free norms alone to
the frozen decoder is ill-posed — the L1 term shrinks the norms toward 0 and every latent fires (L0
64) — which is why the paper pairs the frozen decoder with unit-norm atoms, and why its authors say
that a norm-weighted L1 needs the decoder trained in the auxiliary term (or frozen in the penalty too).

`magnitude_l1 = True` is an ablation, not the paper's model: the L1 penalty also falls on the output
activations f (loss + λ‖f‖₁), so the magnitudes pay it as an L1 SAE's do — the mechanism that
removes shrinkage is gone and everything else is kept (a control for the shrinkage claim).

`gate = "sigmoid"` is the SAE overview's simplification (seeds/003, §5.1), not the paper's model: its
code multiplies a sigmoid gate into the magnitude and puts the L1 penalty on the gate signal only,

    f = σ(π_gate) ⊙ ReLU(π_mag),      loss = ‖x − x̂(f)‖² + λ‖σ(π_gate)‖₁,

with no auxiliary term (its loss formula is lost from the text; the sigmoid passes gradient to the
gate, which is what the paper's auxiliary term stands in for). Everything else — weight tying, biases,
unit atoms — is this module's, so only the gate differs. σ > 0, so f is zero only where π_mag ≤ 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from superposition_lab.models.sae import SAE, centred_bias_grad, one_of, squared_error_grad

__all__ = ["GatedSAE", "AUX_DECODERS", "GATES"]

# The decoder in the auxiliary reconstruction ‖x − x̂_dec(ReLU(π_gate))‖²: "frozen" (the paper's eq. 8,
# stop-gradient on W_dec and b_dec) or "trained" (SAELens's GatedTrainingSAE: the term trains them too).
AUX_DECODERS = ("frozen", "trained")
# The gate: "heaviside" (the paper's 1[π_gate > 0]) or "sigmoid" (the SAE overview's σ(π_gate); see above).
GATES = ("heaviside", "sigmoid")


class GatedSAE(SAE):
    """Gate (W_enc, b_enc) + magnitude (exp(r_mag) ⊙ W_enc, b_mag); L1 λ on ReLU(π_gate) per instance."""

    penalty: torch.Tensor  # buffer (I,)

    HAND_GRADIENT_READS = (*SAE.HAND_GRADIENT_READS, "aux_trains_decoder")

    def __init__(
        self,
        *args: Any,
        penalty: float | Sequence[float] = 0.1,
        magnitude_l1: bool = False,
        aux_decoder: str = "frozen",
        gate: str = "heaviside",
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)  # sizes, generator, device, dtype, dead_window: see SAE
        self.gate = one_of("gate", gate, GATES)
        self.magnitude_l1 = magnitude_l1
        self.aux_decoder = one_of("aux_decoder", aux_decoder, AUX_DECODERS)
        device, dtype = self.W_dec.device, self.W_dec.dtype
        self.r_mag = nn.Parameter(torch.zeros((self.n_instances, self.d_sae), device=device, dtype=dtype))  # (I, D)
        self.b_mag = nn.Parameter(torch.zeros((self.n_instances, self.d_sae), device=device, dtype=dtype))  # (I, D)
        self.register_buffer("penalty", self.hyper(penalty))  # λ, (I,)

    @property
    def aux_trains_decoder(self) -> bool:
        """Whether the auxiliary reconstruction trains the decoder (SAELens) or sees it frozen (eq. 8)."""
        return self.aux_decoder == "trained"

    @torch.no_grad()
    def loss_and_grads(
        self, x: torch.Tensor, importance: torch.Tensor | None = None, *, loss: bool = True
    ) -> torch.Tensor | None:
        """The objective (I,) of `loss_terms` on the batch x (I, B, H), with the gradient of its sum
        written to each parameter's `.grad` by hand: autograd's operations in autograd's order (where a
        tensor collects three gradients, in the order autograd adds them), so the gradients are
        autograd's bit for bit for every gate, decoder and ablation option — b_dec's within float
        rounding, summed before its two encoders' matmuls (`centred_bias_grad`) — pinned by
        tests/superposition_lab/models/test_sae_gated.py, without autograd's per-node overhead. With
        `loss=False` the objective is not formed (None).
        """
        n_batch = x.shape[1]
        sigmoid = self.gate == "sigmoid"
        trained = self.aux_trains_decoder
        centred = x - self.b_dec[:, None, :]  # (I, B, H)
        # elementwise steps in place on tensors nothing else holds: the same values, fewer buffers
        z = torch.bmm(centred, self.W_enc)  # W_gate (x − b_dec), both paths' (I, B, D), as encode_parts
        pi_gate = z + self.b_enc[:, None, :]
        scale = torch.exp(self.r_mag)[:, None, :]  # (I, 1, D)
        mag = torch.mul(z, scale).add_(self.b_mag[:, None, :]).relu_()  # ReLU(π_mag)
        # 1[π_gate > 0] written as floats at once (a bool mask then a cast costs ~7× more on the CPU)
        open_ = torch.sigmoid(pi_gate) if sigmoid else torch.gt(pi_gate, 0, out=torch.empty_like(pi_gate))
        f = open_ * mag
        d = self.residual(x, f)  # x − x̂, (I, B, H)
        gate = open_ if sigmoid else pi_gate.relu_()  # what the L1 term sees: σ(π_gate) or ReLU(π_gate)
        if not sigmoid:  # the auxiliary reconstruction through the gate
            d_aux = self.residual(x, gate)  # x − x̂_gate
        out = None
        if loss:
            out = (d**2).sum(dim=-1).mean(dim=1)  # mse, (I,)
            l1 = self.penalty * gate.sum(dim=-1).mean(dim=1)
            if self.magnitude_l1:
                l1 = l1 + self.penalty * f.sum(dim=-1).mean(dim=1)
            out = out + l1
            if not sigmoid:
                out = out + (d_aux**2).sum(dim=-1).mean(dim=1)
        self._fired = f.sum(dim=1) > 0  # `loss_terms`' Σ_b |f| > 0, with f ≥ 0 here (gate ≥ 0 times a ReLU)
        self._last_x = x
        # backward, as autograd takes it
        g = squared_error_grad(d)  # ∂/∂x̂, (I, B, H), over d
        g_f = torch.bmm(g, self.W_dec)  # ∂/∂f, (I, B, D)
        g_l1 = (self.penalty / n_batch)[:, None, None].expand_as(f)  # ∂/∂ of a λ·E‖·‖₁ term's argument
        if self.magnitude_l1:
            g_f = g_f.add_(g_l1)
        g_mag = g_f * open_
        g_mag = torch.ops.aten.threshold_backward.grad_input(g_mag, mag, 0.0, grad_input=g_mag)  # ∂/∂π_mag
        W_dec_grad = torch.bmm(f.transpose(1, 2), g).transpose(1, 2)
        b_dec_grad = g.sum(dim=1)
        if sigmoid:  # two sigmoids of π_gate: in f and in the L1 term
            g_gate = torch.ops.aten.sigmoid_backward(g_f * mag, open_) + torch.ops.aten.sigmoid_backward(g_l1, gate)
        else:
            g_aux = squared_error_grad(d_aux)  # ∂/∂x̂_gate, over d_aux
            g_gate = torch.bmm(g_aux, self.W_dec).add_(g_l1)
            g_gate = torch.ops.aten.threshold_backward.grad_input(g_gate, gate, 0.0, grad_input=g_gate)
            if trained:  # the auxiliary term trains the decoder too (SAELens); its gradients arrive first
                W_dec_grad = torch.bmm(gate.transpose(1, 2), g_aux).transpose(1, 2) + W_dec_grad
                b_dec_grad = g_aux.sum(dim=1) + b_dec_grad
        self.W_dec.grad = W_dec_grad.contiguous()  # in the parameter's layout, as autograd leaves it
        self.b_mag.grad = g_mag.sum(dim=1)
        self.b_enc.grad = g_gate.sum(dim=1)
        self.r_mag.grad = (g_mag * z).sum(dim=1) * scale[:, 0]  # through π_mag = z ⊙ e^{r_mag} + b_mag
        g_z = torch.mul(g_mag, scale).add_(g_gate)  # z feeds both paths
        self.W_enc.grad = torch.bmm(centred.transpose(1, 2), g_z)  # (I, H, D)
        # Σ_b ∂/∂z from the two biases' gradients: b_mag's scaled as g_mag is, plus b_gate's
        self.b_dec.grad = b_dec_grad - centred_bias_grad(self.b_mag.grad * scale[:, 0] + self.b_enc.grad, self.W_enc)
        return out

    def encode_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        centred = x - self.b_dec[:, None, :]  # (I, B, H)
        # W_mag = exp(r_mag) ⊙ W_gate (latent j's row scaled by e^{r_j}), so W_mag (x − b_dec) is
        # W_gate (x − b_dec) scaled: one encoder matmul serves both paths
        z = torch.bmm(centred, self.W_enc)  # (I, B, D)
        pi_gate = z + self.b_enc[:, None, :]
        pi_mag = z * torch.exp(self.r_mag)[:, None, :] + self.b_mag[:, None, :]
        if self.gate == "sigmoid":  # the overview's form: a soft gate in (0, 1) that passes gradient
            return {"f": torch.sigmoid(pi_gate) * torch.relu(pi_mag), "pi_gate": pi_gate}
        f = (pi_gate > 0).to(pi_mag.dtype) * torch.relu(pi_mag)  # the gate carries no gradient
        return {"f": f, "pi_gate": pi_gate}

    def penalties(
        self, x: torch.Tensor, parts: dict[str, torch.Tensor], x_hat: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        if self.gate == "sigmoid":  # the overview's loss: L1 on the gate signal σ(π_gate), no auxiliary term
            l1 = self.penalty * torch.sigmoid(parts["pi_gate"]).sum(dim=-1).mean(dim=1)  # (I,)
            if self.magnitude_l1:
                l1 = l1 + self.penalty * parts["f"].sum(dim=-1).mean(dim=1)
            return {"l1": l1}
        gate = torch.relu(parts["pi_gate"])  # (I, B, D)
        l1 = self.penalty * gate.sum(dim=-1).mean(dim=1)  # (I,)
        if self.magnitude_l1:  # the ablation: the magnitudes pay the L1 penalty too
            l1 = l1 + self.penalty * parts["f"].sum(dim=-1).mean(dim=1)
        # auxiliary reconstruction through the gate; the paper freezes the decoder here (stop-gradient)
        frozen = not self.aux_trains_decoder
        W_dec: torch.Tensor = self.W_dec.detach() if frozen else self.W_dec
        b_dec: torch.Tensor = self.b_dec.detach() if frozen else self.b_dec
        x_gate = torch.bmm(gate, W_dec.transpose(1, 2)) + b_dec[:, None, :]
        aux = ((x - x_gate) ** 2).sum(dim=-1).mean(dim=1)  # (I,)
        return {"l1": l1, "aux": aux}
