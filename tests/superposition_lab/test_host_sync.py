"""No training step reads a value back to the host on a GPU's code path (`superposition_lab.host_sync`).

A host read during a step (`bool`, `int`, `.item()`, `.tolist()`, `torch.equal`, `nonzero`, a boolean
index, …) makes a GPU wait until every queued kernel has run. On the CPU the tests switch
`host_sync.reads_are_free` off, so every device-dependent choice takes the GPU's branch (dense draws,
TopK's mask by `torch.topk`, AuxK on every step), and a `TorchDispatchMode` records every operation
that would wait, with the line of the lab's code that asked for it. Every model and data path the
trainer has is covered: the fused toy step, autograd (with and without gradient clipping), the
abs-value model's hand gradient, every SAE variant on the ground-truth data (independent features,
a hierarchy, constant magnitudes). With CUDA the same cases run on the GPU as well, under
`torch.cuda.set_sync_debug_mode("error")`. The periodic reads are left out of the observed steps:
the NaN check (`check_every`), an SAE's dead-latent history (every `dead_window` steps) and L1
resampling (at its scheduled steps).

The GPU branch computes the same values as the CPU's: pinned here for TopK (the one model whose
step branches on data), whose whole runs agree to the bit either way.
"""

from __future__ import annotations

import collections
import contextlib
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import superposition_lab
from superposition_lab import host_sync
from superposition_lab.adamw import make_adamw
from superposition_lab.data import AnticorrelatedSets, CorrelatedSets, SparseUniform, feature_sets
from superposition_lab.ground_truth import GroundTruth, feature_directions
from superposition_lab.models import MODELS
from superposition_lab.models.abs_value import AbsValueModel
from superposition_lab.models.sae_gated import GatedSAE
from superposition_lab.models.sae_jumprelu import JumpReLUSAE
from superposition_lab.models.sae_l1 import L1SAE
from superposition_lab.models.sae_topk import TopKSAE, topk_mask
from superposition_lab.train import TrainConfig, _step, train

aten = torch.ops.aten
# operations that return a value to Python or size their output by the data: each waits for the GPU
_WAITS = {
    aten._local_scalar_dense.default,  # bool(t), int(t), float(t), t.item()
    aten.equal.default,
    aten.is_nonzero.default,
    aten.nonzero.default,
    aten.masked_select.default,
    aten._unique2.default,
    aten.unique_dim.default,
    aten.unique_consecutive.default,
    aten.repeat_interleave.Tensor,
}
WARM_UP, OBSERVED, BATCH = 2, 8, 64
_PACKAGE = str(Path(superposition_lab.__file__).parent)


class HostReads(TorchDispatchMode):
    """Records each operation that would make a GPU wait, by the lab's line that called it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: collections.Counter[str] = collections.Counter()
        self.active = False  # inside the `with` block

    def __enter__(self) -> HostReads:
        self.active = True
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.active = False
        super().__exit__(*exc)

    def note(self, what: str) -> None:
        frames = [f for f in traceback.extract_stack() if f.filename.startswith(_PACKAGE)]
        where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno} {frames[-1].line}" if frames else "?"
        self.seen[f"{what} at {where}"] += 1

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _WAITS:
            self.note(str(func))
        elif func is aten.index.Tensor and any(i is not None and i.dtype == torch.bool for i in args[1]):
            self.note("a boolean index")
        elif func in (aten._to_copy.default, aten.copy_.default) and _to_host(args, kwargs):
            self.note("a copy to the host")
        return func(*args, **kwargs)


def _to_host(args: Any, kwargs: Any) -> bool:
    """A device-to-host copy (which a CPU tensor never makes)."""
    src = args[1] if len(args) > 1 and isinstance(args[1], torch.Tensor) else args[0]
    dst = kwargs.get("device", args[0].device if len(args) > 1 else None)
    return src.device.type != "cpu" and dst is not None and torch.device(dst).type == "cpu"


def _gpu_branches(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on every device-dependent choice takes the GPU's branch, on the CPU."""
    monkeypatch.setattr(host_sync, "reads_are_free", lambda t: False)


