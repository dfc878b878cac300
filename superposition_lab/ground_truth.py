"""Ground-truth activations for SAEs: known feature directions, sparse coefficients, hierarchy.

Sharkey et al. 2022 ("Taking features out of superposition with sparse autoencoders", toy data)
test dictionary learning where, unlike on a language model, the true features
are known: an activation is x = Σ_i c_i d_i with n unit directions d_i in R^m (m < n for
superposition) and sparse non-negative coefficients c_i. Chanin et al. 2024 ("A is for Absorption",
arXiv:2409.14507, toy-model section) add a hierarchy: a child feature fires only when its parent
fires — the setting in which an L1 SAE absorbs the parent into the child's latent. Bricken et al.
2023 ("Towards Monosemanticity", Feature Splitting) see one feature split into several latents as
the dictionary grows; `feature_variants` makes a feature with variants d0 + ε·u_k to test it on.

Directions are stored like toy-model weights: D is (I, H, F) with feature i's unit direction d_i in
column i (H = m dims, F = n features). Every draw goes through an explicit `torch.Generator`.
"""

from __future__ import annotations

import attrs
import torch

from superposition_lab.data import SparseUniform

__all__ = ["feature_directions", "feature_variants", "GroundTruth"]


def feature_directions(
    n_instances: int,
    n_dims: int,
    n_features: int,
    *,
    kind: str = "random",
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Unit feature directions D (I, H, F), one independent draw per instance.

    random:     Gaussian columns normalised to unit length (near-orthogonal when n ≪ e^m);
    orthogonal: orthonormal columns (QR of a Gaussian matrix), needs n ≤ m.
    """
    g = torch.randn((n_instances, n_dims, n_features), generator=generator, device=device, dtype=torch.float64)
    if kind == "random":
        D = g / g.norm(dim=1, keepdim=True)
    elif kind == "orthogonal":
        if n_features > n_dims:
            raise ValueError(f"orthogonal directions need n_features <= n_dims (got {n_features} > {n_dims})")
        Q, R = torch.linalg.qr(g)  # (I, H, F), (I, F, F)
        D = Q * torch.sign(torch.diagonal(R, dim1=1, dim2=2))[:, None, :]  # a unique, Haar-distributed Q
    else:
        raise ValueError(f"unknown direction kind {kind!r} (random, orthogonal)")
    return D.to(dtype)


def feature_variants(directions: torch.Tensor, variants: int, spread: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A feature family: (I, H, F + 1) unit directions → (features (I, H, F), d0 (I, H)).

    Column 0 is the family's direction d0; columns 1 … V are turned into unit offsets u_k ⟂ d0
    (Gram–Schmidt against d0 — exact for orthonormal input), and the first V features become the
    variants (d0 + ε·u_k)/√(1 + ε²) — each at cosine 1/√(1 + ε²) with d0 and, for orthonormal u_k,
    1/(1 + ε²) with each other. The other F − V features are columns V + 1 … F unchanged. With ε = 0
    every variant is d0 itself: one direction, nothing for a wider dictionary to split (Bricken et
    al. 2023, Feature Splitting: a family of nearby features that a small dictionary covers with
    one latent and a larger one with several).
    """
    n = directions.shape[-1] - 1
    if not 1 <= variants <= n:
        raise ValueError(f"variants must be in [1, {n}] (got {variants})")
    d0 = directions[:, :, 0]  # (I, H)
    u = directions[:, :, 1 : variants + 1]  # (I, H, V)
    u = u - d0[:, :, None] * torch.einsum("ih,ihv->iv", d0, u)[:, None, :]  # ⟂ d0
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    family = (d0[:, :, None] + spread * u) / (1.0 + spread**2) ** 0.5  # (I, H, V)
    return torch.cat([family, directions[:, :, variants + 1 :]], dim=2), d0


@attrs.define
class GroundTruth:
    """x = D c with sparse coefficients c: the data an SAE is trained on, shape (I, B, H).

    directions: D (I, H, F), unit columns.
    firing:     (I, F), the probability that feature i fires — given that its parent fires when it
                has one (so a child with firing q under a parent with firing p fires w.p. p·q).
    parents:    parent index per feature, −1 for none; a parent must come before its children.
    magnitude:  "uniform" — an active c_i ~ U[lo, hi] (the TMS distribution for lo, hi = 0, 1);
                "constant" — an active c_i = hi (Chanin et al.'s toy features fire at 1).
    """

    directions: torch.Tensor
    firing: torch.Tensor
    parents: tuple[int, ...] = ()
    magnitude: str = attrs.field(default="uniform", validator=attrs.validators.in_(("uniform", "constant")))
    lo: float = 0.0
    hi: float = 1.0
    _unit: SparseUniform = attrs.field(init=False, repr=False, eq=False)  # the draw of U[0, 1] coefficients

    def __attrs_post_init__(self) -> None:
        n = self.directions.shape[-1]
        if self.firing.shape != (self.directions.shape[0], n):
            raise ValueError(
                f"firing must be (instances, features) = {(self.directions.shape[0], n)}, "
                f"got {tuple(self.firing.shape)}"
            )
        if self.parents and len(self.parents) != n:
            raise ValueError(f"parents: need one entry per feature ({n}), got {len(self.parents)}")
        for child, parent in enumerate(self.parents):
            if not -1 <= parent < child:
                raise ValueError(f"parents: feature {child}'s parent {parent} must be −1 or an earlier feature")
        if not 0.0 <= self.lo <= self.hi:
            raise ValueError(f"need 0 <= lo <= hi, got lo={self.lo}, hi={self.hi}")
        self._unit = SparseUniform(self.firing)

    @property
    def n_features(self) -> int:
        return self.directions.shape[-1]

    def coefficients(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Sparse non-negative coefficients c, (I, B, F) (possibly a strided view).

        Independent features with magnitudes U[0, hi] are `SparseUniform`'s exact fast draw scaled by
        hi. Otherwise one uniform u per entry decides both: the entry fires iff u < p, and then u/p is
        U[0, 1) — exact, and half the random numbers of drawing the mask and the value apart.
        """
        if not self.parents and self.magnitude == "uniform" and self.lo == 0.0:
            c = self._unit.sample_feature_major(batch_size, generator).transpose(1, 2)  # (I, B, F)
            return c if self.hi == 1.0 else c.mul_(self.hi)
        n_instances, n_features = self.firing.shape
        u = torch.rand(
            (n_instances, batch_size, n_features),
            generator=generator,
            device=self.firing.device,
            dtype=self.firing.dtype,
        )  # (I, B, F)
        p = self.firing[:, None, :]  # (I, 1, F)
        on = u < p
        for child, parent in enumerate(self.parents):  # parents come first, so one pass suffices
            if parent >= 0:
                on[..., child] &= on[..., parent]
        if self.magnitude == "constant":
            return on.to(self.firing.dtype) * self.hi
        scale = torch.where(p > 0, (self.hi - self.lo) / p.clamp_min(1e-30), 0.0)  # p = 0: never fires
        return u.mul_(scale).add_(self.lo).mul_(on)  # lo + (hi − lo)·u/p, U[lo, hi) where the entry fires

    def activations(self, c: torch.Tensor) -> torch.Tensor:
        """x = D c for coefficients (I, B, F) → (I, B, H)."""
        return torch.bmm(c, self.directions.transpose(1, 2))  # (I, B, F) @ (I, F, H)

    def sample_with_coefficients(
        self, batch_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(c, x): the coefficients (I, B, F) and the activations they make (I, B, H)."""
        c = self.coefficients(batch_size, generator)
        return c, self.activations(c)

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Activations x (I, B, H) — the `Sampler` protocol the trainer uses."""
        return self.sample_with_coefficients(batch_size, generator)[1]

    def marginal_firing(self) -> torch.Tensor:
        """P(feature i fires), (I, F): the product of the conditional rates up its chain of parents."""
        p = self.firing.clone()
        for child, parent in enumerate(self.parents):
            if parent >= 0:
                p[:, child] = p[:, child] * p[:, parent]
        return p
