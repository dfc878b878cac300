"""superposition_lab — toy models of superposition and sparse autoencoders, batched over instances.

Shapes use the same letters everywhere: I instances, B batch, F features, H hidden, D dictionary.
A toy model's W is stored (I, H, F); feature i's direction W_i is column i of each instance's W.
"""

__version__ = "0.1.0"
