"""The shared base of the sparse autoencoders (SAEs), batched over instances.

Bricken et al. 2023 ("Towards Monosemanticity", Anthropic, "Problem Setup"): an SAE encodes
an activation x ∈ R^m into a wide, sparse code f ∈ R^d and decodes it linearly,

    f = σ(W_enc (x − b_dec) + b_enc),      x̂ = W_dec f + b_dec,

with one column of W_dec per latent ("atom"). Variants differ only in σ and in the named terms they
add to the reconstruction error ‖x − x̂‖² (summed over dims, NOT halved — the convention of
`analytic/sae.py`). This base owns the parameters, encode/decode, the loss, the unit-norm constraint
on decoder atoms and the bookkeeping of dead latents; each `sae_<variant>.py` holds what differs.

Shapes: I instances, B batch, H = m input dims, D = d_sae latents. W_dec and W_enc are both stored
(I, H, D): atom j is column j of W_dec, and the encoder's row j is column j of W_enc, so that
pre-activations are (x − b_dec) @ W_enc. Init: random unit atoms and W_enc = W_dec (the encoder is
the decoder's transpose, as Gao et al. 2024 §A.1 and Anthropic's April 2024 update do), biases 0.

Hyperparameters that a sweep varies (λ, K, bandwidth) are per-instance tensors, so one batched
program trains a whole grid: pass a float (same for all instances) or a sequence of length I.

Trainer contract (superposition_lab.train): `loss_terms(x, importance)` returns named (I,) terms
(importance is ignored: every dim counts once), `before_step()` runs between backward and the
optimiser step, `after_step()` after it; `bind_optimizer(opt)` hands over the trainer's optimiser
before the first step (resampling resets its Adam moments for the latents it re-initialises).
Each variant also has `loss_and_grads(x, importance=None, loss=True)` (importance ignored, as in
`loss_terms`): the same objective with every gradient written
by hand, autograd's to the bit except b_dec's, which is autograd's within float rounding
(`centred_bias_grad`: a matvec where autograd runs a matmul). The trainer uses it while
`has_fused_step()`, i.e. unless a subclass overrides the forward or the loss, and passes loss=False on
the steps that do not read the objective.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

__all__ = ["SAE", "per_instance", "one_of", "squared_error_grad", "centred_bias_grad"]


def one_of(name: str, value: str, allowed: Sequence[str]) -> str:
    """A variant's named option, checked: `value` if it is one of `allowed`, else a ValueError naming it."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def per_instance(
    value: float | Sequence[float] | torch.Tensor, n_instances: int, *, device: torch.device | str, dtype: torch.dtype
) -> torch.Tensor:
    """A hyperparameter as an (I,) tensor: a scalar is broadcast, a sequence must have length I."""
    t = torch.as_tensor(value, dtype=dtype, device=device)
    if t.ndim == 0:
        return t.expand(n_instances).clone()
    if t.shape != (n_instances,):
        raise ValueError(f"need a scalar or one value per instance ({n_instances}), got shape {tuple(t.shape)}")
    return t.clone()


def squared_error_grad(d: torch.Tensor) -> torch.Tensor:
    """∂/∂x̂ of Σ_instances E_b ‖x − x̂‖² for d = x − x̂ (I, B, H), with autograd's bits — autograd forms
    −((2d)·(1/B)) in three passes; one multiplication by −2·(1/B) is the same float: doubling and
    negating are exact, so both round the same real product once (the sign of a zero included). Written
    over d (its storage is reused: one (I, B, H) buffer less per step)."""
    return d.mul_(-2.0 * (1.0 / d.shape[1]))


