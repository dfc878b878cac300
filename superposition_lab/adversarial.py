"""Analytic L2 adversarial attacks on the tied toy models (TMS "Superposition and Adversarial Robustness").

TMS: "we generated L2 adversarial examples (allowing a max L2 attack norm of 0.1 of the average input
norm) … we found it worked better to analytically derive adversarial attacks by considering the
optimal L2 attacks for each feature (λ(WᵀW)_i/‖(WᵀW)_i‖₂) and taking the one of these attacks which
most harms model performance", and the vulnerability is reported relative to a non-superposition
model, (L' − L)/(L'₀ − L₀). This module derives that attack and measures it; every function is pure
and batched over instances: W (I, H, F), b (I, F), inputs x (I, B, F), importance (I, F).

The model and the loss. x' = ReLU(G x + b) with G = WᵀW (symmetric, (F, F) per instance); the
adversary feeds x + δ with ‖δ‖₂ ≤ ε and the model is scored on the clean features,
ℓ(x, δ) = Σ_j I_j (x_j − x'_j(x + δ))² — the perturbation is not a feature, as a classifier's label
stays the clean one.

1. The optimal attack on one output. Output i sees δ only through (Gδ)_i = G_i·δ, G_i the i-th row
   of WᵀW. By Cauchy–Schwarz |G_i·δ| ≤ ε‖G_i‖ with equality only at δ = ±ε Ĝ_i (Ĝ_i = G_i/‖G_i‖),
   and the ReLU is monotone, so +εĜ_i drives output i as high, and −εĜ_i as low, as any δ of norm ≤ ε
   can — exactly, not only to first order. These are TMS's "optimal L2 attacks for each feature".
2. Why these are the attacks on the loss. For a one-hot input x = a e_k in the sparse regime only
   output k is live (every other pre-activation G_j·x + b_j is below 0), so to first order in δ
   ∇_δ ℓ = −2 I_k r_k G_k with the residual r_k = a − x'_k: the steepest ascent of norm ε is
   −sign(r_k) ε Ĝ_k, along row k of WᵀW with its diagonal G_kk = ‖W_k‖² included (the attack also
   pushes feature k's own input). A trained superposed model undershoots (b_k < 0, r_k > 0), so the
   first-order attack has the sign TMS's λ leaves open; we try both signs of every row: 2F
   candidates. Without superposition G_k = ‖W_k‖² e_k and the attack only moves x_k; with it, G_k
   also holds the interference terms W_k·W_j — TMS's (1, ε, −ε, ε, …) — and the attack spends
   part of its budget on the features behind them.
3. Why it tracks features per dimension. ‖G_i‖² = Σ_j (W_i·W_j)² = ‖W_i‖⁴/D_i with TMS's feature
   dimensionality D_i = ‖W_i‖²/Σ_j (Ŵ_i·W_j)² ("Feature Dimensionality"), so the attack moves output
   i by ε‖W_i‖²/√D_i: by ε for a dedicated unit feature, by ε√2 for an antipodal pair, ε/√D_i in
   general. The squared error it causes grows like 1/D_i — features per dimension (1/D* = ‖W‖_F²/m
   on average) — and faster where several outputs move at once (‖Gδ‖ ≤ ε‖W‖²_op = ε/D* for a
   tight frame).
4. Why not gradient ascent. An output below its ReLU threshold has zero gradient: at δ = 0 the
   loss does not see the spurious activations the attack can cause (for x = 0 and b < 0 the gradient
   is exactly 0). TMS saw this "gradient masking"; the analytic attack steps over it.

The measurement. For each input the adversary takes the worst of the 2F candidates, or no attack
(the norm bound is ≤ ε): L' = E_x max(ℓ(x, 0), max_c ℓ(x, δ_c)), L = E_x ℓ(x, 0), with
ε = 0.1·E‖x‖₂ (TMS). The non-superposition reference is the dedicated top-m model W = [Id_m | 0],
b = 0: each candidate moves one represented input by ±ε, + raises x'_k by exactly ε (error I_k ε²)
and − lowers it by at most ε (error ≤ I_k ε²), so L'₀ − L₀ = ε²·max_i I_i for every input — a closed
form at any sparsity (its represented features include the most important one). The vulnerability
V = (L' − L)/(ε² max_i I_i) is 1 for that model and for any model whose G is a coordinate projection.

The same attack applies to the other tied models: the linear model (no output ReLU: Δx' = Gδ
exactly) and the ReLU-hidden model (h = ReLU(W(x + δ)); there Ĝ_i is the attack TMS's formula
gives, no longer provably the best one on output i); `attacked_losses` runs each model's forward.
"""

