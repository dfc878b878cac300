"""Models batched over an instance axis. Each module holds one model; `MODELS` names them."""

from superposition_lab.models.sae import SAE
from superposition_lab.models.sae_gated import GatedSAE
from superposition_lab.models.sae_jumprelu import JumpReLUSAE
from superposition_lab.models.sae_l1 import L1SAE
from superposition_lab.models.sae_topk import TopKSAE
from superposition_lab.models.toy import LinearToy, ReLUHiddenToy, ReLUOutputToy, ToyModel

MODELS: dict[str, type[ToyModel]] = {
    "linear": LinearToy,
    "relu_output": ReLUOutputToy,
    "relu_hidden": ReLUHiddenToy,
}

# Sparse autoencoders on the shared base `SAE`, one module per variant (paper cited on its line 1).
SAES: dict[str, type[SAE]] = {
    "l1": L1SAE,
    "gated": GatedSAE,
    "jumprelu": JumpReLUSAE,
    "topk": TopKSAE,
}

__all__ = [
    "MODELS",
    "ToyModel",
    "LinearToy",
    "ReLUOutputToy",
    "ReLUHiddenToy",
    "SAES",
    "SAE",
    "L1SAE",
    "GatedSAE",
    "JumpReLUSAE",
    "TopKSAE",
]
