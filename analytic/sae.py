"""Closed forms for L1 sparse autoencoders on known toy data: soft thresholding and shrinkage.

Sources: Rajamanoharan et al. 2024, "Improving Dictionary Learning with Gated Sparse Autoencoders"
(arXiv:2404.16014), on shrinkage — the L1 penalty makes standard SAEs systematically underestimate
feature activations — which it measures by the relative reconstruction bias γ = E‖x̂‖² / E[x·x̂]
(γ < 1: the SAE under-reconstructs); Wright & Sharkey 2024, "Addressing Feature Suppression in
SAEs", on the same effect.

Convention of this project. Per sample the L1 SAE loss is ‖x − x̂‖² + λ‖f‖₁ (squared error summed
over dims, NOT halved), with f = ReLU(W_enc(x − b_dec) + b_enc), x̂ = W_dec f + b_dec and unit-norm
decoder atoms.

Toy data: orthogonal 1-sparse. With probability p (the density) a sample is x = a·d_i for one
feature i, with d_i a unit direction and coefficient a ~ U[lo, hi], 0 ≤ lo < hi; otherwise x = 0.
The dictionary is exactly aligned (atom i = d_i) and b_dec = 0.

Derivation. The code for x = a·d_i minimises (a − f)² + λ f over f ≥ 0; the derivative
−2(a − f) + λ vanishes at f = a − λ/2, so the optimum is the soft threshold with threshold t = λ/2:

    f*(a) = (a − λ/2)₊

(with the halved convention ½‖x − x̂‖² + λ‖f‖₁ it would be (a − λ)₊). The encoder attains it:
W_enc row i = d_i, b_enc,i = −λ/2. Every expectation below is one integral of (a − t)₊ over U[lo, hi];
zero samples (x = 0) give f = 0 and add nothing, so the density p scales L0 and MSE and cancels in γ.

Many features. With orthonormal d_1..d_n, aligned atoms and the encoder above, f_i = (a_i − t)₊
depends on feature i alone, even when several features fire together: the SAE loss is a sum over
features. L0 and MSE add over features (times n for identical features) and γ is the ratio of the
summed numerators and denominators — the one-feature γ when all features share U[lo, hi].
TopK, Gated and JumpReLU SAEs that recover the support exactly and leave magnitudes unpenalised
reconstruct x̂ = x here, so their γ is exactly 1.

A learned decoder bias. The forms above fix b_dec = 0. A trained SAE also learns b_dec, and under
the L1 penalty the optimum moves it: b_dec = Σ_i c d_i with c > 0 lets every active code be smaller
by c (saving λc of penalty) at the price of c² on each sample where the feature is off. With
independent features of density p on orthonormal directions the problem still splits per feature:

    c* = argmin_c (1 − p) c² + p E[ℓ(a − c)],   ℓ(a') = min_{f ≥ 0} (a' − f)² + λ f,

with code f = (a − c − λ/2)₊ and x̂ = (c + f) d_i. ℓ is convex (a'² below λ/2, λa' − λ²/4 above), so
c* is the root in [0, hi] of the increasing derivative 2(1 − p)c − p E[ℓ'(a − c)], where with
u = clip(c + λ/2, lo, hi): E[ℓ'(a − c)] = ((u − c)² − (lo − c)² + λ(hi − u)) / (hi − lo).
The `*_learned_bias` functions below evaluate γ, L0 and MSE at (c*, λ/2); the zero samples now
count (they reconstruct to c d_i), so these depend on p. c* is small for sparse features (≈ 0.02 at
λ = 0.4, p = 0.1, U[0, 1]) but moves γ visibly; at p = 1 no zero sample charges for the bias and it
grows large (c* ≈ 0.46 at λ = 0.5).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

__all__ = [
    "l1_optimal_code",
    "relative_reconstruction_bias",
    "l1_gamma_uniform",
    "l1_expected_l0",
    "l1_expected_mse",
    "l1_expected_loss",
    "l1_decoder_bias",
    "l1_gamma_learned_bias",
    "l1_expected_l0_learned_bias",
    "l1_expected_mse_learned_bias",
    "l1_expected_loss_learned_bias",
]


def l1_optimal_code(a: float | np.ndarray, lam: float | np.ndarray) -> np.ndarray:
    """The optimal L1 code f*(a) = (a − λ/2)₊ = argmin_{f ≥ 0} (a − f)² + λ f."""
    a = np.asarray(a, dtype=float)
    lam = np.asarray(lam, dtype=float)
    if np.any(lam < 0):
        raise ValueError("the L1 coefficient lam must be >= 0")
    return np.maximum(a - lam / 2.0, 0.0)


def relative_reconstruction_bias(x: np.ndarray, x_hat: np.ndarray) -> float:
    """γ = E‖x̂‖² / E[x·x̂] over samples, for x, x_hat of shape (samples, dims).

    The rescaling c·x̂ that best reconstructs x has c = E[x·x̂]/E‖x̂‖² = 1/γ, so γ < 1 means x̂ is
    too short: shrinkage. x̂ = c·x gives γ = c exactly. NaN when E[x·x̂] = 0 (e.g. x̂ ≡ 0).
    """
    x = np.asarray(x, dtype=float)
    x_hat = np.asarray(x_hat, dtype=float)
    if x.shape != x_hat.shape or x.ndim != 2:
        raise ValueError(f"x and x_hat must both be (samples, dims), got {x.shape} and {x_hat.shape}")
    num = np.einsum("bd,bd->", x_hat, x_hat)
    den = np.einsum("bd,bd->", x, x_hat)
    return float(num / den) if den != 0 else float("nan")


# Integrals over a ~ U[lo, hi] with threshold t = λ/2 and u = clip(t, lo, hi) (the code is
# nonzero for a in (u, hi]). Each returns the per-active-sample expectation.


def _check_range(lo: float, hi: float) -> None:
    if not 0.0 <= lo < hi:
        raise ValueError(f"need 0 <= lo < hi for a ~ U[lo, hi], got lo={lo}, hi={hi}")


def _threshold(lam: float | np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    _check_range(lo, hi)
    lam = np.asarray(lam, dtype=float)
    if np.any(lam < 0):
        raise ValueError("the L1 coefficient lam must be >= 0")
    t = lam / 2.0
    return t, np.clip(t, lo, hi)


def _code_sq(t: np.ndarray, u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """E[f²] = ∫_u^hi (a − t)² da / L = ((hi − t)³ − (u − t)³) / 3L, L = hi − lo."""
    return ((hi - t) ** 3 - (u - t) ** 3) / (3.0 * (hi - lo))


def _code_times_a(t: np.ndarray, u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """E[a f] = ∫_u^hi a (a − t) da / L = ((hi³ − u³)/3 − t (hi² − u²)/2) / L."""
    return ((hi**3 - u**3) / 3.0 - t * (hi**2 - u**2) / 2.0) / (hi - lo)


def _code_mean(t: np.ndarray, u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """E[f] = ∫_u^hi (a − t) da / L = ((hi − t)² − (u − t)²) / 2L."""
    return ((hi - t) ** 2 - (u - t) ** 2) / (2.0 * (hi - lo))


def l1_gamma_uniform(lam: float | np.ndarray, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Shrinkage γ = E[f²] / E[a f] of the soft-threshold code when the active a ~ U[lo, hi].

    With t = λ/2 and u = clip(t, lo, hi), L = hi − lo:
        E[f²]  = ((hi − t)³ − (u − t)³) / 3L,
        E[a f] = ((hi³ − u³)/3 − t (hi² − u²)/2) / L.
    For U[0, 1] and λ ≤ 2 this is γ = 2(1 − t)/(2 + t) = 2(2 − λ)/(4 + λ): 1 at λ = 0, 1 − 3λ/4 to
    first order, strictly decreasing. When λ/2 ≥ hi no code is ever active and γ is 0/0; we return
    the limit from below, 0. Independent of the density (zero samples add 0 to both terms).
    """
    t, u = _threshold(lam, lo, hi)
    num = _code_sq(t, u, lo, hi)
    den = _code_times_a(t, u, lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):  # the t ≥ hi branch is replaced by 0 below
        return np.where(t < hi, num / np.where(t < hi, den, 1.0), 0.0)