@pytest.fixture
def gpu_path(monkeypatch: pytest.MonkeyPatch) -> HostReads:
    """The GPU's branches on the CPU, and a recorder for the host reads; `.tolist()` and `.numpy()`
    (which a CPU tensor answers without a dispatch) are recorded by wrapping them."""
    _gpu_branches(monkeypatch)
    reads = HostReads()
    for method in ("tolist", "numpy"):
        original = getattr(torch.Tensor, method)

        def recorded(t: torch.Tensor, *a: Any, _original: Any = original, _method: str = method, **kw: Any) -> Any:
            if reads.active:
                reads.note(f"Tensor.{_method}")
            return _original(t, *a, **kw)

        monkeypatch.setattr(torch.Tensor, method, recorded)
    return reads


# ------------------------------------------------------------------------------------------ the cases
Case = Callable[[torch.device, torch.Generator], tuple[Any, Any, torch.Tensor, float]]
I, F, H, D, DIMS = 3, 6, 2, 32, 8


def _toy(name: str, clip: float = 0.0, sampler: str = "uniform") -> Case:
    def make(dev: torch.device, g: torch.Generator) -> tuple[Any, Any, torch.Tensor, float]:
        model = MODELS[name](I, F, H, generator=g, device=dev)
        sets = feature_sets(F, 2).to(dev)
        data = {
            "uniform": lambda: SparseUniform(torch.full((I, F), 0.2, device=dev)),
            "correlated": lambda: CorrelatedSets(torch.full((I, 3), 0.3, device=dev), sets),
            "anticorrelated": lambda: AnticorrelatedSets(torch.full((I, 3), 0.3, device=dev), sets),
        }[sampler]()
        return model, data, torch.ones((I, F), device=dev), clip

    return make


def _abs(dev: torch.device, g: torch.Generator) -> tuple[Any, Any, torch.Tensor, float]:
    model = AbsValueModel(I, F, H, generator=g, device=dev)
    return model, SparseUniform(torch.full((I, F), 0.2, device=dev), signed=True), torch.ones((I, F), device=dev), 0.0


