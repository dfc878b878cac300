"""README's claim table is rendered from specs/ (regenerate: python -m verify.claims_doc)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO, TINY_SPEC, write_spec
from verify.claims_doc import END, START, markdown, update_readme
from verify.metrics_doc import readme_section


def test_table_lists_each_spec_with_status_and_null(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write_spec(specs, "a.toml", TINY_SPEC.replace('tags = ["test"]', 'null = "Without x, 1."\ntags = ["test"]'))
    text = markdown(specs)
    assert "1 claims (1 supported, 0 refuted)" in text
    row = "| `test.tiny-linear` | TMS — Demonstrating Superposition | supported | tiny linear top-m | Without x, 1. |"
    assert row in text


def test_update_rewrites_only_the_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\nstale\n{END}\n\nafter\n")
    specs = tmp_path / "specs"
    write_spec(specs, "a.toml", TINY_SPEC)
    assert update_readme(readme, specs) is True
    assert readme_section(readme.read_text(), START, END) == markdown(specs)
    assert update_readme(readme, specs) is False


def test_readme_is_up_to_date() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme_section(text, START, END) == markdown(), "run: python -m verify.claims_doc"
