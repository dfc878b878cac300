"""verify — the testbed: load claim specs, run and judge them, report.

Public API: `load_specs(paths)` and `run(specs, profile=…, device=…)`.
"""

from verify.runner import run
from verify.spec import load_specs

__all__ = ["load_specs", "run"]
