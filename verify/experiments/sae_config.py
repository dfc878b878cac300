"""What an `sae` spec may say: the shared experiment fields, and one config class per SAE variant.

`SAEConfig` holds what every variant shares — the ground-truth data (superposition_lab.ground_truth),
the sizes, the sweep, the optimiser, the seeds — and `variant`, a config of the variant's own knobs.
In a spec, `variant` is a name (`variant = "gated"`: that variant with its defaults) or a table with
the name and knobs (`variant = { name = "l1", resample_every = 300 }`); a knob that the named variant
does not have is an error `experiment.variant.<knob>: unknown key`. A control that switches variant
(`variant = "gated"`) therefore starts from that variant's defaults, never from another's knobs.

The swept hyperparameters — `penalty` (λ of l1/gated, the L0 coefficient of jumprelu), `k` (topk's K),
`bandwidth` (jumprelu's ε) and `density` — are grid axes of the experiment: a list is a sweep, one
value per grid point, and checks refer to them by name (`axis = "penalty"`, `expect = "experiment.k"`).
So is `d_sae`, the dictionary size, read by every variant (one program per size).
Each variant reads the axes in its `axes`; along the others it is the same model at every point —
which is how a control shows that a knob does nothing (a TopK SAE swept over λ).

A `baseline` variant, when named, is trained as a second program on the same directions, with its
own λ or K grid (`baseline_penalty`, `baseline_k`; by default the same grid), so that a spec can
compare variants: shrinkage at equal λ, or reconstruction at equal L0 along both Pareto frontiers.
With `rescale_shift = true` each side is also scored with its shrinkage undone after training (a
per-latent scale and shift of its active magnitudes, fitted by least squares, support kept), so a
gain can be compared with what undoing shrinkage alone buys (Rajamanoharan et al. 2024, Figure 9).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs
from attrs import validators as v

from superposition_lab.models.sae_gated import AUX_DECODERS, GATES
from superposition_lab.models.sae_jumprelu import FORMS, THRESHOLD_PARAMS
from verify.errors import did_you_mean
from verify.kind import Optimiser
from verify.spec import converter

__all__ = [
    "AXES",
    "SAEConfig",
    "SAEVariant",
    "VARIANTS",
    "L1Variant",
    "GatedVariant",
    "JumpReLUVariant",
    "TopKVariant",
    "PCAVariant",
]

AXES = ("penalty", "k", "bandwidth", "density", "d_sae")


def _each(check: Callable[[float], bool], what: str) -> Callable[[Any, attrs.Attribute, Any], None]:
    """A validator applying `check` to a value, or to each value of a sweep."""

    def validate(_: Any, attribute: attrs.Attribute, value: float | list[float]) -> None:
        for x in value if isinstance(value, list) else [value]:
            if not check(x):
                raise ValueError(f"'{attribute.name}' must be {what} (got {x!r})")

    return validate


# ---------------------------------------------------------------- the variants (superposition_lab/models/sae_*.py)
@attrs.frozen
class L1Variant:
    """The L1 SAE of Bricken et al. 2023 ("Towards Monosemanticity"): loss ‖x − x̂‖² + λ‖f‖₁.

    Reads `penalty` (λ). Dead-latent resampling ("Neuron Resampling" appendix; the recipe is in
    superposition_lab/models/sae_l1.py): every `resample_every` steps (0 = never) each latent dead for
    `dead_window` steps is re-initialised along an input drawn from the last `resample_pool` training
    inputs with probability ∝ its squared loss (`resample_from = "input"`, Anthropic) or along that
    input's residual x − x̂; its encoder row at `resample_scale` × the mean alive row norm (Anthropic:
    0.2), its encoder bias 0, and the Adam moments of all three reset.
    """

    name: ClassVar[str] = "l1"
    axes: ClassVar[tuple[str, ...]] = ("penalty",)
    resample_every: int = attrs.field(default=0, validator=v.ge(0))
    resample_from: str = attrs.field(default="input", validator=v.in_(("input", "residual")))
    resample_scale: float = attrs.field(default=0.2, validator=v.gt(0))
    resample_pool: int = attrs.field(default=8192, validator=v.ge(1))  # inputs scored at each resampling

    def model_options(self, hyper: dict[str, list[float]], steps: int) -> dict[str, Any]:
        """Keyword arguments of L1SAE, given each axis's value per instance."""
        every = self.resample_every
        return dict(
            penalty=hyper["penalty"],
            resample_at=list(range(every, steps, every)) if every else [],
            resample_from=self.resample_from,
            resample_scale=self.resample_scale,
            resample_pool=self.resample_pool,
        )


