"""Measurements on neurons: the basis directions of a privileged hidden layer (TMS "Superposition in a
Privileged Basis", "Computation in Superposition").

A neuron k of a layer h = ReLU(W x + …) responds to feature i when W_ki > 0: only then does feature i
alone switch the neuron on. A neuron is monosemantic when one feature carries (almost) all of its
positive input weight, polysemantic when several do. Every function takes W of shape (I, H, F) —
row k of an instance's (H, F) matrix is neuron k's input weights — and returns the instance axis first.

Without a hidden ReLU (h = W x, the `linear` and `relu_output` toy models) h_k moves with feature i
for either sign of W_ki, so there the weight a neuron responds to is |W_ki| (`hidden_relu=False`). Such
a basis is not privileged: any rotation of h gives the same model, and its "neurons" are arbitrary
directions — the control of the privileged-basis claim, measured with the same functions.

Calibration of the two thresholds (tests/superposition_lab/test_neurons.py recomputes the nulls):

- MONOSEMANTIC_PURITY = 0.9: the top feature carries ≥ 90% of the squared input weight, i.e. with two
  features the second has at most 1/3 of the top one's weight. Nulls: a neuron with i.i.d. Gaussian
  weights from F = 10 features is monosemantic with probability 0.064 behind a ReLU (it often has only
  one or two positive weights) and 1e-4 without one; a row of a Haar-random rotation of a 5-dimensional
  space (the dense linear optimum W = R[I | 0], whose rotation R is arbitrary) with probability 0.019,
  i.e. 0.09 monosemantic neurons of 5 on average and never all five. A dense layer of five Gaussian
  ReLU neurons is all-monosemantic with probability 0.064⁵ ≈ 1e-6. Trained relu_hidden neurons are
  bimodal around it (specs/tms.privileged-basis.toml, quick, seeds 0–2: 315 neurons, 88 with purity
  ≥ 0.95, 221 below 0.7, 3 between 0.8 and 0.95), so any cut in (0.8, 0.95) gives nearly the same counts.
- ALIVE_THRESHOLD = 0.5: the cut-off of a represented feature, ‖W_i‖ > 0.5 (metrics.REPRESENTED_THRESHOLD),
  applied to a neuron's largest weight: a neuron counts when one feature's weight into it alone would
  count that feature as represented (its lone response W_ki² x_i reaches a quarter of x_i). Weight decay
  takes an unused neuron towards 0; a used one sits near 1 (0.64–1.07 in every relu_hidden model of
  specs/tms.privileged-basis.toml; 0.50–0.98 for the relu_output control, whose features spread over
  several neurons). It is not a random-weight null: Xavier-initialised neurons (std √(2/15) for m = 5,
  n = 10) pass it with probability 0.59, so an untrained layer is not "dead" — its neurons are impure.
"""

from __future__ import annotations

import torch

__all__ = [
    "ALIVE_THRESHOLD",
    "MONOSEMANTIC_PURITY",
    "response_weights",
    "neuron_strength",
    "neuron_purity",
    "neuron_feature_count",
    "neuron_top_feature",
    "alive_neurons",
    "monosemantic_neurons",
    "n_monosemantic",
    "n_polysemantic",
    "monosemantic_features",
]

ALIVE_THRESHOLD = 0.5  # largest input weight a neuron needs to count (= ‖W_i‖ > 0.5 for features); see above
MONOSEMANTIC_PURITY = 0.9  # share of the squared input weight its top feature must carry; see above
_EPS = 1e-12


def response_weights(W: torch.Tensor, hidden_relu: bool = True) -> torch.Tensor:
    """The input weights a neuron responds to, (I, H, F): (W_ki)₊ behind a ReLU, |W_ki| without one."""
    if W.ndim != 3:
        raise ValueError(f"W must be (instances, neurons, features), got shape {tuple(W.shape)}")
    return torch.relu(W) if hidden_relu else W.abs()


def neuron_strength(W: torch.Tensor, hidden_relu: bool = True) -> torch.Tensor:
    """Largest input weight of each neuron, max_i (W_ki)₊ (max_i |W_ki| without a ReLU), (I, H)."""
    return response_weights(W, hidden_relu).amax(dim=-1)


def neuron_purity(W: torch.Tensor, hidden_relu: bool = True) -> torch.Tensor:
    """Share of neuron k's squared input weight that its top feature carries, max_i w_ki² / Σ_i w_ki² with
    w = response_weights(W), (I, H): 1 for a monosemantic neuron, 1/k for k equal features, 0 for none."""
    w = response_weights(W, hidden_relu).square()
    return w.amax(dim=-1) / w.sum(dim=-1).clamp_min(_EPS)


