"""Models batched over an instance axis. Each module holds one model; `MODELS` names them."""

from superposition_lab.models.toy import LinearToy, ReLUOutputToy, ToyModel

MODELS: dict[str, type[ToyModel]] = {
    "linear": LinearToy,
    "relu_output": ReLUOutputToy,
}

__all__ = ["MODELS", "ToyModel", "LinearToy", "ReLUOutputToy"]
