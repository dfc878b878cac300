"""Everything a spec can name, loaded: the experiment kinds, the closed-form references, the rules.

Each of these modules registers its entries into verify/registry.py's tables where they are
defined; importing them here (and nowhere else) makes the tables complete. A new kind adds one line.
"""

from __future__ import annotations

import importlib

__all__ = ["MODULES", "load"]

MODULES = (
    "verify.checks",  # rules
    "verify.references",  # analytic references
    "verify.experiments.toy",
    "verify.experiments.loss_decomposition",
    "verify.experiments.phase",
    "verify.experiments.phase_free_optimum",
    "verify.experiments.polytope",
    "verify.experiments.sae",
    "verify.experiments.abs_value",
)


def load() -> None:
    """Import every registering module (idempotent: Python imports each once)."""
    for name in MODULES:
        importlib.import_module(name)
