"""Measurements of SAEs against ground truth (the papers cited below).

Reconstruction and sparsity: L0 (mean number of active latents per sample), MSE E‖x − x̂‖², the
fraction of variance unexplained FVU = E‖x − x̂‖² / E‖x − E x‖², and the relative reconstruction bias
γ = E‖x̂‖² / E[x·x̂] of Rajamanoharan et al. 2024 (arXiv:2404.16014, §5): the best rescaling of x̂ is
1/γ, so γ < 1 means the SAE under-reconstructs — shrinkage — and x̂ = c·x gives γ = c.

Feature recovery (Sharkey et al. 2022): with true unit directions D (I, H, F) and decoder atoms W_dec
(I, H, D), the cosine matrix C_ij = d̂_i·ŵ_j; MMCS = mean over true features of max_j C_ij, and the
matched variant pairs features and atoms one-to-one (Hungarian algorithm) before averaging, so one
atom cannot stand in for several features (an unmatched feature counts 0).

Absorption (Chanin et al. 2024, arXiv:2409.14507): with a parent feature that fires whenever its
child does, the latent matched to the parent stops firing on child inputs (the child's latent
"absorbs" the parent direction). Scores: the rate at which the parent latent is silent when both
features are active, the cosine of the child latent's atom with the parent direction, and the cosine
of the parent latent's encoder row with the child direction (negative: the child vetoes the parent).

Every function takes tensors with the instance axis first and returns a tensor (I, …).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

__all__ = [
    "SAEStatistics",
    "l0",
    "l0_per_sample",
    "mse",
    "fvu",
    "relative_reconstruction_bias",
    "dead_fraction",
    "cosine_matrix",
    "mmcs",
    "recovered_fraction",
    "match_features",
    "matched_mmcs",
    "absorption_rate",
    "column_cosine",
]

_EPS = 1e-12
RECOVERED_COSINE = 0.9  # a feature counts as recovered when some atom has cosine ≥ 0.9 with it


def l0_per_sample(f: torch.Tensor) -> torch.Tensor:
    """Number of nonzero latents per sample, (I, B) for codes f (I, B, D)."""
    return (f != 0).sum(dim=-1)


class SAEStatistics:
    """Streaming sums over batches of one batched SAE's evaluation → L0, MSE, FVU, γ, dead fraction, absorption.

    Feed batches (instance axis first) with `add_codes(f)` (L0 and firing), `add_reconstruction(x, x̂)`
    (MSE, FVU, γ), both at once with `add(x, x̂, f)`, and `add_absorption(c, f, parent, child,
    parent_latent)` (Chanin et al. 2024); then read the measurements, each (I,). Sums are kept in
    float64 (each batch's sums are taken in the inputs' dtype first), so a sample of any size streams
    through in pieces, N samples in all (the sums are public attributes, each (I,) unless noted):

        L0    = Σ_b ‖f_b‖₀ / N                 (also the fewest and most active latents on one sample)
        MSE   = Σ_b ‖x_b − x̂_b‖² / N
        FVU   = Σ_b ‖x_b − x̂_b‖² / Σ_b ‖x_b − x̄‖²,   Σ_b ‖x_b − x̄‖² = Σ_b ‖x_b‖² − ‖Σ_b x_b‖² / N
        γ     = Σ_b ‖x̂_b‖² / Σ_b x_b·x̂_b        (Rajamanoharan et al. 2024, §5; NaN where Σ x·x̂ = 0)
        dead  = fraction of latents that fire (f ≠ 0) on fewer than `min_fires` samples (default 1:
                zero on every sample); `fires` (I, D) holds each latent's count
        absorption: `both` samples with parent and child active, `silent` of those with the parent's
                    latent silent; rate = silent / both (NaN where both = 0)

    The one-call functions of this module (`l0`, `mse`, `fvu`, `relative_reconstruction_bias`,
    `dead_fraction`, `absorption_rate`) are one batch through this class.
    """

    def __init__(self, n_instances: int, n_dims: int, d_sae: int, device: torch.device | str = "cpu") -> None:
        def zeros(*shape: int) -> torch.Tensor:
            return torch.zeros(*shape, dtype=torch.float64, device=device)

        self.n_codes = 0  # samples seen by add_codes
        self.n_inputs = 0  # samples seen by add_reconstruction
        self.l0_sum = zeros(n_instances)  # Σ ‖f‖₀
        self.l0_fewest = torch.full((n_instances,), 1 << 30, device=device)  # long
        self.l0_most = torch.zeros(n_instances, dtype=torch.long, device=device)
        self.fires = torch.zeros(n_instances, d_sae, dtype=torch.long, device=device)  # samples each latent fired on
        self.sq_err, self.xhat_sq, self.x_dot, self.x_sq = (zeros(n_instances) for _ in range(4))  # Σ‖x − x̂‖², …
        self.x_sum = zeros(n_instances, n_dims)  # Σ x
        self.both, self.silent = zeros(n_instances), zeros(n_instances)  # absorption counts

    @torch.no_grad()
    def add_codes(self, f: torch.Tensor) -> None:
        """Codes f (I, B, D) of one batch: L0 and which latents fire."""
        per = l0_per_sample(f)  # (I, B)
        self.l0_sum += per.sum(dim=1)
        self.l0_fewest = torch.minimum(self.l0_fewest, per.min(dim=1).values)
        self.l0_most = torch.maximum(self.l0_most, per.max(dim=1).values)
        self.fires += (f != 0).sum(dim=1)
        self.n_codes += f.shape[1]

    @torch.no_grad()
    def add_reconstruction(self, x: torch.Tensor, x_hat: torch.Tensor) -> None:
        """Inputs x and reconstructions x̂ (I, B, H) of one batch: MSE, FVU and γ."""
        self.sq_err += ((x - x_hat) ** 2).sum(dim=(1, 2)).double()
        self.xhat_sq += (x_hat * x_hat).sum(dim=(1, 2)).double()
        self.x_dot += (x * x_hat).sum(dim=(1, 2)).double()
        self.x_sq += (x * x).sum(dim=(1, 2)).double()
        self.x_sum += x.sum(dim=1).double()
        self.n_inputs += x.shape[1]

    @torch.no_grad()
    def add_absorption(
        self, c: torch.Tensor, f: torch.Tensor, parent: int, child: int, parent_latent: torch.Tensor
    ) -> None:
        """True coefficients c (I, B, F) and codes f (I, B, D); parent_latent (I,) the latent matched to `parent`."""
        both = (c[..., parent] > 0) & (c[..., child] > 0)  # (I, B)
        silent = torch.gather(f, 2, parent_latent[:, None, None].expand(-1, f.shape[1], 1))[..., 0] == 0  # (I, B)
        self.both += both.sum(dim=1)
        self.silent += (both & silent).sum(dim=1)

    def add(self, x: torch.Tensor, x_hat: torch.Tensor, f: torch.Tensor) -> None:
        """One batch of codes and reconstructions: `add_codes(f)` and `add_reconstruction(x, x̂)`."""
        self.add_codes(f)
        self.add_reconstruction(x, x_hat)

    # ------------------------------------------------------------ the measurements, each (I,) float64
    def l0(self) -> torch.Tensor:
        return self.l0_sum / self.n_codes

    def l0_min(self) -> torch.Tensor:
        return self.l0_fewest.double()

    def l0_max(self) -> torch.Tensor:
        return self.l0_most.double()

    def dead_fraction(self, min_fires: int = 1) -> torch.Tensor:
        """Fraction of latents that fired on fewer than `min_fires` samples (1: never fired), (I,)."""
        return (self.fires < min_fires).double().mean(dim=1)

    def mse(self) -> torch.Tensor:
        return self.sq_err / self.n_inputs

    def fvu(self) -> torch.Tensor:
        total = self.x_sq - (self.x_sum**2).sum(dim=1) / self.n_inputs  # Σ‖x − x̄‖²
        return self.sq_err / total.clamp_min(_EPS)

    def gamma(self) -> torch.Tensor:
        den = self.x_dot
        return torch.where(
            den != 0,
            self.xhat_sq / torch.where(den != 0, den, torch.ones_like(den)),
            torch.full_like(den, float("nan")),
        )

    def absorption_rate(self) -> torch.Tensor:
        rate = self.silent / self.both.clamp_min(1)
        return torch.where(self.both > 0, rate, torch.full_like(rate, float("nan")))


def _result_dtype(x: torch.Tensor, x_hat: torch.Tensor) -> torch.dtype:
    return torch.result_type(x, x_hat)


def l0(f: torch.Tensor) -> torch.Tensor:
    """Mean number of active latents per sample, (I,) float64."""
    stats = SAEStatistics(f.shape[0], 0, f.shape[-1], f.device)
    stats.add_codes(f)
    return stats.l0()


def mse(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """E‖x − x̂‖² (summed over dims, averaged over samples), (I,) for x, x_hat (I, B, H)."""
    stats = SAEStatistics(x.shape[0], x.shape[-1], 0, x.device)
    stats.add_reconstruction(x, x_hat)
    return stats.mse().to(_result_dtype(x, x_hat))


def fvu(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Fraction of variance unexplained Σ‖x − x̂‖² / Σ‖x − x̄‖² (x̄ the per-instance sample mean), (I,)."""
    stats = SAEStatistics(x.shape[0], x.shape[-1], 0, x.device)
    stats.add_reconstruction(x, x_hat)
    return stats.fvu().to(_result_dtype(x, x_hat))


