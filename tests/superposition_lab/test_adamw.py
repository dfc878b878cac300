"""FusedAdamW's lean step is torch's fused AdamW bit for bit."""

from __future__ import annotations

import pytest
import torch

from superposition_lab.adamw import FusedAdamW, make_adamw


def _params() -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(shape, generator=g)) for shape in ((3, 5, 7), (3, 7), (3,))]


def _run(lean: bool, steps: int, *, skip_grad_at: int = -1, reset_at: int = -1) -> list[torch.Tensor]:
    params = _params()
    opt = (
        FusedAdamW(params, lr=1e-2, weight_decay=0.01)
        if lean
        else torch.optim.AdamW(params, lr=1e-2, weight_decay=0.01, fused=True)
    )
    g = torch.Generator().manual_seed(1)
    for i in range(steps):
        opt.param_groups[0]["lr"] = 1e-2 * (1 - i / steps)  # a schedule, as the trainer sets it
        for j, p in enumerate(params):
            p.grad = None if (i == skip_grad_at and j == 1) else torch.randn(p.shape, generator=g)
        opt.step()
        if i == reset_at:  # what an SAE's resampling does to the moments of revived latents
            opt.state[params[0]]["exp_avg"][:, :, 0] = 0.0
            opt.state[params[0]]["exp_avg_sq"][:, :, 0] = 0.0
    moments = [opt.state[p][name] for p in params for name in ("exp_avg", "exp_avg_sq", "step")]
    return [p.detach().clone() for p in params] + moments


@pytest.mark.parametrize("case", [{}, {"skip_grad_at": 3}, {"skip_grad_at": 0}, {"reset_at": 4}])
def test_lean_step_is_torch_fused_adamw_bit_for_bit(case: dict) -> None:
    for ours, torchs in zip(_run(True, 12, **case), _run(False, 12, **case), strict=True):
        assert torch.equal(ours, torchs)


def test_closure_and_first_step_take_torchs_path() -> None:
    params = _params()
    opt = FusedAdamW(params, lr=1e-3, weight_decay=0.0)
    assert not opt._short_path()  # no state before the first step
    for p in params:
        p.grad = torch.ones_like(p)
    assert opt.step(lambda: 2.0) == 2.0  # a closure goes through torch's step, its loss comes back
    assert opt._short_path()


def test_make_adamw_is_the_fused_one_on_the_cpu() -> None:
    assert isinstance(make_adamw(_params(), 1e-3, 0.01), FusedAdamW)


def test_step_hooks_and_the_profiler_still_see_the_step() -> None:
    """The lean step leaves torch's per-call wrapper out only while nothing observes it: registered
    step hooks run once per step (also where torch's path takes over) and a profiler sees the step."""
    params = _params()
    opt = FusedAdamW(params, lr=1e-3, weight_decay=0.0)
    torch.optim.AdamW(_params(), lr=1e-3)  # a plain AdamW wraps AdamW.step: no second round of hooks
    calls: list[str] = []
    pre = opt.register_step_pre_hook(lambda *_: calls.append("pre"))
    post = opt.register_step_post_hook(lambda *_: calls.append("post"))
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()  # first step: torch's path (no state yet)
    opt.step()  # the short path
    assert calls == ["pre", "post", "pre", "post"]
    pre.remove(), post.remove()
    opt.step()
    assert len(calls) == 4
    with torch.profiler.profile() as prof:
        opt.step()
    assert any(e.name == "Optimizer.step#FusedAdamW.step" for e in prof.events())