@attrs.frozen
class GatedVariant:
    """The gated SAE of Rajamanoharan et al. 2024 (arXiv:2404.16014, §3): L1 on the gate path only.

    Reads `penalty` (λ). `magnitude_l1 = true` is an ablation for controls: the L1 penalty falls on the
    output activations too, as in an L1 SAE (superposition_lab/models/sae_gated.py). `aux_decoder =
    "trained"` lets the auxiliary loss train the decoder, as SAELens does (the paper freezes it).
    `gate = "sigmoid"` is the SAE overview's simplification, not the paper's model: f = σ(π_gate) ⊙
    ReLU(π_mag) with L1 on σ(π_gate) and no auxiliary term (specs/sae.overview-sigmoid-gate.toml).
    """

    name: ClassVar[str] = "gated"
    axes: ClassVar[tuple[str, ...]] = ("penalty",)
    magnitude_l1: bool = False
    # the decoder in the auxiliary loss: "frozen" (the paper, eq. 8) or "trained" (SAELens's convention)
    aux_decoder: str = attrs.field(default="frozen", validator=v.in_(AUX_DECODERS))
    # the gate: "heaviside" (the paper) or "sigmoid" (the SAE overview's simplification)
    gate: str = attrs.field(default="heaviside", validator=v.in_(GATES))

    def model_options(self, hyper: dict[str, list[float]], steps: int) -> dict[str, Any]:
        return dict(
            penalty=hyper["penalty"], magnitude_l1=self.magnitude_l1, aux_decoder=self.aux_decoder, gate=self.gate
        )


@attrs.frozen
class JumpReLUVariant:
    """The JumpReLU SAE of Rajamanoharan et al. 2024 (arXiv:2407.14435, §3–4): learned thresholds θ.

    Reads `penalty` (the L0 coefficient λ) and `bandwidth` (ε of the straight-through rectangle
    kernel, §4); θ starts at `threshold_init`. `form = "shifted_relu"` is the SAE overview's
    simplification, not the paper's model: f = ReLU(z − θ), a ReLU with a shifted bias, continuous at
    θ; the L0 loss is kept (specs/sae.overview-shifted-relu.toml).
    """

    name: ClassVar[str] = "jumprelu"
    axes: ClassVar[tuple[str, ...]] = ("penalty", "bandwidth")
    threshold_init: float = attrs.field(default=0.05, validator=v.gt(0))
    # θ as a parameter: "log" (the paper's pseudo-code) or "direct" (SAELens); see sae_jumprelu.py
    threshold_param: str = attrs.field(default="log", validator=v.in_(THRESHOLD_PARAMS))
    # the nonlinearity: "jump" (the paper's z · H(z − θ)) or "shifted_relu" (the overview's ReLU(z − θ))
    form: str = attrs.field(default="jump", validator=v.in_(FORMS))

    def model_options(self, hyper: dict[str, list[float]], steps: int) -> dict[str, Any]:
        return dict(
            penalty=hyper["penalty"],
            bandwidth=hyper["bandwidth"],
            threshold_init=self.threshold_init,
            form=self.form,
            threshold_param=self.threshold_param,
        )


@attrs.frozen
class TopKVariant:
    """The TopK SAE of Gao et al. 2024 (arXiv:2406.04093, §2.3): keep the K largest pre-activations.

    Reads `k` (K). The AuxK loss (§A.2) reconstructs the residual from the top `aux_k` dead latents
    (0 = 2 · max K) with weight `aux_coeff` (1/32 in the paper; 0 = off).
    """

    name: ClassVar[str] = "topk"
    axes: ClassVar[tuple[str, ...]] = ("k",)
    aux_coeff: float = attrs.field(default=1 / 32, validator=v.ge(0))
    aux_k: int = attrs.field(default=0, validator=v.ge(0))

    def model_options(self, hyper: dict[str, list[float]], steps: int) -> dict[str, Any]:
        return dict(k=[int(x) for x in hyper["k"]], aux_coeff=self.aux_coeff, aux_k=self.aux_k)


@attrs.frozen
class PCAVariant:
    """The principal-component dictionary (superposition_lab/models/pca.py): fitted, not trained.

    d = min(d_sae, m) components; reads no axis and has no knobs.
    """

    name: ClassVar[str] = "pca"
    axes: ClassVar[tuple[str, ...]] = ()