from __future__ import annotations

import torch

__all__ = [
    "ATTACK_FRACTION",
    "attack_directions",
    "attack_norm",
    "output",
    "reconstruction_error",
    "attacked_losses",
    "worst_case_loss",
    "dedicated_increase",
    "vulnerability",
    "features_per_dimension",
]

ATTACK_FRACTION = 0.1  # TMS: "a max L2 attack norm of 0.1 of the average input norm"
_EPS = 1e-12
_CHUNK_ENTRIES = 2**22  # B·C·F floats per chunk of inputs (32 MiB in float64)


def _check(W: torch.Tensor, b: torch.Tensor) -> None:
    if W.ndim != 3 or b.shape != (W.shape[0], W.shape[2]):
        raise ValueError(f"W must be (I, H, F) and b (I, F), got {tuple(W.shape)} and {tuple(b.shape)}")


def attack_directions(W: torch.Tensor) -> torch.Tensor:
    """The 2F candidate attack directions ±Ĝ_i, Ĝ_i = (WᵀW)_i/‖(WᵀW)_i‖₂, as (I, 2F, F): rows
    0…F−1 are +Ĝ_i, rows F…2F−1 are −Ĝ_i. A feature with G_i = 0 (W_i = 0: nothing reads it, no
    attack on it) gets the zero direction, i.e. no perturbation."""
    if W.ndim != 3:
        raise ValueError(f"W must be (I, H, F), got shape {tuple(W.shape)}")
    G = torch.bmm(W.transpose(1, 2), W)  # (I, F, H) @ (I, H, F) → (I, F, F), symmetric
    norms = G.norm(dim=-1, keepdim=True)  # (I, F, 1): ‖G_i‖ = ‖W_i‖²/√D_i
    unit = torch.where(norms > _EPS, G / norms.clamp_min(_EPS), torch.zeros_like(G))
    return torch.cat([unit, -unit], dim=1)  # (I, 2F, F)


def attack_norm(x: torch.Tensor, fraction: float = ATTACK_FRACTION) -> torch.Tensor:
    """ε = fraction × the average L2 norm of the inputs x (I, B, F), per instance (I,) (TMS: 0.1)."""
    return fraction * x.norm(dim=-1).mean(dim=-1)


def output(
    W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, *, output_relu: bool = True, hidden_relu: bool = False
) -> torch.Tensor:
    """x' for inputs x (I, …, F): ReLU(Wᵀh + b) (or Wᵀh + b without the output ReLU), h = W x (or
    ReLU(W x) for the privileged-basis model). Any batch axes between I and F are kept."""
    _check(W, b)
    lead = x.shape[1:-1]
    flat = x.reshape(x.shape[0], -1, x.shape[-1])  # (I, N, F)
    h = torch.bmm(flat, W.transpose(1, 2))  # (I, N, F) @ (I, F, H) → (I, N, H)
    if hidden_relu:
        h = torch.relu(h)
    pre = torch.bmm(h, W) + b[:, None, :]  # (I, N, H) @ (I, H, F) → (I, N, F)
    y = torch.relu(pre) if output_relu else pre
    return y.reshape(x.shape[0], *lead, x.shape[-1])


