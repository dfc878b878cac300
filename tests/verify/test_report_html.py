"""report.html and report.md: every claim has a section, images are embedded, claim vs control shown."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from tests.verify.fake_results import fake_plot, fake_result, tiny_specs
from verify.outputs import write_all
from verify.report import write_report
from verify.report_html import write_html
from verify.results_io import load_results, write_results


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.sections.append(a["id"] or "")
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag in ("script", "link") or (tag == "img" and not (a.get("src") or "").startswith("data:")):
            self.external.append(tag)


def _doc(tmp_path: Path) -> tuple[dict, Path]:
    specs = tiny_specs(tmp_path / "specs")
    out = tmp_path / "out"
    results = [fake_result(specs[0]), fake_result(specs[1], verdict="refuted")]
    path = write_results(results, out, {s.id: fake_plot(out, s.id) for s in specs})
    return load_results(path), out


def test_html_has_a_section_per_claim_with_embedded_plots(tmp_path: Path) -> None:
    doc, out = _doc(tmp_path)
    html = write_html(doc, out, results_sha256="abc123").read_text()
    parser = _Collect()
    parser.feed(html)
    parser.close()
    assert {"test.tiny-linear", "test.other", "provenance"} <= set(parser.sections)
    assert len(parser.images) == 2 and all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert parser.external == []  # self-contained: no script, stylesheet link or remote image
    assert "1 passed, 0 failed, 1 refuted, 0 errors" in html
    assert "superposition-lab verify test.tiny-linear --profile quick" in html
    assert "m hidden dimensions hold at most m orthogonal features." in html  # the check's why
    assert "control: measured (must fail)" in html and "from cache" in html
    assert "abc123" in html and doc["results"][0]["plots"][0]["sha256"] in html


def test_markdown_twin_shows_claim_vs_control_per_check(tmp_path: Path) -> None:
    doc, out = _doc(tmp_path)
    md = write_report(doc, out).read_text()
    assert "| check | expected | tolerance | claim (measured) | control (measured, must fail) |" in md
    assert md.count("why this threshold: m hidden dimensions hold at most m orthogonal features.") == 2
    assert "plots/test.other.png" in md and "**refuted**" in md


def test_write_all_embeds_the_baseline_diff(tmp_path: Path) -> None:
    specs = tiny_specs(tmp_path / "specs")
    base = tmp_path / "base"
    write_results([fake_result(specs[0])], base)
    paths = write_all([fake_result(specs[0], verdict="fail", n_represented=3.0)], tmp_path / "out", baseline=base)
    assert {p.name for p in paths} >= {"results.json", "report.md", "report.html", "junit.xml"}
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="baseline-diff"' in html and "1 verdict(s) changed" in html
