"""The analytic L2 attack of TMS "Superposition and Adversarial Robustness" against brute-force search.

Brute force: many random directions on the sphere ‖δ‖ = ε, then projected gradient ascent (autograd)
from the best of them. The analytic attack is a feasible perturbation, so it never beats the brute
force; where the derivation says it is optimal (one output; the dedicated model; a one-hot input whose
other outputs stay dead) the brute force must not beat it either.
"""

from __future__ import annotations

import math

import pytest
import torch

from superposition_lab import adversarial as adv
from superposition_lab import metrics
from superposition_lab.data import SparseUniform

D64 = torch.float64


def _sphere(n: int, F: int, eps: float, seed: int) -> torch.Tensor:
    """n random perturbations of norm eps, (n, F)."""
    d = torch.randn(n, F, generator=torch.Generator().manual_seed(seed), dtype=D64)
    return d / d.norm(dim=1, keepdim=True) * eps


def _ascend(objective, starts: torch.Tensor, eps: float, steps: int = 150) -> float:
    """Projected gradient ascent of objective(δ (n, F)) → (n,) on the sphere ‖δ‖ = eps; the best value."""
    d = starts.clone().requires_grad_(True)
    best = objective(d).max().item()
    for _ in range(steps):
        (grad,) = torch.autograd.grad(objective(d).sum(), d)
        with torch.no_grad():
            d += 0.05 * eps * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
            d *= eps / d.norm(dim=1, keepdim=True)
        best = max(best, objective(d).max().item())
    return best


def _brute_force_loss(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, imp: torch.Tensor, eps: float) -> float:
    """max over ‖δ‖ = eps of ℓ(x, δ) for one instance and one input x (F,): random directions + PGD."""
    F = x.shape[-1]

    def loss(d: torch.Tensor) -> torch.Tensor:
        y = adv.output(W, b, (x + d)[None])[0]  # (n, F)
        return ((x - y) ** 2 * imp[0]).sum(-1)

    d = _sphere(50_000, F, eps, seed=1)
    return _ascend(loss, d[loss(d).topk(10).indices], eps)


