"""Writing a kind's figures for the report: one PNG per figure, laid out, then closed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402 — after choosing the backend
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["save_figure"]


def save_figure(
    fig: Figure, out_dir: Path, stem: str, *, dpi: int = 110, rect: tuple[float, float, float, float] | None = None
) -> list[Path]:
    """Lay the figure out (within `rect`, if given), write it to out_dir/<stem>.png and close it;
    returns the path list a kind's plot function hands to the report."""
    fig.tight_layout(rect=rect)
    path = out_dir / f"{stem}.png"
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return [path]