def neuron_feature_count(W: torch.Tensor, hidden_relu: bool = True) -> torch.Tensor:
    """Effective number of features a neuron responds to: the participation ratio
    (Σ_i w_i)² / Σ_i w_i² of w_i = w_ki², (I, H). 1 when monosemantic, k for k equal features."""
    w = response_weights(W, hidden_relu).square()
    return w.sum(dim=-1).square() / w.square().sum(dim=-1).clamp_min(_EPS)


def neuron_top_feature(W: torch.Tensor, hidden_relu: bool = True) -> torch.Tensor:
    """Index of the feature with the largest input weight into each neuron, (I, H)."""
    return response_weights(W, hidden_relu).argmax(dim=-1)


def alive_neurons(W: torch.Tensor, threshold: float = ALIVE_THRESHOLD, hidden_relu: bool = True) -> torch.Tensor:
    """Mask (I, H) of neurons some feature drives strongly: neuron_strength > threshold."""
    return neuron_strength(W, hidden_relu) > threshold


def monosemantic_neurons(
    W: torch.Tensor, purity: float = MONOSEMANTIC_PURITY, threshold: float = ALIVE_THRESHOLD, hidden_relu: bool = True
) -> torch.Tensor:
    """Mask (I, H) of alive neurons whose top feature carries ≥ `purity` of their squared input weight."""
    return alive_neurons(W, threshold, hidden_relu) & (neuron_purity(W, hidden_relu) >= purity)


def n_monosemantic(
    W: torch.Tensor, purity: float = MONOSEMANTIC_PURITY, threshold: float = ALIVE_THRESHOLD, hidden_relu: bool = True
) -> torch.Tensor:
    """Number of monosemantic neurons (alive, purity ≥ `purity`), (I,)."""
    return monosemantic_neurons(W, purity, threshold, hidden_relu).sum(dim=-1)


def n_polysemantic(
    W: torch.Tensor, purity: float = MONOSEMANTIC_PURITY, threshold: float = ALIVE_THRESHOLD, hidden_relu: bool = True
) -> torch.Tensor:
    """Number of alive neurons whose top feature carries < `purity` of their squared input weight, (I,)."""
    return (alive_neurons(W, threshold, hidden_relu) & (neuron_purity(W, hidden_relu) < purity)).sum(dim=-1)


def monosemantic_features(
    W: torch.Tensor, purity: float = MONOSEMANTIC_PURITY, threshold: float = ALIVE_THRESHOLD, hidden_relu: bool = True
) -> torch.Tensor:
    """Mask (I, F) of features that have a monosemantic neuron of their own (are its top feature)."""
    mono = monosemantic_neurons(W, purity, threshold, hidden_relu)  # (I, H)
    top = torch.nn.functional.one_hot(neuron_top_feature(W, hidden_relu), W.shape[-1]).bool()  # (I, H, F)
    return (top & mono[..., None]).any(dim=1)


# ---------------------------------------------------------------- signed inputs (TMS "Computation in Superposition")
# With inputs on [−1, 1] a neuron ReLU(W_k·x + b_k) responds to feature i for either sign of W_ki:
# W_ki > 0 makes it a ReLU(x_i) neuron, W_ki < 0 a ReLU(−x_i) neuron (the two halves of
# |x_i| = ReLU(x_i) + ReLU(−x_i)). Its purity, top feature and aliveness are then those of |W_ki|, the
# functions above with hidden_relu=False; these two add the sign.


def neuron_sign(W: torch.Tensor) -> torch.Tensor:
    """Sign of each neuron's largest-magnitude input weight, (I, H): +1 for a ReLU(x_i) neuron, −1 for a
    ReLU(−x_i) neuron (signed inputs; 0 when the neuron has no weight at all)."""
    top = neuron_top_feature(W, hidden_relu=False)  # (I, H)
    return torch.sign(W.gather(-1, top[..., None])[..., 0])


def neurons_per_feature(
    W: torch.Tensor, sign: int, purity: float = MONOSEMANTIC_PURITY, threshold: float = ALIVE_THRESHOLD
) -> torch.Tensor:
    """Monosemantic neurons (by |W_ki|) dedicated to each feature with the given sign, (I, F):
    sign = +1 counts ReLU(x_i) neurons, −1 ReLU(−x_i) neurons (signed inputs)."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 or -1, got {sign}")
    keep = monosemantic_neurons(W, purity, threshold, hidden_relu=False) & (neuron_sign(W) == sign)  # (I, H)
    counts = torch.zeros(W.shape[0], W.shape[-1], dtype=torch.long, device=W.device)
    return counts.scatter_add_(-1, neuron_top_feature(W, hidden_relu=False), keep.long())


__all__ += ["neuron_sign", "neurons_per_feature"]
