"""L1 SAE (Bricken et al. 2023): hand-computed forward and loss, per-instance λ, resampling."""

from __future__ import annotations

import pytest
import torch

from superposition_lab.models import L1SAE
from superposition_lab.models.sae_l1 import resample_weights
from superposition_lab.train import TrainConfig
from tests.superposition_lab.models.hand_gradient import assert_hand_gradient_is_autograds, assert_same_training, pair


def tiny(penalty=0.5, **kw) -> L1SAE:
    """One instance, m = 2, two latents with atoms e1, e2 and the encoder = identity."""
    m = L1SAE(1, 2, 2, generator=torch.Generator().manual_seed(0), penalty=penalty, **kw)
    with torch.no_grad():
        m.W_dec.copy_(torch.eye(2)[None])
        m.W_enc.copy_(torch.eye(2)[None])
        m.b_enc.copy_(torch.tensor([[-0.25, 0.0]]))
        m.b_dec.zero_()
    return m


def test_hand_computed_forward_and_loss() -> None:
    m = tiny()
    x = torch.tensor([[[1.0, -0.5], [0.2, 0.3]]])  # (1, 2, 2)
    f = m.encode(x)
    # f = ReLU(x + b_enc): [0.75, 0] and [0, 0.3]
    torch.testing.assert_close(f, torch.tensor([[[0.75, 0.0], [0.0, 0.3]]]))
    terms = m.loss_terms(x)
    # errors: (0.25, −0.5) → 0.3125 and (0.2, 0) → 0.04; mean 0.17625. L1: λ·mean(0.75, 0.3) = 0.2625
    torch.testing.assert_close(terms["mse"], torch.tensor([0.17625]))
    torch.testing.assert_close(terms["l1"], torch.tensor([0.2625]))


def test_soft_threshold_is_the_code_for_aligned_atoms() -> None:
    # with b_enc = −λ/2 the code is the closed-form optimum (a − λ/2)₊ of analytic/sae.py
    lam = 0.6
    m = tiny(penalty=lam)
    with torch.no_grad():
        m.b_enc.fill_(-lam / 2)
    a = torch.linspace(0, 1, 11)
    x = torch.stack([a, torch.zeros_like(a)], dim=-1)[None]  # (1, 11, 2)
    torch.testing.assert_close(m.encode(x)[0, :, 0], torch.clamp(a - lam / 2, min=0))


def test_penalty_is_per_instance() -> None:
    m = L1SAE(3, 4, 5, generator=torch.Generator().manual_seed(1), penalty=[0.0, 0.1, 0.2])
    x = torch.rand(3, 6, 4, generator=torch.Generator().manual_seed(2))
    l1 = m.loss_terms(x)["l1"]
    norm = m.encode(x).sum(-1).mean(1)
    torch.testing.assert_close(l1, torch.tensor([0.0, 0.1, 0.2]) * norm)


