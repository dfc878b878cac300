"""README's metric tables are rendered from the registry (regenerate: python -m verify.metrics_doc)."""

from __future__ import annotations

from pathlib import Path

from verify.metrics_doc import END, START, markdown, readme_section, update_readme
from verify.registry import EXPERIMENTS


def test_every_metric_of_every_kind_is_rendered() -> None:
    text = markdown()
    for name, kind in EXPERIMENTS.items():
        assert f"**`{name}`**" in text
        for metric in kind.metrics:
            assert f"| `{metric}` |" in text


def test_update_readme_rewrites_only_the_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{START}\nstale\n{END}\n\nafter\n")
    assert update_readme(readme) is True
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith(f"{END}\n\nafter\n")
    assert readme_section(text) == markdown()
    assert update_readme(readme) is False
