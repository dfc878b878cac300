"""Host reads of tensor values during training, and where they cost nothing.

Reading a tensor's value in Python — `bool(t.any())`, `int(t.max())`, `.item()`, `.tolist()`,
`torch.equal`, a boolean index, `nonzero` — is free on the CPU, where the value already sits in host
memory. On a GPU it is a *host sync*: Python waits until every kernel queued so far has run, so the
GPU idles while the host queues the next ones. A training step on a GPU therefore never reads a
value (the NaN check every `TrainConfig.check_every` steps, logging, snapshots, an SAE's dead-latent
history every `dead_window` steps and L1 resampling at its scheduled steps are the deliberate,
periodic exceptions). Where a CPU step uses a read to skip work (TopK's AuxK when no latent is dead,
its exact top-k by elementwise passes, the sparse draws' data-dependent extensions), the GPU step
does the work unconditionally instead: the same values, with no wait.

`reads_are_free` is the one place that decides; tests/superposition_lab/test_host_sync.py turns it
off to walk the GPU's code on the CPU and checks that no step reads a value.
"""

from __future__ import annotations

import torch

__all__ = ["reads_are_free"]


def reads_are_free(t: torch.Tensor) -> bool:
    """Whether reading `t`'s values on the host (a Python branch on them) costs no GPU wait: on the CPU."""
    return t.device.type == "cpu"
