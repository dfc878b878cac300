"""`verify.kind.Optimiser`: a spec's optimiser fields reach the trainer unchanged."""

from __future__ import annotations

import attrs
import pytest

from superposition_lab.train import TrainConfig
from verify.kind import Optimiser


def test_train_config_carries_every_optimiser_field() -> None:
    """Each field of the spec goes to TrainConfig as written: half the steps (or any other budget) fails."""
    opt = Optimiser(steps=1234, lr=0.02, batch_size=333, weight_decay=0.003, schedule="cosine", warmup=17)
    cfg = opt.train_config()
    assert isinstance(cfg, TrainConfig)
    for field in attrs.fields(Optimiser):
        assert getattr(cfg, field.name) == getattr(opt, field.name), field.name


def test_warmup_must_leave_steps() -> None:
    with pytest.raises(ValueError, match="warmup"):
        Optimiser(steps=10, warmup=10)