def _pentagon(bias: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Five unit features at 72° in two dimensions (TMS's pentagon), equal biases."""
    angle = torch.arange(5, dtype=D64) * 2 * math.pi / 5
    return torch.stack([angle.cos(), angle.sin()])[None], torch.full((1, 5), bias, dtype=D64)


def _one_hot(F: int, k: int, a: float) -> torch.Tensor:
    x = torch.zeros(1, 1, F, dtype=D64)
    x[0, 0, k] = a
    return x


def _analytic(W, b, x, imp, eps) -> tuple[float, float]:
    clean, worst = adv.worst_case_loss(W, b, x, imp, torch.tensor([eps], dtype=D64))
    return clean.item(), worst.item()


# ---------------------------------------------------------------- 1. one output: exactly optimal


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_attack_direction_is_the_best_perturbation_of_each_output(seed: int) -> None:
    """+εĜ_i raises output i (and −εĜ_i lowers it) as far as any δ with ‖δ‖ = ε can (Cauchy–Schwarz)."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(1, 2, 6, generator=g, dtype=D64)
    b = -0.2 * torch.rand(1, 6, generator=g, dtype=D64)
    x = torch.rand(1, 1, 6, generator=g, dtype=D64) * (torch.rand(1, 1, 6, generator=g) < 0.3)
    eps = 0.15

    def pre(x_: torch.Tensor) -> torch.Tensor:  # the pre-activation WᵀW x + b, (n, F); x' = ReLU of it
        return x_ @ (W[0].T @ W[0]) + b[0]

    dirs = adv.attack_directions(W)[0]  # (12, F)
    for i in range(6):
        for sign, row in ((1.0, i), (-1.0, i + 6)):
            analytic = sign * pre(x[0] + eps * dirs[row : row + 1])[0, i].item()

            def pushed(d: torch.Tensor, sign: float = sign, i: int = i) -> torch.Tensor:
                return sign * pre(x[0] + d)[:, i]

            d = _sphere(20_000, 6, eps, seed=seed + 10)
            best = _ascend(pushed, d[pushed(d).topk(5).indices], eps, steps=50)
            assert analytic >= best - 1e-9  # and ReLU is monotone, so output i follows


def test_direction_norm_is_features_per_dimension() -> None:
    """‖(WᵀW)_i‖² = ‖W_i‖⁴/D_i: the attack moves output i by ε‖W_i‖²/√D_i."""
    W = torch.randn(3, 4, 9, generator=torch.Generator().manual_seed(0), dtype=D64)
    G = torch.bmm(W.transpose(1, 2), W)
    expected = metrics.feature_norms(W) ** 4 / metrics.dimensionality(W)
    torch.testing.assert_close(G.norm(dim=-1) ** 2, expected)


def test_a_feature_nothing_reads_is_not_attacked() -> None:
    W = torch.zeros(1, 2, 3, dtype=D64)
    W[0, 0, 0] = 1.0
    dirs = adv.attack_directions(W)[0]
    assert torch.equal(dirs[1], torch.zeros(3, dtype=D64)) and torch.equal(dirs[2], torch.zeros(3, dtype=D64))
    torch.testing.assert_close(dirs[0], torch.tensor([1.0, 0.0, 0.0], dtype=D64))
    torch.testing.assert_close(dirs[3], torch.tensor([-1.0, 0.0, 0.0], dtype=D64))


# ---------------------------------------------------------------- 2. the loss: against brute force


@pytest.mark.parametrize("a", [0.05, 0.4, 1.0])
def test_dedicated_model_attack_is_the_worst_case(a: float) -> None:
    """W = [Id_m | 0], b = 0: the worst δ puts all of ε on the most important represented input,
    raising it by ε: the analytic attack finds exactly that, ε²·max I, whatever the input."""
    F, m, eps = 4, 2, 0.2
    W = torch.zeros(1, m, F, dtype=D64)
    W[0, 0, 0] = W[0, 1, 1] = 1.0
    b = torch.zeros(1, F, dtype=D64)
    imp = torch.tensor([[1.0, 0.7, 0.49, 0.34]], dtype=D64)
    x = torch.tensor([[[a, 0.3, 0.0, 0.8]]], dtype=D64)
    clean, worst = _analytic(W, b, x, imp, eps)
    assert worst - clean == pytest.approx(eps**2 * 1.0, rel=1e-12)
    assert worst == pytest.approx(_brute_force_loss(W, b, x[0, 0], imp, eps), rel=1e-6)


@pytest.mark.parametrize(("bias", "a"), [(0.0, 0.5), (-0.1, 0.8), (0.05, 1.0)])
def test_antipodal_pair_attack_is_the_worst_case(bias: float, a: float) -> None:
    """Two features in one dimension, W = [1, −1]: G has one non-null direction (1, −1), which the
    analytic attack takes; nothing on the circle does better."""
    W = torch.tensor([[[1.0, -1.0]]], dtype=D64)
    b = torch.full((1, 2), bias, dtype=D64)
    imp = torch.ones(1, 2, dtype=D64)
    x = _one_hot(2, 0, a)
    eps = 0.1
    circle = torch.linspace(0, 2 * math.pi, 20_001, dtype=D64)
    d = eps * torch.stack([circle.cos(), circle.sin()], dim=1)  # (n, 2)
    y = adv.output(W, b, (x[0, 0] + d)[None])[0]
    brute = ((x[0, 0] - y) ** 2).sum(-1).max().item()
    clean, worst = _analytic(W, b, x, imp, eps)
    assert worst == pytest.approx(brute, rel=1e-6)
    # output 0 moves by √2ε against its residual r = a − ReLU(a + b): (|r| + √2ε)² − r²
    r = abs(a - max(0.0, a + bias))
    assert worst - clean == pytest.approx(2 * eps**2 + 2 * math.sqrt(2) * eps * r, rel=1e-9)


@pytest.mark.parametrize(("bias", "a"), [(0.0, 0.3), (0.0, 1.0), (-0.1, 0.3), (-0.3, 1.0)])
def test_pentagon_small_attack_is_the_worst_case(bias: float, a: float) -> None:
    """A one-hot input to the pentagon with a small ε (the other outputs stay dead): the first-order
    analysis is exact there, and the analytic attack matches the brute-force worst case."""
    W, b = _pentagon(bias)
    imp = torch.ones(1, 5, dtype=D64)
    x = _one_hot(5, 0, a)
    clean, worst = _analytic(W, b, x, imp, 0.05)
    assert worst > clean
    assert worst == pytest.approx(_brute_force_loss(W, b, x[0, 0], imp, 0.05), rel=1e-4)


@pytest.mark.parametrize(("bias", "a", "eps"), [(-0.1, 0.3, 0.2), (-0.3, 0.3, 0.2), (0.0, 0.3, 0.2)])
def test_analytic_attack_never_beats_brute_force(bias: float, a: float, eps: float) -> None:
    """Large attacks that wake dead outputs: the analytic attack is a lower bound on the worst case
    (TMS's attack, not the optimum; 0.27–1.0 of the brute-force increase in these cases)."""
    W, b = _pentagon(bias)
    imp = torch.ones(1, 5, dtype=D64)
    x = _one_hot(5, 0, a)
    _, worst = _analytic(W, b, x, imp, eps)
    assert worst <= _brute_force_loss(W, b, x[0, 0], imp, eps) + 1e-9


def test_gradient_ascent_is_masked_where_the_analytic_attack_is_not() -> None:
    """x = 0 and b < 0: every output is dead, the loss gradient at δ = 0 is exactly zero (TMS's
    "gradient masking"), yet the analytic attack wakes output i once ε‖G_i‖ > −b_i."""
    W, b = _pentagon(-0.05)
    imp = torch.ones(1, 5, dtype=D64)
    x = torch.zeros(1, 1, 5, dtype=D64)
    delta = torch.zeros(1, 1, 5, dtype=D64, requires_grad=True)
    loss = adv.reconstruction_error(x, adv.output(W, b, x + delta), imp).sum()
    (grad,) = torch.autograd.grad(loss, delta)
    assert torch.equal(grad, torch.zeros_like(grad))
    eps = 0.1
    clean, worst = _analytic(W, b, x, imp, eps)
    G0 = (W[0].T @ W[0])[0]
    # output 0 rises to ε‖G_0‖ − 0.05; its two neighbours at 72° to ε(G²)_{0j}/‖G_0‖ − 0.05
    assert clean == 0.0 and worst > 0.0
    assert worst >= (eps * G0.norm().item() - 0.05) ** 2


# ---------------------------------------------------------------- 3. the measurement


@pytest.mark.parametrize("importance", ["uniform", "geometric"])
@pytest.mark.parametrize("density", [1.0, 0.3, 0.05])
def test_dedicated_model_vulnerability_is_one(importance: str, density: float) -> None:
    """The reference itself: (L' − L)/(ε² max I) = 1 exactly for W = [Id_m | 0], b = 0."""
    F, m = 8, 3
    W = torch.zeros(1, m, F, dtype=D64)
    W[0, torch.arange(m), torch.arange(m)] = 1.0
    imp = torch.ones(1, F, dtype=D64) if importance == "uniform" else 0.8 ** torch.arange(F, dtype=D64)[None]
    x = SparseUniform(torch.full((1, F), density)).sample(2000, torch.Generator().manual_seed(0)).to(D64)
    v = adv.vulnerability(W, torch.zeros(1, F, dtype=D64), x, imp)
    torch.testing.assert_close(v, torch.ones(1, dtype=D64))


def test_superposition_is_more_vulnerable_than_the_dedicated_model() -> None:
    """The pentagon (D_i = 2/5, ‖G_i‖² = 5/2) against the same attack: several times the dedicated
    model's increase (output i alone moves by ε√(5/2), and the clean residuals add a first-order term)."""
    W, b = _pentagon(0.0)
    x = SparseUniform(torch.full((1, 5), 0.05)).sample(4000, torch.Generator().manual_seed(0)).to(D64)
    v = adv.vulnerability(W, b, x, torch.ones(1, 5, dtype=D64)).item()
    assert v > 2.5


def test_batched_instances_are_independent() -> None:
    g = torch.Generator().manual_seed(3)
    W = torch.randn(3, 2, 5, generator=g, dtype=D64)
    b = -0.1 * torch.rand(3, 5, generator=g, dtype=D64)
    x = SparseUniform(torch.full((3, 5), 0.2)).sample(300, g).to(D64)
    imp = torch.rand(3, 5, generator=g, dtype=D64)
    together = adv.vulnerability(W, b, x, imp)
    alone = torch.cat([adv.vulnerability(W[i : i + 1], b[i : i + 1], x[i : i + 1], imp[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone)


@pytest.mark.parametrize(("output_relu", "hidden_relu"), [(True, False), (False, False), (True, True)])
def test_attacked_losses_run_the_model_forward(output_relu: bool, hidden_relu: bool) -> None:
    """attacked_losses (with its shortcut pre(x + δ) = pre(x) + Gδ without a hidden ReLU) equals
    the model's forward pass on x + εd_c, scored against x."""
    g = torch.Generator().manual_seed(4)
    W = torch.randn(2, 3, 7, generator=g, dtype=D64)
    b = -0.1 * torch.rand(2, 7, generator=g, dtype=D64)
    x = SparseUniform(torch.full((2, 7), 0.3)).sample(50, g).to(D64)
    imp = torch.rand(2, 7, generator=g, dtype=D64)
    eps = adv.attack_norm(x)
    got = adv.attacked_losses(W, b, x, imp, eps, output_relu=output_relu, hidden_relu=hidden_relu)
    d = adv.attack_directions(W) * eps[:, None, None]  # (I, C, F)
    attacked = x[:, :, None, :] + d[:, None]  # (I, B, C, F)
    y = adv.output(W, b, attacked, output_relu=output_relu, hidden_relu=hidden_relu)
    torch.testing.assert_close(got, adv.reconstruction_error(x[:, :, None, :], y, imp))


def test_attack_norm_and_features_per_dimension() -> None:
    x = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]], dtype=D64)
    torch.testing.assert_close(adv.attack_norm(x), torch.tensor([0.25], dtype=D64))  # 0.1 × mean(5, 0)
    W = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(0), dtype=D64)
    torch.testing.assert_close(adv.features_per_dimension(W), 1.0 / metrics.dstar(W))


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="W must be"):
        adv.attack_directions(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="W must be"):
        adv.output(torch.zeros(1, 2, 3), torch.zeros(1, 4), torch.zeros(1, 1, 3))
