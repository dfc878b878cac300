"""Where a result came from: code, command, machine, libraries, and when — without naming the host.

`start_session` is called once by the command line before a run (argv, profile, requested device,
UTC start); `collect` returns the provenance block written at the top of results.json and shown in
the reports: git commit and dirty flag, the code hash that keys the cache (`jobs.code_version`),
the command, profile, requested and resolved device, torch's thread count, UTC start and end, the
machine (CPU model, cores, GPU model and driver when CUDA is available — never the hostname) and
the versions of Python and every library a result depends on. The parts that cannot change during
a run are computed once per process, so writing results after every spec stays cheap.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from verify.jobs import code_version

__all__ = ["start_session", "collect", "machine", "library_versions", "git_state", "utc_now", "LIBRARIES"]

LIBRARIES = ("torch", "numpy", "scipy", "hypothesis", "attrs", "cattrs", "matplotlib", "rich")
_ROOT = Path(__file__).resolve().parent.parent
_SESSION: dict[str, Any] = {}


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second, with a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_session(argv: list[str] | None = None, profile: str | None = None, device: str | None = None) -> None:
    """Record what this process was asked to do, and when it started (UTC)."""
    _SESSION.clear()
    _SESSION.update(
        argv=list(sys.argv if argv is None else argv), profile=profile, device_requested=device, started_utc=utc_now()
    )


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@functools.cache
def git_state() -> dict[str, Any]:
    """The checkout's commit and whether tracked files differ from it (None outside a git checkout)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> dict[str, Any] | None:
    if not torch.cuda.is_available():
        return None
    driver = None
    try:
        proc = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        driver = proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "model": torch.cuda.get_device_name(0),
        "count": torch.cuda.device_count(),
        "driver": driver,
        "cuda": torch.version.cuda,
    }


@functools.cache
def machine() -> dict[str, Any]:
    """CPU model, core count, OS and architecture, GPU (model, driver) — nothing that names the host."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "gpu": _gpu(),
    }


@functools.cache
def library_versions() -> dict[str, str | None]:
    """Python, this package and every library a result depends on (torch with its CUDA build)."""
    out: dict[str, str | None] = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }
    for name in ("superposition-lab", *LIBRARIES):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    out["torch"] = torch.__version__
    out["torch_cuda"] = torch.version.cuda
    return out


def collect(profile: str | None = None, device: str | None = None) -> dict[str, Any]:
    """The provenance block: the session's command and start, now as its end, and the static parts.
    `profile`/`device` (the resolved device) fill in what the session did not record."""
    return {
        **git_state(),
        "code_version": code_version(),
        "argv": _SESSION.get("argv", list(sys.argv)),
        "profile": _SESSION.get("profile") or profile,
        "device_requested": _SESSION.get("device_requested"),
        "device_resolved": device,
        "torch_threads": torch.get_num_threads(),
        "started_utc": _SESSION.get("started_utc"),
        "ended_utc": utc_now(),
        "machine": machine(),
        "versions": library_versions(),
    }