def _sae(cls: type, n: int = I, data: str = "independent", clip: float = 0.0, **kw: Any) -> Case:
    def make(dev: torch.device, g: torch.Generator) -> tuple[Any, Any, torch.Tensor, float]:
        directions = feature_directions(n, DIMS, 16, generator=g, device=dev)
        firing = torch.full((n, 16), 0.1, device=dev)
        gt = {
            "independent": lambda: GroundTruth(directions, firing),
            "hierarchy": lambda: GroundTruth(directions, firing, parents=(-1, 0) + (-1,) * 14),
            "constant": lambda: GroundTruth(directions, firing, magnitude="constant"),
        }[data]()
        model = cls(n, DIMS, D, generator=g, device=dev, dead_window=10_000, **kw)
        model.steps_since_fired[:, : D // 4] = 10_000  # a quarter of the latents dead from the start (AuxK has work)
        return model, gt, torch.ones((n, 1), device=dev), clip

    return make


CASES: dict[str, Case] = {
    "linear, fused": _toy("linear"),
    "relu_output, fused": _toy("relu_output"),
    "relu_output, autograd (clipped)": _toy("relu_output", clip=1.0),
    "relu_output, correlated sets": _toy("relu_output", sampler="correlated"),
    "relu_output, anticorrelated sets": _toy("relu_output", sampler="anticorrelated"),
    "abs-value": _abs,
    "L1": _sae(L1SAE),
    "L1, one instance, clipped": _sae(L1SAE, n=1, clip=1.0),
    "L1, hierarchy": _sae(L1SAE, data="hierarchy"),
    "L1, constant magnitudes": _sae(L1SAE, data="constant"),
    "TopK": _sae(TopKSAE, k=3),
    "TopK, K per instance, AuxK": _sae(TopKSAE, k=[2, 3, 5], aux_coeff=1 / 32),
    "TopK, one instance, AuxK, clipped": _sae(TopKSAE, n=1, k=3, aux_coeff=1 / 32, clip=1.0),
    "JumpReLU": _sae(JumpReLUSAE),
    "JumpReLU, direct θ": _sae(JumpReLUSAE, threshold_param="direct"),
    "gated": _sae(GatedSAE),
    "gated, trained aux decoder": _sae(GatedSAE, aux_decoder="trained"),
}


def _observe(case: Case, device: torch.device, reads: contextlib.AbstractContextManager[Any]) -> None:
    """Build the case, take WARM_UP steps (the optimiser's first step is torch's own), then OBSERVED
    steps under `reads` (the loss left out, as on the steps that do not check it)."""
    g = torch.Generator(device=device).manual_seed(0)
    model, sampler, importance, clip = case(device, g)
    cfg = TrainConfig(batch_size=BATCH, prefetch=False, shards=1, threads=1, clip_grad_norm=clip)
    opt = make_adamw(list(model.parameters()), 1e-3, 0.0)
    if hasattr(model, "bind_optimizer"):
        model.bind_optimizer(opt)
    with _step(model, sampler, importance, g, [BATCH] * (WARM_UP + OBSERVED), opt, cfg) as step:
        for _ in range(WARM_UP):
            step(loss=False)
        with reads:
            for _ in range(OBSERVED):
                step(loss=False)


@pytest.mark.parametrize("name", list(CASES))
def test_no_step_reads_a_value_on_the_gpu_path(name: str, gpu_path: HostReads) -> None:
    _observe(CASES[name], torch.device("cpu"), gpu_path)
    assert not gpu_path.seen, f"{name}: host reads in a step — {dict(gpu_path.seen)}"


def test_the_detector_sees_the_cpu_paths_reads() -> None:
    """The detector works: the CPU's own TopK step (its exact top-k, AuxK's dead-latent test) reads values."""
    reads = HostReads()
    _observe(CASES["TopK, K per instance, AuxK"], torch.device("cpu"), reads)
    assert any("equal" in s for s in reads.seen) and any("_local_scalar_dense" in s for s in reads.seen)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU run of these cases is skipped")
@pytest.mark.parametrize("name", list(CASES))
def test_no_step_syncs_on_cuda(name: str) -> None:
    reads = HostReads()

    @contextlib.contextmanager
    def strict() -> Iterator[None]:  # the observed steps only: building a model reads values, as it may
        torch.cuda.set_sync_debug_mode("error")  # any synchronising CUDA call raises
        try:
            with reads:
                yield
        finally:
            torch.cuda.set_sync_debug_mode("default")

    _observe(CASES[name], torch.device("cuda"), strict())
    assert not reads.seen, f"{name}: host reads in a step — {dict(reads.seen)}"


# ------------------------------------------------------------------------------------------ same values
def _train_topk(n_steps: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    directions, firing = feature_directions(3, DIMS, 16, generator=g), torch.full((3, 16), 0.1)
    model = TopKSAE(3, DIMS, D, generator=g, k=[2, 3, 5], aux_coeff=1 / 32, dead_window=5)
    cfg = TrainConfig(steps=n_steps, batch_size=BATCH, lr=0.05, check_every=7)
    train(model, GroundTruth(directions, firing), torch.ones(3, 1), cfg, generator=g)
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_topk_gpu_branch_trains_to_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """AuxK on every step (no latent dead on some: exact zeros) and the mask by `torch.topk`: a whole run
    with latents dying and reviving ends where the CPU's branches end, to the bit (±0 aside)."""
    cpu = _train_topk(60)
    _gpu_branches(monkeypatch)
    gpu = _train_topk(60)
    for name in cpu:
        assert torch.equal(cpu[name], gpu[name]), name


def test_topk_mask_bound_is_checked_on_the_cpu() -> None:
    z = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    k = torch.tensor([1, 2, 3, 4])
    assert torch.equal(topk_mask(z, k, k_max=4), topk_mask(z, k))
    with pytest.raises(ValueError, match="k_max = 3"):
        topk_mask(z, k, k_max=3)


def test_topk_mask_by_rank_is_torch_topks_set(monkeypatch: pytest.MonkeyPatch) -> None:
    z = torch.randn(5, 3, 12, generator=torch.Generator().manual_seed(1))
    k = torch.tensor([0, 1, 2, 5, 12])[:, None]
    cpu = topk_mask(z, k)
    _gpu_branches(monkeypatch)
    assert torch.equal(topk_mask(z, k, k_max=12), cpu)
    assert torch.equal(topk_mask(z, k, k_max=12, dtype=torch.float32), cpu.float())
