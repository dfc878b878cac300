"""Undo an SAE's shrinkage after training: a per-latent rescale and shift of its active magnitudes.

Rajamanoharan et al. 2024, "Improving Dictionary Learning with Gated Sparse Autoencoders"
(arXiv:2404.16014, the "rescale & shift" baseline of the ablations in Figure 9): is the gated SAE's
better sparsity–fidelity frontier only the L1 SAE's shrinkage removed? Their test gives the L1 SAE a
learned scale and shift of its latent activations and compares the gated SAE with that repaired
baseline; it resolves shrinkage but does not close the gap. Here the repair is fitted after training,
in closed form (least squares on a sample), and keeps the SAE's support, so L0 is unchanged:

    f̃_j = 1[f_j ≠ 0] · (a_j f_j + c_j),      x̂ = W_dec f̃ + b_dec,      (a, c) = argmin Σ‖x − x̂‖².

Per latent, not one global (a, c): the L1 penalty shrinks a code by an offset (the soft threshold
(a − λ/2)₊ on orthogonal features, analytic/sae.py — hence the shift) and, through its encoder row,
by a factor, both differing between latents; and a per-latent fit contains the global one, so the
repaired baseline is the stronger of the two — a gain measured against it is the more convincing. W_dec and
b_dec stay fixed (the fit touches magnitudes only); a and c are unconstrained (a fitted magnitude may
fall below 0: asking a f + c ≥ 0 could only raise the fitted error, so leaving it out again favours
the baseline).

x̂ is linear in θ = (a, c) ∈ R^{2D}: with z = (f, 1[f ≠ 0]) ∈ R^{2D} per sample and V = [W_dec, W_dec]
(H, 2D), x̂ − b_dec = V (z ⊙ θ), so the normal equations are

    G θ = h,      G = (Σ z zᵀ) ⊙ (VᵀV),      h = Σ z ⊙ (Vᵀ (x − b_dec)),

summed over samples (so a sample of any size streams through in batches: add the G, h of each).
They are solved for the departure from the identity (a = 1, c = 0) with a pseudo-inverse, so a latent
that never fires, or a shift that duplicates the scale (a latent whose active magnitude never varies),
keeps the identity part instead of an arbitrary value.

Shapes: I instances, B samples, H input dims, D latents; every function is batched over instances.
"""

from __future__ import annotations

import torch

__all__ = ["rescale_shift_equations", "solve_rescale_shift", "fit_rescale_shift", "apply_rescale_shift"]


@torch.no_grad()
def rescale_shift_equations(
    x: torch.Tensor, f: torch.Tensor, W_dec: torch.Tensor, b_dec: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The normal equations (G (I, 2D, 2D), h (I, 2D)) of one batch, returned in float64.

    x (I, B, H) inputs, f (I, B, D) their codes, W_dec (I, H, D) the atoms, b_dec (I, H). The batch's
    sums are taken in the inputs' dtype (float32 halves the cost of Σ z zᵀ), so add the equations of
    batches of a few thousand samples rather than one huge batch.
    """
    z = torch.cat([f, (f != 0).to(f.dtype)], dim=-1)  # (I, B, 2D)
    V = torch.cat([W_dec, W_dec], dim=-1).to(f.dtype)  # (I, H, 2D)
    zz = torch.bmm(z.transpose(1, 2), z).double()  # (I, 2D, 2D)
    G = zz * torch.bmm(V.transpose(1, 2), V).double()
    h = (z * torch.bmm(x.to(f.dtype) - b_dec.to(f.dtype)[:, None, :], V)).sum(dim=1).double()  # (I, 2D)
    return G, h


@torch.no_grad()
def solve_rescale_shift(G: torch.Tensor, h: torch.Tensor, rcond: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    """The least-squares (scale a, shift c), each (I, D) float64, from summed normal equations.

    Minimum-norm departure from the identity: θ = θ₀ + G⁺ (h − G θ₀), θ₀ = (1, 0); singular values
    below rcond × the largest are dropped (directions the data do not determine stay at θ₀).
    """
    D = G.shape[-1] // 2
    theta0 = torch.cat([torch.ones_like(h[:, :D]), torch.zeros_like(h[:, D:])], dim=-1)  # (I, 2D)
    rhs = h - torch.bmm(G, theta0[..., None])[..., 0]
    theta = theta0 + torch.bmm(torch.linalg.pinv(G, rtol=rcond, hermitian=True), rhs[..., None])[..., 0]
    return theta[:, :D], theta[:, D:]


def fit_rescale_shift(
    x: torch.Tensor, f: torch.Tensor, W_dec: torch.Tensor, b_dec: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-latent (scale, shift), each (I, D) float64, minimising Σ‖x − x̂‖² over this one batch."""
    return solve_rescale_shift(*rescale_shift_equations(x, f, W_dec, b_dec))


def apply_rescale_shift(f: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """f̃ = 1[f ≠ 0] · (scale f + shift) for codes f (I, B, D) and scale, shift (I, D); same support, f's dtype."""
    s, c = scale.to(f.dtype)[:, None, :], shift.to(f.dtype)[:, None, :]
    return torch.where(f != 0, f * s + c, torch.zeros_like(f))