def l1_expected_l0(lam: float | np.ndarray, lo: float = 0.0, hi: float = 1.0, density: float = 1.0) -> np.ndarray:
    """Expected L0 per sample = p · P(a > λ/2) = p · (hi − u)/(hi − lo); for U[0, 1]: p(1 − λ/2)₊."""
    t, u = _threshold(lam, lo, hi)
    return density * (hi - u) / (hi - lo)


def l1_expected_mse(lam: float | np.ndarray, lo: float = 0.0, hi: float = 1.0, density: float = 1.0) -> np.ndarray:
    """Expected ‖x − x̂‖² per sample = p · E[min(a, λ/2)²] (the residual is a below t, t above).

    = p · ((u³ − lo³)/3 + t² (hi − u)) / (hi − lo) with t = λ/2, u = clip(t, lo, hi);
    for U[0, 1] and λ ≤ 2: p(λ²/4 − λ³/12).
    """
    t, u = _threshold(lam, lo, hi)
    return density * ((u**3 - lo**3) / 3.0 + t**2 * (hi - u)) / (hi - lo)


def l1_expected_loss(lam: float | np.ndarray, lo: float = 0.0, hi: float = 1.0, density: float = 1.0) -> np.ndarray:
    """Expected SAE loss per sample at the optimum, E‖x − x̂‖² + λ E‖f‖₁ = MSE + p λ E[(a − λ/2)₊]."""
    t, u = _threshold(lam, lo, hi)
    return l1_expected_mse(lam, lo, hi, density) + density * 2.0 * t * _code_mean(t, u, lo, hi)