def centred_bias_grad(g_bias: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """What an encoder z = (x − b_dec) W + b contributes to ∂/∂b_dec, without its sign: Σ_b ∂/∂z · Wᵀ,
    formed as (Σ_b ∂/∂z) Wᵀ from g_bias = Σ_b ∂/∂z (I, D) — b's own gradient — and W (I, H, D), → (I, H).

    Autograd forms the (I, B, H) product ∂/∂z Wᵀ (the input's gradient, which nothing else reads) and
    then sums it over the batch: a matmul as large as the encoder's for a vector. Summing first is the
    same value in exact arithmetic, but not the same float rounding: b_dec's gradient is autograd's
    within float32 tolerance, not to the bit (tests/superposition_lab/models/hand_gradient.py).
    """
    return torch.bmm(g_bias[:, None, :], W.transpose(1, 2))[:, 0]


class SAE(nn.Module):
    """Parameters, encode/decode, loss and constraints shared by every SAE variant."""

    steps_since_fired: torch.Tensor  # buffer (I, D): training steps since each latent last fired

    def __init__(
        self,
        n_instances: int,
        n_dims: int,
        d_sae: int,
        *,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        dead_window: int = 500,
        encoder_bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_instances, self.n_dims, self.d_sae = n_instances, n_dims, d_sae
        self.dead_window = dead_window  # a latent is dead when it has not fired for this many steps
        atoms = torch.randn((n_instances, n_dims, d_sae), generator=generator, device=device, dtype=dtype)
        atoms = atoms / atoms.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(atoms)  # (I, H, D), unit columns
        self.W_enc = nn.Parameter(atoms.clone())  # (I, H, D): encoder = decoder transpose at init
        # b_enc starts at 0 by default; a negative start leaves latents that never fire ("dead at init")
        self.b_enc = nn.Parameter(
            torch.full((n_instances, d_sae), float(encoder_bias_init), device=device, dtype=dtype)
        )  # (I, D)
        self.b_dec = nn.Parameter(torch.zeros((n_instances, n_dims), device=device, dtype=dtype))  # (I, H)
        self.register_buffer("steps_since_fired", torch.zeros((n_instances, d_sae), dtype=torch.long, device=device))
        self.step = 0  # training steps taken: a Python int, so reading it never waits for a GPU
        # A private generator for the random choices a variant makes during training (resampling):
        # seeded from the caller's, so the model stays reproducible from one seed.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.dead_history: list[tuple[int, list[float]]] = []  # (step, dead fraction per instance)
        self._fired: torch.Tensor | None = None  # (I, D): latents that fired on the last training batch
        self._last_x: torch.Tensor | None = None  # (I, B, H): the last training batch
        self._whole: SAE | None = None  # set on an `instance_views` view: the model it is part of
        self.optimizer: torch.optim.Optimizer | None = None  # the trainer's, once bound (bind_optimizer)

    def hyper(self, value: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
        """A per-instance hyperparameter (I,) on this model's device and dtype."""
        return per_instance(value, self.n_instances, device=self.W_dec.device, dtype=self.W_dec.dtype)

    # ------------------------------------------------------------ forward
    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """W_enc (x − b_dec) + b_enc for x (I, B, H) → (I, B, D)."""
        return torch.bmm(x - self.b_dec[:, None, :], self.W_enc).add_(self.b_enc[:, None, :])

    def encode_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The code f (key "f", (I, B, D)) plus whatever the variant's loss terms reuse."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The sparse code f, (I, B, D)."""
        return self.encode_parts(x)["f"]

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """x̂ = W_dec f + b_dec for f (I, B, D) → (I, B, H)."""
        return torch.bmm(f, self.W_dec.transpose(1, 2)).add_(self.b_dec[:, None, :])  # (I,B,D) @ (I,D,H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def residual(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """x − x̂ for the code f (I, B, D) of x (I, B, H), written into x̂'s own fresh buffer (the hand
        gradients' forward: the same values as x − decode(f), one (I, B, H) buffer less)."""
        x_hat = self.decode(f)
        return torch.sub(x, x_hat, out=x_hat)

    # ------------------------------------------------------------ loss
    def penalties(
        self, x: torch.Tensor, parts: dict[str, torch.Tensor], x_hat: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The variant's named loss terms, each (I,) (e.g. {"l1": λ E‖f‖₁})."""
        return {}

    def loss_terms(self, x: torch.Tensor, importance: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """{"mse": E‖x − x̂‖², **penalties}, each (I,), averaged over the batch; importance is ignored."""
        parts = self.encode_parts(x)
        x_hat = self.decode(parts["f"])
        mse = ((x - x_hat) ** 2).sum(dim=-1).mean(dim=1)  # (I,)
        if torch.is_grad_enabled():  # a training step: remember which latents fired (for dead latents)
            # f != 0 anywhere in the batch, as Σ_b |f| > 0: exactly that test (no cancellation; a NaN
            # gives False as before), and ~10× cheaper than max/min over the batch axis or a bool pass
            self._fired = parts["f"].detach().abs().sum(dim=1) > 0  # (I, D)
            self._last_x = x.detach()  # (I, B, H): kept for resampling
        return {"mse": mse, **self.penalties(x, parts, x_hat)}

    # ------------------------------------------------------------ the hand-written gradient
    # What a variant's `loss_and_grads` reads of the model besides its parameters: if a subclass
    # overrides one of these, the hand gradient no longer computes its loss (a variant adds its own).
    HAND_GRADIENT_READS: tuple[str, ...] = (
        "pre_activation",
        "encode_parts",
        "decode",
        "residual",
        "penalties",
        "loss_terms",
    )

    def has_fused_step(self) -> bool:
        """True when the variant's `loss_and_grads` computes exactly this model's loss, so the trainer
        may skip autograd: nothing it reads (HAND_GRADIENT_READS) is overridden below the class that
        wrote it."""
        owner = next((c for c in type(self).__mro__ if "loss_and_grads" in vars(c)), None)
        return owner is not None and all(
            getattr(type(self), name) is getattr(owner, name) for name in self.HAND_GRADIENT_READS
        )

    @torch.no_grad()
    def write_affine_grads(
        self, xc: torch.Tensor, g: torch.Tensor, g_z: torch.Tensor, W_dec_grad: torch.Tensor
    ) -> None:
        """Write the gradients of the affine maps the variants share — z = W_enc (x − b_dec) + b_enc
        and x̂ = W_dec f + b_dec — from xc = x − b_dec, ∂/∂x̂ = g (I, B, H), ∂/∂z = g_z (I, B, D) and
        W_dec's gradient (any layout): autograd's operations and order, in the parameters' layout,
        except for b_dec (`centred_bias_grad`)."""
        self.W_dec.grad = W_dec_grad.contiguous()
        self.W_enc.grad = torch.bmm(xc.transpose(1, 2), g_z)  # (I, H, D)
        self.b_enc.grad = g_z.sum(dim=1)  # (I, D)
        self.b_dec.grad = g.sum(dim=1) - centred_bias_grad(self.b_enc.grad, self.W_enc)  # (I, H)

    def instance_views(self, bounds: Sequence[int]) -> list[SAE]:
        """Views of this model over the instance ranges bounds[k]:bounds[k+1], sharing its parameters'
        and buffers' storage (every instance is a model of its own, and every parameter's and buffer's
        first axis is the instance axis). A view's `loss_and_grads` on x[lo:hi] computes exactly what
        the whole model computes for those instances — so a step's hand gradient can be computed in
        parts on several threads (`fast_step.InstanceShards`). A view's gradients land on its own
        parameter views; `_whole` points back here for decisions taken over all instances."""
        views = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            view = copy.copy(self)  # the same attributes; its own tables of parameters and buffers:
            params = {n: nn.Parameter(p.detach()[lo:hi]) for n, p in self._parameters.items() if p is not None}
            view.__dict__["_parameters"] = params
            view.__dict__["_buffers"] = {n: b[lo:hi] for n, b in self._buffers.items() if b is not None}
            view.n_instances, view._whole = hi - lo, self
            views.append(view)
        return views

    def gather_views(self, views: Sequence[SAE], x: torch.Tensor) -> None:
        """After each of `instance_views`' views has run `loss_and_grads` on its part of the batch x:
        their gradients become this model's (joined along the instance axis: contiguous, the layout
        the whole computes), as do the latents that fired; x is the last training batch."""
        # every view's `loss_and_grads` wrote its gradients and fired latents (never None here)
        for name, p in self.named_parameters():
            p.grad = torch.cat(cast(list[torch.Tensor], [view.get_parameter(name).grad for view in views]))
        self._fired = torch.cat(cast(list[torch.Tensor], [view._fired for view in views]))
        self._last_x = x

    # ------------------------------------------------------------ constraints and dead latents
    @torch.no_grad()
    def before_step(self) -> None:
        """Remove the gradient component parallel to each decoder atom (the norm is fixed at 1)."""
        g = self.W_dec.grad
        if g is not None:
            g -= (g * self.W_dec).sum(dim=1, keepdim=True) * self.W_dec  # (I, H, D)

    @torch.no_grad()
    def after_step(self) -> None:
        """Renormalise atoms to unit norm; count steps since each latent last fired."""
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))
        self.step += 1
        if self._fired is not None:
            self.steps_since_fired.add_(1).masked_fill_(self._fired, 0)  # in place: integers, the same counts
        if self.dead_window and self.step % self.dead_window == 0:
            self.dead_history.append((self.step, self.dead_mask().float().mean(dim=1).tolist()))

    def dead_mask(self) -> torch.Tensor:
        """Latents that have not fired during the last `dead_window` training steps, (I, D)."""
        return self.steps_since_fired >= self.dead_window

    # ------------------------------------------------------------ the optimiser's state
    def bind_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Keep the trainer's optimiser (superposition_lab.train calls this before the first step)."""
        self.optimizer = optimizer

    @torch.no_grad()
    def reset_optimizer_state(self, latents: torch.Tensor) -> None:
        """Zero the optimiser's per-weight state (Adam's moments) of these latents, a mask (I, D):
        their atoms (W_dec columns), encoder rows (W_enc columns) and encoder biases. The step count,
        one per parameter tensor, is shared with every other latent and is left as it is."""
        if self.optimizer is None:
            return
        for p, mask in ((self.W_dec, latents[:, None, :]), (self.W_enc, latents[:, None, :]), (self.b_enc, latents)):
            for value in self.optimizer.state.get(p, {}).values():
                if isinstance(value, torch.Tensor) and value.shape == p.shape:  # exp_avg, exp_avg_sq, …
                    value.masked_fill_(mask, 0.0)
