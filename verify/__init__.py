"""verify — the testbed: load claim specs, run and judge them, report.

Public API: `load_specs(paths)` and `run(specs, profile=…, device=…)`.
"""

from verify.loading import load_specs
from verify.runner import run

__all__ = ["load_specs", "run"]
