"""What the `sae` experiment measures across dictionary sizes (`d_sae` as a grid axis).

Feature splitting (Bricken et al. 2023, "Towards Monosemanticity", Feature Splitting): a feature
with variants d0 + ε·u_k (superposition_lab.ground_truth.feature_variants) is covered by one latent
in a small dictionary and by several in a larger one. `family_latents` counts the distinct latents
that win the family's variants: each variant's direction, alone at the mean active magnitude, is
encoded, and its strongest latent is its winner. With ε = 0 the variants are one input, so they
have one winner by construction — the null against which a split is measured.

Scaling (Gao et al. 2024, arXiv:2406.04093, §3 Scaling laws): at fixed L0 (TopK's K) the
reconstruction error falls as a power of the dictionary size, FVU ∝ d_sae^b. `power_law_fit` is
the least-squares line through (log d_sae, log FVU) of one seed; its slope b, the upper end of its
95% t-interval and the R² of the line are sweep-wide metrics (one value per seed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
from scipy import stats

from verify.kind import Metric, Outcome

__all__ = ["PowerLawFit", "power_law_fit", "family_winners", "size_metrics"]

CONFIDENCE = 0.95  # two-sided level of the exponent's interval


# ---------------------------------------------------------------- feature splitting
def family_winners(response: np.ndarray) -> np.ndarray:
    """Each variant's strongest latent, (…, V) from codes (…, V, D); −1 where no latent fires."""
    return np.where(response.max(axis=-1) > 0, response.argmax(axis=-1), -1)


def _family(o: Outcome) -> np.ndarray:
    if "family_response" not in o.arrays:
        raise ValueError("this metric reads a feature family; set experiment.variants (and variant_spread)")
    return o.arrays["family_response"]  # (P, S, V, D)


def _family_latents(o: Outcome, _: Any) -> np.ndarray:
    """The number of distinct latents that win a variant, (P, S)."""
    win = family_winners(_family(o))  # (P, S, V)
    return np.array([[len(set(w[w >= 0].tolist())) for w in seed] for seed in win], dtype=float)


def _family_variant_cos(o: Outcome, _: Any) -> np.ndarray:
    """Mean over variants of cos(its winner's decoder atom, the variant's direction), (P, S); a
    variant without a winner counts 0."""
    win = family_winners(_family(o))  # (P, S, V)
    W = o.arrays["W_dec"]  # (P, S, H, D)
    V = win.shape[-1]
    dirs = o.arrays["directions"][:, :, :V]  # (S, H, V), unit columns
    atoms = np.take_along_axis(W, np.maximum(win, 0)[:, :, None, :], axis=3)  # (P, S, H, V)
    norm = np.linalg.norm(atoms, axis=2)  # (P, S, V)
    cos = np.einsum("pshv,shv->psv", atoms, dirs) / np.maximum(norm, 1e-12)
    return np.where(win >= 0, cos, 0.0).mean(axis=-1)


# ---------------------------------------------------------------- scaling
@attrs.frozen
class PowerLawFit:
    """y ≈ a·x^b fitted by least squares on (log x, log y): slope b, its standard error, R²."""

    exponent: float
    stderr: float
    r2: float
    n: int

    def upper(self, confidence: float = CONFIDENCE) -> float:
        """Upper end of the two-sided `confidence` t-interval of the exponent (n − 2 degrees of freedom)."""
        return self.exponent + float(stats.t.ppf(0.5 + confidence / 2, self.n - 2)) * self.stderr


def power_law_fit(x: np.ndarray, y: np.ndarray) -> PowerLawFit:
    """The log-log least-squares line through ≥ 3 points (x, y > 0; NaN if any y ≤ 0)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3:
        raise ValueError(f"a power-law fit with an interval needs at least 3 points (got {x.size})")
    if (y <= 0).any() or not np.isfinite(y).all():
        return PowerLawFit(np.nan, np.nan, np.nan, x.size)
    res = stats.linregress(np.log(x), np.log(y))
    return PowerLawFit(float(res.slope), float(res.stderr), float(res.rvalue**2), x.size)


def _sizes(o: Outcome) -> np.ndarray:
    if not o.points or "d_sae" not in o.points[0]:
        raise ValueError("this metric fits across dictionary sizes; make experiment.d_sae a list")
    return np.array([p["d_sae"] for p in o.points], dtype=float)


def _fit(read: Callable[[PowerLawFit], float]) -> Callable[[Outcome, Any], np.ndarray]:
    """A sweep-wide metric from the per-seed fit of FVU against d_sae, repeated at every point."""

    def metric(o: Outcome, _: Any) -> np.ndarray:
        d, fvu = _sizes(o), o.arrays["fvu"]  # (P,), (P, S)
        if len(np.unique(d)) != len(d):
            raise ValueError("a fit across d_sae needs d_sae as the only grid axis")
        values = np.array([read(power_law_fit(d, fvu[:, s])) for s in range(fvu.shape[1])])
        return np.broadcast_to(values, fvu.shape).copy()

    return metric


size_metrics: dict[str, Metric] = {
    "family_latents": Metric(
        _family_latents,
        "distinct latents that win the feature family's variants (each variant alone at the mean magnitude)",
    ),
    "family_variant_cos": Metric(
        _family_variant_cos, "mean over the family's variants of cos(its winning latent's atom, the variant)"
    ),
    "scaling_exponent": Metric(
        _fit(lambda f: f.exponent),
        "b of FVU ∝ d_sae^b, least squares in log-log over the d_sae grid",
        True,
    ),
    "scaling_exponent_upper": Metric(
        _fit(lambda f: f.upper()), "upper end of the 95% t-interval of scaling_exponent", True
    ),
    "scaling_r2": Metric(_fit(lambda f: f.r2), "R² of that log-log line (1: an exact power law)", True),
}