# ---------------------------------------------------------------- with a learned decoder bias


def _decoder_bias_scalar(lam: float, density: float, lo: float, hi: float) -> float:
    """The optimal per-feature decoder-bias component c* for one λ (see the module docstring)."""
    p, t, L = density, lam / 2.0, hi - lo
    if p <= 0.0:
        return 0.0

    def slope(c: float) -> float:  # d/dc of (1 − p)c² + p E[ℓ(a − c)], increasing in c
        u = min(max(c + t, lo), hi)
        return 2.0 * (1.0 - p) * c - p * ((u - c) ** 2 - (lo - c) ** 2 + lam * (hi - u)) / L

    if slope(0.0) >= 0.0:  # only when λ = 0 and nothing is gained: the bias stays at 0
        return 0.0
    return float(brentq(slope, 0.0, hi, xtol=1e-14, rtol=1e-14))


def l1_decoder_bias(lam: float | np.ndarray, density: float, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """c*: the component of the optimal learned b_dec along each feature direction (b_dec = Σ_i c* d_i)."""
    _threshold(lam, lo, hi)
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must lie in [0, 1], got {density}")
    return np.vectorize(lambda x: _decoder_bias_scalar(float(x), density, lo, hi), otypes=[float])(lam)


def _shifted_threshold(lam: float | np.ndarray, density: float, lo: float, hi: float):
    """(c, t, shifted threshold t' = c + t, u' = clip(t', lo, hi)) for the code f = (a − t')₊."""
    c = l1_decoder_bias(lam, density, lo, hi)
    t = np.asarray(lam, dtype=float) / 2.0
    return c, t, c + t, np.clip(c + t, lo, hi)


def l1_gamma_learned_bias(lam: float | np.ndarray, density: float, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """γ of the L1 SAE at its optimum with a learned decoder bias, per feature (= overall).

    x̂ = (c + f) d_i with f = (a − c − λ/2)₊ when the feature fires (prob. p), x̂ = c d_i when not:
        γ = [(1 − p) c² + p (c² + 2c E f + E f²)] / [p (c E a + E[a f])].
    """
    p = density
    c, _, t_shifted, u_shifted = _shifted_threshold(lam, density, lo, hi)
    Ef = _code_mean(t_shifted, u_shifted, lo, hi)
    Ef2 = _code_sq(t_shifted, u_shifted, lo, hi)
    Eaf = _code_times_a(t_shifted, u_shifted, lo, hi)
    num = (1.0 - p) * c**2 + p * (c**2 + 2.0 * c * Ef + Ef2)
    den = p * (c * (lo + hi) / 2.0 + Eaf)
    return num / den


def l1_expected_l0_learned_bias(
    lam: float | np.ndarray, density: float, lo: float = 0.0, hi: float = 1.0
) -> np.ndarray:
    """Expected L0 per feature = p · P(a > c + λ/2)."""
    _, _, _, u_shifted = _shifted_threshold(lam, density, lo, hi)
    return density * (hi - u_shifted) / (hi - lo)


def l1_expected_mse_learned_bias(
    lam: float | np.ndarray, density: float, lo: float = 0.0, hi: float = 1.0
) -> np.ndarray:
    """Expected ‖x − x̂‖² per feature = (1 − p) c² + p E[min(a − c, λ/2)²]."""
    p = density
    c, t, _, u_shifted = _shifted_threshold(lam, density, lo, hi)
    on = ((u_shifted - c) ** 3 - (lo - c) ** 3) / 3.0 + t**2 * (hi - u_shifted)
    return (1.0 - p) * c**2 + p * on / (hi - lo)


def l1_expected_loss_learned_bias(
    lam: float | np.ndarray, density: float, lo: float = 0.0, hi: float = 1.0
) -> np.ndarray:
    """Expected SAE loss per feature at the optimum: MSE + λ p E[(a − c − λ/2)₊]."""
    _, t, t_shifted, u_shifted = _shifted_threshold(lam, density, lo, hi)
    penalty = density * 2.0 * t * _code_mean(t_shifted, u_shifted, lo, hi)  # λ p E[f]
    return l1_expected_mse_learned_bias(lam, density, lo, hi) + penalty