def relative_reconstruction_bias(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """γ = E‖x̂‖² / E[x·x̂], (I,); γ < 1 is shrinkage. NaN where E[x·x̂] = 0."""
    stats = SAEStatistics(x.shape[0], x.shape[-1], 0, x.device)
    stats.add_reconstruction(x, x_hat)
    return stats.gamma().to(_result_dtype(x, x_hat))


def dead_fraction(f: torch.Tensor, min_fires: int = 1) -> torch.Tensor:
    """Fraction of latents nonzero on fewer than `min_fires` samples of f (I, B, D) (1: zero on every
    sample), (I,) float64."""
    stats = SAEStatistics(f.shape[0], 0, f.shape[-1], f.device)
    stats.add_codes(f)
    return stats.dead_fraction(min_fires)


def _unit_columns(W: torch.Tensor) -> torch.Tensor:
    return W / W.norm(dim=1, keepdim=True).clamp_min(_EPS)


def cosine_matrix(directions: torch.Tensor, atoms: torch.Tensor) -> torch.Tensor:
    """C_ij = cos(true feature i, atom j), (I, F, D) for directions (I, H, F) and atoms (I, H, D)."""
    if directions.ndim != 3 or atoms.ndim != 3 or directions.shape[:2] != atoms.shape[:2]:
        raise ValueError(
            f"need directions (I, H, F) and atoms (I, H, D) with the same I and H, got "
            f"{tuple(directions.shape)} and {tuple(atoms.shape)}"
        )
    return torch.bmm(_unit_columns(directions).transpose(1, 2), _unit_columns(atoms))  # (I,F,H) @ (I,H,D)


def mmcs(directions: torch.Tensor, atoms: torch.Tensor) -> torch.Tensor:
    """Mean over true features of the max cosine with any atom, (I,)."""
    return cosine_matrix(directions, atoms).max(dim=-1).values.mean(dim=-1)


def recovered_fraction(
    directions: torch.Tensor, atoms: torch.Tensor, threshold: float = RECOVERED_COSINE
) -> torch.Tensor:
    """Fraction of true features with some atom at cosine ≥ threshold (0.9 by default), (I,)."""
    return (cosine_matrix(directions, atoms).max(dim=-1).values >= threshold).to(torch.float64).mean(dim=-1)


def match_features(directions: torch.Tensor, atoms: torch.Tensor) -> torch.Tensor:
    """One-to-one feature → atom matching maximising the summed cosine (Hungarian), (I, F) long.

    Entry −1 where a feature is left unmatched (fewer atoms than features).
    """
    C = cosine_matrix(directions, atoms).detach().cpu().double().numpy()  # (I, F, D)
    out = np.full(C.shape[:2], -1, dtype=np.int64)
    for i in range(C.shape[0]):
        rows, cols = linear_sum_assignment(-C[i])
        out[i, rows] = cols
    return torch.from_numpy(out).to(directions.device)


def matched_mmcs(directions: torch.Tensor, atoms: torch.Tensor) -> torch.Tensor:
    """Mean over true features of the cosine with their Hungarian-matched atom (0 if unmatched), (I,)."""
    C = cosine_matrix(directions, atoms)  # (I, F, D)
    match = match_features(directions, atoms)  # (I, F)
    picked = torch.gather(C, 2, match.clamp_min(0)[..., None])[..., 0]  # (I, F)
    return torch.where(match >= 0, picked, torch.zeros_like(picked)).mean(dim=-1)


def column_cosine(
    W: torch.Tensor, columns: torch.Tensor, directions: torch.Tensor, features: torch.Tensor
) -> torch.Tensor:
    """cos(W[:, :, columns[i]], directions[:, :, features[i]]) per instance, (I,).

    W (I, H, D) holds atoms or encoder rows as columns; directions (I, H, F); columns, features (I,).
    """
    idx = torch.arange(W.shape[0], device=W.device)
    a = _unit_columns(W)[idx, :, columns]  # (I, H)
    b = _unit_columns(directions)[idx, :, features]  # (I, H)
    return (a * b).sum(dim=-1)


def absorption_rate(
    c: torch.Tensor, f: torch.Tensor, parent: int, child: int, parent_latent: torch.Tensor
) -> torch.Tensor:
    """P(parent's latent is silent | parent and child both active), (I,); NaN if they never co-occur.

    c (I, B, F) true coefficients, f (I, B, D) codes, parent_latent (I,) the latent matched to `parent`.
    """
    stats = SAEStatistics(f.shape[0], 0, f.shape[-1], f.device)
    stats.add_absorption(c, f, parent, child, parent_latent)
    return stats.absorption_rate()