def test_resampling_revives_dead_latents_from_high_loss_inputs() -> None:
    m = tiny(dead_window=2, resample_at=[2])
    with torch.no_grad():
        m.b_enc[0, 1] = -10.0  # latent 1 is dead
    x = torch.tensor([[[0.5, 0.0], [0.0, 0.9]]])  # the second input is lost entirely: the high-loss one
    for _ in range(2):
        m.loss_terms(x)
        m.after_step()  # step 2 is a resampling step
    assert m.resampled == [(2, [1])]
    # the revived atom points along the unexplained input e2; encoder row: same direction at the mean
    # alive encoder norm × 0.2; encoder bias 0; its dead counter is reset
    torch.testing.assert_close(m.W_dec[0, :, 1], torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(m.W_enc[0, :, 1], torch.tensor([0.0, 0.2]))
    assert m.b_enc[0, 1] == 0.0 and int(m.steps_since_fired[0, 1]) == 0
    torch.testing.assert_close(m.W_dec[0, :, 0], torch.tensor([1.0, 0.0]))  # alive latent untouched
    assert m.encode(x)[0, 1, 1] > 0  # it fires again


def test_resampling_from_the_residual_and_scale() -> None:
    m = tiny(dead_window=1, resample_at=[1], resample_from="residual", resample_scale=1.0)
    with torch.no_grad():
        m.b_enc[0, 1] = -10.0
        m.b_dec.copy_(torch.tensor([[0.0, 0.3]]))
    x = torch.tensor([[[0.0, 1.0]]])  # residual x − x̂ = (0, 0.7) (latent 0 silent, b_dec = 0.3 e2)
    m.loss_terms(x)
    m.after_step()
    torch.testing.assert_close(m.W_dec[0, :, 1], torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(m.W_enc[0, :, 1], torch.tensor([0.0, 1.0]))


def dead_third(**kw) -> L1SAE:
    """One instance, m = 2, three latents: 0 and 1 alive (atoms e1, e2; encoder rows of norm 2 and 1),
    2 dead (not fired for a whole window)."""
    m = L1SAE(1, 2, 3, generator=torch.Generator().manual_seed(0), dead_window=5, **kw)
    with torch.no_grad():
        m.W_dec.copy_(torch.tensor([[[1.0, 0.0, 0.6], [0.0, 1.0, 0.8]]]))
        m.W_enc.copy_(torch.tensor([[[2.0, 0.0, 0.3], [0.0, 1.0, 0.4]]]))
        m.b_enc.copy_(torch.tensor([[0.0, 0.0, -5.0]]))
        m.b_dec.copy_(torch.tensor([[0.1, 0.0]]))
    m.steps_since_fired[0, 2] = 5
    return m


def test_resampling_follows_the_published_recipe() -> None:
    """Bricken et al. 2023, "Neuron Resampling": atom = the chosen input normalised (the input itself, not
    centred by b_dec), encoder row = that × 0.2 × the mean alive encoder norm, encoder bias 0."""
    m = dead_third()
    # x̂ = W_dec ReLU(W_enc (x − b_dec)) + b_dec: x = b_dec = (0.1, 0) is reconstructed exactly (loss 0);
    # x = (3.1, 4) gives codes (6, 4), x̂ = (6.1, 4), loss 3² = 9 — the only input that can be drawn
    x = torch.tensor([[[0.1, 0.0], [3.1, 4.0], [0.1, 0.0]]])
    x_hat = m.decode(m.encode(x))
    loss = ((x - x_hat) ** 2).sum(-1)
    torch.testing.assert_close(loss, torch.tensor([[0.0, 9.0, 0.0]]))
    torch.testing.assert_close(resample_weights(x, x_hat), loss**2)  # ∝ the square of the loss
    revived = m.resample(x)
    assert revived.tolist() == [[False, False, True]] and m.resampled == [(0, [1])]
    unit = torch.tensor([3.1, 4.0]) / torch.tensor([3.1, 4.0]).norm()
    torch.testing.assert_close(m.W_dec[0, :, 2], unit)
    torch.testing.assert_close(m.W_enc[0, :, 2], unit * 0.2 * (2.0 + 1.0) / 2)  # mean alive norm 1.5
    assert m.b_enc[0, 2] == 0.0 and int(m.steps_since_fired[0, 2]) == 0
    # the alive latents are untouched
    torch.testing.assert_close(m.W_dec[0, :, :2], torch.eye(2))
    torch.testing.assert_close(m.W_enc[0, :, :2], torch.diag(torch.tensor([2.0, 1.0])))


def test_resampling_draws_inputs_with_probability_proportional_to_the_squared_loss() -> None:
    # with the alive latents silenced x̂ = b_dec = 0, so input a's loss is 1 and b's is 2: weights 1 : 4
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0**0.5])
    x = torch.stack([a, b])[None]  # (1, 2, 2)
    m = dead_third()
    with torch.no_grad():
        m.b_enc.fill_(-5.0)
        m.b_dec.zero_()
    hits, trials = 0, 600
    for _ in range(trials):
        with torch.no_grad():
            m.b_enc[0, 2] = -5.0  # silent and dead again, so every draw sees the same losses
        m.steps_since_fired[0, 2] = 5
        m.resample(x)
        hits += bool(torch.allclose(m.W_dec[0, :, 2], torch.tensor([0.0, 1.0])))
    assert abs(hits / trials - 0.8) < 0.05  # P(b) = 4 / (1 + 4), sd ≈ 0.016 (∝ the loss itself: 2/3)