def reconstruction_error(target: torch.Tensor, y: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Σ_j I_j (target_j − y_j)² per input: target, y (I, …, F), importance (I, F) → (I, …)."""
    shape = (importance.shape[0],) + (1,) * (y.ndim - 2) + (importance.shape[1],)
    return ((target - y) ** 2 * importance.reshape(shape)).sum(dim=-1)


def attacked_losses(
    W: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    importance: torch.Tensor,
    eps: torch.Tensor,
    *,
    output_relu: bool = True,
    hidden_relu: bool = False,
) -> torch.Tensor:
    """ℓ(x, ε d_c) for every input and every candidate d_c of `attack_directions`, (I, B, 2F):
    the model sees x + ε d_c and is scored against the clean x. eps is (I,)."""
    _check(W, b)
    delta = attack_directions(W) * eps[:, None, None]  # (I, C, F), C = 2F
    I, B, F = x.shape
    C = delta.shape[1]
    rows = max(1, _CHUNK_ENTRIES // (C * F))
    weights = importance[:, None, :, None]  # (I, 1, F, 1)
    if not hidden_relu:  # pre(x + δ) = pre(x) + (WᵀW)δ: one shift per candidate, no second forward pass
        G = torch.bmm(W.transpose(1, 2), W)  # (I, F, F)
        shift = torch.bmm(delta, G)  # (I, C, F) @ (I, F, F): (Gδ_c)ᵀ, G symmetric
    out = []
    for start in range(0, B, rows):
        xs = x[:, start : start + rows]  # (I, B', F)
        if hidden_relu:
            attacked = xs[:, :, None, :] + delta[:, None, :, :]  # (I, B', C, F)
            y = output(W, b, attacked, output_relu=output_relu, hidden_relu=True)
        else:
            pre = torch.bmm(xs, G) + b[:, None, :]  # (I, B', F)
            y = pre[:, :, None, :] + shift[:, None, :, :]  # (I, B', C, F)
            if output_relu:
                y.relu_()
        err = y.neg_().add_(xs[:, :, None, :]).square_()  # (x − x')², in place
        out.append(torch.matmul(err, weights)[..., 0])  # (I, B', C, F) @ (I, 1, F, 1) → (I, B', C)
    return torch.cat(out, dim=1)


def worst_case_loss(
    W: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    importance: torch.Tensor,
    eps: torch.Tensor,
    *,
    output_relu: bool = True,
    hidden_relu: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(clean loss ℓ(x, 0), attacked loss max(ℓ(x, 0), max_c ℓ(x, ε d_c))) per input, both (I, B):
    per input the adversary takes the candidate that hurts most, or none (the bound is ‖δ‖ ≤ ε)."""
    y = output(W, b, x, output_relu=output_relu, hidden_relu=hidden_relu)
    clean = reconstruction_error(x, y, importance)  # (I, B)
    attacked = attacked_losses(W, b, x, importance, eps, output_relu=output_relu, hidden_relu=hidden_relu)
    return clean, torch.maximum(clean, attacked.max(dim=-1).values)


def dedicated_increase(importance: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """L'₀ − L₀ = ε²·max_i I_i, (I,): the same attack's loss increase on the dedicated top-m model
    W = [Id_m | 0], b = 0 (the non-superposition reference; exact for every input, see the module)."""
    return eps**2 * importance.max(dim=-1).values


def vulnerability(
    W: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    importance: torch.Tensor,
    *,
    fraction: float = ATTACK_FRACTION,
    output_relu: bool = True,
    hidden_relu: bool = False,
) -> torch.Tensor:
    """TMS's vulnerability (L' − L)/(L'₀ − L₀), (I,), estimated on the inputs x (I, B, F): the mean
    loss increase under the worst analytic attack of norm ε = fraction·E‖x‖, over the same attack's
    increase on the dedicated top-m model. 1 without superposition; grows like 1/D_i with it."""
    eps = attack_norm(x, fraction)
    clean, attacked = worst_case_loss(W, b, x, importance, eps, output_relu=output_relu, hidden_relu=hidden_relu)
    return (attacked - clean).mean(dim=-1) / dedicated_increase(importance, eps)


def features_per_dimension(W: torch.Tensor) -> torch.Tensor:
    """1/D* = ‖W‖_F²/m, (I,): TMS's "features per dimension", the curve vulnerability tracks."""
    if W.ndim != 3:
        raise ValueError(f"W must be (I, H, F), got shape {tuple(W.shape)}")
    return (W**2).sum(dim=(1, 2)) / W.shape[1]
