"""Every module of the three packages imports on its own: no import cycle, none hidden in a function.

Each module is imported in a child process that has loaded the third-party libraries (torch, numpy,
…) but none of this project's modules, so an import order that only works because another module
was loaded first fails here. (Forking one warm parent keeps this to a second or two; a fresh
interpreter per module would spend most of a minute importing torch again.)
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analytic", "superposition_lab", "verify")

_CHILD = r"""
import importlib, os, sys, traceback
import attrs, cattrs, numpy, scipy.integrate, scipy.optimize, scipy.special, scipy.stats, torch  # warm the
import hypothesis.strategies, matplotlib.pyplot, rich.console, rich.progress, rich.table  # libraries
failures = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failures.append(name)
print("FAILED:" + ",".join(failures))
"""


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_every_module_imports_alone() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *_modules()], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    failed = proc.stdout.strip().rsplit("FAILED:", 1)[-1]
    assert failed == "", f"modules that do not import alone: {failed}\n{proc.stderr[-4000:]}"


def _function_level_imports(path: Path) -> list[str]:
    """`import` statements inside functions of our own packages (a cycle hidden from the loader)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").split(".")[0] in PACKAGES:
                    found.append(f"{path.relative_to(ROOT)}:{inner.lineno} from {inner.module}")
                elif isinstance(inner, ast.Import) and any(a.name.split(".")[0] in PACKAGES for a in inner.names):
                    found.append(f"{path.relative_to(ROOT)}:{inner.lineno} import …")
    return found


def test_no_function_level_imports_of_our_modules() -> None:
    found = [
        hit
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in _function_level_imports(path)
    ]
    assert found == []