def test_resampling_uses_each_input_once_and_leaves_extra_dead_latents_for_later() -> None:
    m = L1SAE(1, 2, 4, generator=torch.Generator().manual_seed(0), dead_window=1)
    with torch.no_grad():
        m.b_enc.fill_(-10.0)  # all four dead; x̂ = b_dec = 0
        m.b_dec.zero_()
    m.steps_since_fired.fill_(1)
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])  # two inputs with a loss, one without
    revived = m.resample(x)
    assert int(revived.sum()) == 2  # two distinct inputs for two latents; no input for the other two
    atoms = m.W_dec[0][:, revived[0]].T
    assert {tuple(a.round().tolist()) for a in atoms} == {(1.0, 0.0), (0.0, 1.0)}
    assert (m.dead_mask() == ~revived).all()  # the two without an input stay dead until next time


def test_resampling_draws_from_the_last_pool_of_training_inputs() -> None:
    m = L1SAE(1, 2, 2, generator=torch.Generator().manual_seed(0), dead_window=1, resample_at=[3], resample_pool=2)
    with torch.no_grad():
        m.b_enc.copy_(torch.tensor([[0.0, -10.0]]))  # latent 1 dead
    batches = [torch.tensor([[[0.0, 5.0]]]), torch.tensor([[[0.0, 0.0]]]), torch.tensor([[[0.0, 0.0]]])]
    m.W_dec.data[0, :, 0] = torch.tensor([1.0, 0.0])
    m.W_enc.data[0, :, 0] = torch.tensor([1.0, 0.0])
    # step 1's input (the only one with a loss) has left the pool of the last 2 by step 3: nothing to draw
    for x in batches:
        m.loss_terms(x)
        m.after_step()
    assert m.resampled == [(3, [0])] and bool(m.dead_mask()[0, 1])


def test_resampling_resets_the_adam_moments_of_what_it_reinitialises() -> None:
    m = dead_third()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.0)
    m.bind_optimizer(opt)
    x = torch.tensor([[[0.1, 0.0], [3.1, 4.0]]])
    for _ in range(2):  # fill the moments (the silent latent 2 gets no gradient of its own: add some)
        opt.zero_grad()
        sum(m.loss_terms(x).values()).sum().backward()
        for p in (m.W_dec, m.W_enc, m.b_enc):
            p.grad += 0.1  # every entry has a moment to reset
        opt.step()
    m.steps_since_fired[0, 2] = 5
    m.resample(x)
    for p in (m.W_dec, m.W_enc, m.b_enc):
        for key in ("exp_avg", "exp_avg_sq"):
            s = opt.state[p][key]
            assert (s[..., 2] == 0).all(), (key, p.shape)  # the resampled latent's moments are reset
            assert (s[..., :2] != 0).all()  # the alive latents' moments are kept


def test_training_binds_the_optimiser() -> None:
    from superposition_lab.ground_truth import GroundTruth, feature_directions
    from superposition_lab.train import train

    m = L1SAE(2, 3, 4, generator=torch.Generator().manual_seed(0))
    data = GroundTruth(feature_directions(2, 3, 4, generator=torch.Generator().manual_seed(1)), torch.full((2, 4), 0.3))
    train(m, data, torch.ones(2, 3), TrainConfig(steps=2, batch_size=8), generator=torch.Generator().manual_seed(2))
    assert isinstance(m.optimizer, torch.optim.AdamW) and m.W_enc in m.optimizer.state


def _l1_pair(I: int, H: int, D: int, seed: int, **kw):
    penalty = (torch.rand(I, generator=torch.Generator().manual_seed(seed)) * 0.5).tolist()
    return pair(L1SAE, I, H, D, seed, penalty=penalty, **kw)


@pytest.mark.parametrize("shape", [(1, 1024, 32, 64), (3, 100, 7, 13), (8, 256, 12, 48), (2, 5, 3, 4)])
def test_hand_gradient_is_autograds(shape) -> None:
    I, B, H, D = shape
    a, b, g = _l1_pair(I, H, D, seed=I + D)
    assert_hand_gradient_is_autograds(a, b, torch.relu(torch.randn(I, B, H, generator=g)))


def test_training_on_the_hand_gradient_follows_autograd() -> None:
    """A whole run (resampling, gradient clipping, a schedule) ends in the same parameters."""
    a, b, _ = _l1_pair(2, 8, 16, seed=5, resample_at=(40,), dead_window=20)
    with torch.no_grad():  # four latents that never fire, for resampling to revive
        a.b_enc[:, :4] = -5.0
        b.b_enc[:, :4] = -5.0
    assert_same_training(a, b, steps=80)
    assert a.resampled == b.resampled and any(n for _, counts in b.resampled for n in counts)
