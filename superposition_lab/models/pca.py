"""The principal-component dictionary: the best rank-d linear code, a non-sparse reference for SAEs.

Sharkey et al. 2022 ("Taking features out of superposition with sparse autoencoders", interim
report) compare learned dictionaries against the data's principal directions: PCA reconstructs as
well as any rank-d linear map can (Eckart–Young), yet with dense codes, and with more true features
than dimensions (n > m) its orthogonal directions cannot line up with the features — so feature
recovery by an SAE is the sparse code's doing, not the dimension count's. The dictionary is fitted
in closed form, not trained:

    x̄ = E x,   C = E (x − x̄)(x − x̄)ᵀ = V Λ Vᵀ,   f = V_dᵀ (x − x̄),   x̂ = V_d f + x̄,

with V_d the eigenvectors of the top d eigenvalues (descending). It carries the attribute names of an
SAE (`W_dec`, `W_enc`, `b_dec`, `b_enc`, `encode`, `decode`, `dead_history`; superposition_lab/models/sae.py),
so that one evaluation reads both: atom j is column j of W_dec, W_enc = W_dec, b_dec = x̄, b_enc = 0.

Shapes: I instances, B samples, H = m input dims, d ≤ m components.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PCADictionary"]


class PCADictionary(nn.Module):
    """The top-d principal directions of each instance's sample x (I, B, H) as a dictionary."""

    def __init__(self, x: torch.Tensor, d: int) -> None:
        super().__init__()
        if x.ndim != 3 or not 1 <= d <= x.shape[-1]:
            raise ValueError(f"need x (I, B, H) and 1 <= d <= H, got shape {tuple(x.shape)} and d = {d}")
        mean = x.mean(dim=1)  # (I, H)
        centred = x - mean[:, None]
        cov = torch.einsum("ibh,ibk->ihk", centred, centred) / x.shape[1]  # (I, H, H)
        _, vecs = torch.linalg.eigh(cov)  # eigenvalues ascending
        top = vecs.flip(-1)[..., :d]  # (I, H, d): the top-d principal directions
        self.W_dec, self.W_enc = top, top.clone()
        self.b_dec = mean
        self.b_enc = torch.zeros(top.shape[0], d, dtype=top.dtype, device=top.device)
        self.dead_history: list[tuple[int, list[float]]] = []  # fitted, not trained: nothing to record

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """f = V_dᵀ (x − x̄), (I, B, d) for x (I, B, H)."""
        return torch.bmm(x - self.b_dec[:, None], self.W_enc)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """x̂ = V_d f + x̄, (I, B, H) for f (I, B, d)."""
        return torch.bmm(f, self.W_dec.transpose(1, 2)) + self.b_dec[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