SAEVariant = L1Variant | GatedVariant | JumpReLUVariant | TopKVariant | PCAVariant
VARIANTS: dict[str, type] = {cls.name: cls for cls in SAEVariant.__args__}  # one per SAES entry, plus pca


def _structure_variant(value: Any, _: Any) -> SAEVariant:
    """`"l1"` or `{ name = "l1", <that variant's knobs> }` → the variant's config."""
    if isinstance(value, str):
        if value not in VARIANTS:
            raise ValueError(did_you_mean(value, tuple(VARIANTS), "variant"))
        return VARIANTS[value]()
    if not isinstance(value, dict):
        raise TypeError(f"expected a variant name or a table {{ name = …, <knobs> }}, got {value!r}")
    knobs = dict(value)
    name = knobs.pop("name", None)
    if name not in VARIANTS:
        raise ValueError(
            "name: "
            + (
                did_you_mean(str(name), tuple(VARIANTS), "variant")
                if name is not None
                else f"required: the variant, one of {', '.join(VARIANTS)}"
            )
        )
    return converter.structure(knobs, VARIANTS[name])


converter.register_structure_hook(SAEVariant, _structure_variant)
converter.register_structure_hook(SAEVariant | None, _structure_variant)


# ---------------------------------------------------------------- the experiment
@attrs.frozen
class SAEConfig(Optimiser):
    """The shared fields of every `sae` spec; the variant's own knobs are in `variant`.

    Optimiser fields from `Optimiser` (schedule, warmup), with toy-scale SAE defaults below.
    """

    variant: SAEVariant  # the SAE and its own knobs
    n_features: int = attrs.field(validator=v.ge(1))  # n true features
    n_dims: int = attrs.field(validator=v.ge(1))  # m, the activation dimension
    # dictionary size; a list is a grid axis — one batched program per size (shapes differ), the
    # latent axes of W_enc, W_dec and b_enc zero-padded to the largest size (a zero atom never fires)
    d_sae: int | list[int] = attrs.field(validator=_each(lambda x: x >= 1, ">= 1"))
    directions: str = attrs.field(default="random", validator=v.in_(("random", "orthogonal")))
    # data: each feature fires w.p. `density` (a grid axis), or per feature `firing` (conditional on
    # its parent in `parents`, −1 = none); an active coefficient is U[lo, hi] or constant = hi
    density: float | list[float] = attrs.field(default=0.1, validator=_each(lambda x: 0 < x <= 1, "in (0, 1]"))
    firing: list[float] = attrs.field(factory=list)
    # without `firing`: feature i (from 0) fires w.p. density·(i + 1)^(−density_decay) — a Zipf-like
    # spectrum of feature frequencies, as in the quantization model of scaling (Michaud et al. 2023,
    # arXiv:2303.13506); 0 = every feature at `density`
    density_decay: float = attrs.field(default=0.0, validator=v.ge(0))
    parents: list[int] = attrs.field(factory=list)
    magnitude: str = attrs.field(default="uniform", validator=v.in_(("uniform", "constant")))
    # a feature family (superposition_lab.ground_truth.feature_variants): the first `variants` features
    # are variants (d0 + ε·u_k)/√(1 + ε²) of one direction d0, ε = `variant_spread` (0 = no family)
    variants: int = attrs.field(default=0, validator=v.ge(0))
    variant_spread: float = attrs.field(default=0.0, validator=v.ge(0))
    lo: float = attrs.field(default=0.0, validator=v.ge(0))
    hi: float = attrs.field(default=1.0, validator=v.gt(0))
    # the swept hyperparameters (grid axes), each read by the variants that have it
    penalty: float | list[float] = attrs.field(default=0.1, validator=_each(lambda x: x >= 0, ">= 0"))
    k: float | list[float] = attrs.field(
        default=4.0, validator=_each(lambda x: x >= 1 and x == int(x), "an integer >= 1")
    )
    bandwidth: float | list[float] = attrs.field(default=0.05, validator=_each(lambda x: x > 0, "> 0"))
    # every trained SAE (superposition_lab/models/sae.py)
    dead_window: int = attrs.field(default=500, validator=v.ge(1))  # steps without firing = dead
    # On the evaluation set a latent is alive when it fires (f ≠ 0) on at least this many of the
    # eval_samples inputs, and dead otherwise (the `dead_fraction` metric). Fewer than 10 in the
    # default 65 536 inputs is a rate below 1.5e-4: such a latent explains nothing measurable, while a
    # latent of rate ≥ 5e-4 (33 firings expected) falls under 10 with Poisson probability < 1e-6.
    # 1 = dead only if it never fires.
    alive_min_fires: int = attrs.field(default=10, validator=v.ge(1))
    encoder_bias_init: float = 0.0  # b_enc at init; < 0 kills the latents whose atoms miss the data
    # a second variant trained on the same directions (None = none), with its own λ / K grid
    baseline: SAEVariant | None = None
    baseline_penalty: list[float] = attrs.field(factory=list)  # empty = the same as penalty
    baseline_k: list[float] = attrs.field(factory=list)  # empty = the same as k
    # after training, also fit each side's per-latent rescale and shift of its active magnitudes
    # (superposition_lab.sae_rescale; Rajamanoharan et al. 2024, Figure 9) on 16 384 fresh inputs
    # and evaluate the repaired reconstruction on the evaluation set (the rescaled_* metrics)
    rescale_shift: bool = False
    absorption_pair: list[int] = attrs.field(factory=lambda: [0, 1])  # (parent, child) scored for absorption
    seeds: int = attrs.field(default=1, validator=v.ge(1))
    eval_samples: int = attrs.field(default=65536, validator=v.ge(1))
    seed: int = 0
    # the optimiser at toy scale (Optimiser's defaults are the TMS notebook's)
    steps: int = attrs.field(default=3000, validator=v.ge(0))  # 0 = the untrained (random) dictionary
    lr: float = attrs.field(default=5e-3, validator=v.gt(0))  # converges in 1–2 thousand steps
    batch_size: int = attrs.field(default=512, validator=v.ge(1))  # ample signal, 2× faster than 1024
    weight_decay: float = attrs.field(default=0.0, validator=v.ge(0))  # SAEs: no decay (it would shrink codes too)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.directions == "orthogonal" and self.n_features > self.n_dims:
            raise ValueError(
                f"directions: orthogonal needs n_features <= n_dims (got {self.n_features} > {self.n_dims})"
            )
        ks = self.k if isinstance(self.k, list) else [self.k]
        d_min = min(self.d_sae) if isinstance(self.d_sae, list) else self.d_sae
        if max(ks + list(self.baseline_k)) > d_min:
            raise ValueError(f"k: K must be <= d_sae = {d_min} (got {max(ks + list(self.baseline_k)):g})")
        if self.variants > self.n_features:
            raise ValueError(f"variants: at most n_features = {self.n_features} (got {self.variants})")
        if self.variants and self.directions == "orthogonal" and self.n_features + 1 > self.n_dims:
            raise ValueError(
                f"variants: orthogonal directions need n_features + 1 <= n_dims for d0 and its offsets "
                f"(got {self.n_features} + 1 > {self.n_dims})"
            )
        if self.firing and len(self.firing) != self.n_features:
            raise ValueError(f"firing: need one rate per feature ({self.n_features}), got {len(self.firing)}")
        if any(not 0 <= p <= 1 for p in self.firing):
            raise ValueError("firing: rates must lie in [0, 1]")
        if self.parents and len(self.parents) != self.n_features:
            raise ValueError(f"parents: need one entry per feature ({self.n_features}), got {len(self.parents)}")
        for child, parent in enumerate(self.parents):
            if not -1 <= parent < child:
                raise ValueError(f"parents: feature {child}'s parent must be -1 or an earlier feature (got {parent})")
        if self.lo > self.hi:
            raise ValueError(f"lo: must be <= hi (got lo={self.lo}, hi={self.hi})")
        pair = self.absorption_pair
        if len(pair) != 2 or len(set(pair)) != 2 or not all(0 <= i < self.n_features for i in pair):
            raise ValueError(f"absorption_pair: need two distinct feature indices below {self.n_features}, got {pair}")
        for name in ("baseline_penalty", "baseline_k"):
            if getattr(self, name) and self.baseline is None:
                raise ValueError(f"{name}: a grid for the baseline, but no baseline variant is named")

    def baseline_config(self) -> SAEConfig:
        """The baseline's side: this experiment with the baseline variant and its λ / K grid."""
        if self.baseline is None:
            raise ValueError("baseline: none named")
        return attrs.evolve(
            self,
            variant=self.baseline,
            baseline=None,
            baseline_penalty=[],
            baseline_k=[],
            penalty=self.baseline_penalty or self.penalty,
            k=self.baseline_k or self.k,
        )
