"""junit.xml (a <testsuites> root, file=, properties, attachments) and the GitHub step summary."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.verify.fake_results import fake_plot, fake_result, tiny_specs
from verify.junit import write_junit
from verify.results_io import load_results, write_results
from verify.step_summary import append_step_summary, step_summary


def _doc(tmp_path: Path, monkeypatch) -> tuple[dict, Path]:
    monkeypatch.chdir(tmp_path)
    specs = tiny_specs(tmp_path / "specs")
    out = tmp_path / "out"
    results = [fake_result(specs[0]), fake_result(specs[1], verdict="fail", n_represented=3.0)]
    return load_results(write_results(results, out, {specs[0].id: fake_plot(out, specs[0].id)})), out


def test_junit_format(tmp_path: Path, monkeypatch) -> None:
    doc, out = _doc(tmp_path, monkeypatch)
    root = ET.parse(write_junit(doc, out)).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    suite = root.find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert {"commit", "code_version", "profile", "machine.cpu", "versions.torch", "started_utc"} <= set(props)
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["test.tiny-linear"].get("file") == "specs/test.tiny-linear.toml"
    assert cases["test.other"].get("file") == "specs/test.other.toml"
    case_props = {p.get("name") for p in cases["test.tiny-linear"].findall("properties/property")}
    assert {"spec_hash", "cache_keys.main", "digests.control", "reproduce"} <= case_props
    assert (
        cases["test.tiny-linear"].findtext("system-out") or ""
    ).strip() == "[[ATTACHMENT|out/plots/test.tiny-linear.png]]"
    failure = cases["test.other"].find("failure")
    assert failure is not None and "n_represented at_most" in (failure.text or "")
    assert cases["test.tiny-linear"].find("failure") is None


def test_step_summary_is_compact_and_capped(tmp_path: Path, monkeypatch) -> None:
    doc, _ = _doc(tmp_path, monkeypatch)
    text = step_summary(doc)
    assert "| test.other | **fail** |" in text and "report-html" in text
    assert "![" not in text and "<img" not in text and "data:image" not in text
    big = {**doc, "results": [dict(doc["results"][0], id=f"test.claim-{i:05d}") for i in range(40000)]}
    capped = step_summary(big)
    assert len(capped.encode()) < 1024 * 1024 and "more claims in the report" in capped
    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert append_step_summary(doc) == target and append_step_summary(doc) == target
    assert target.read_text().count("## superposition-lab") == 2  # appended, not overwritten
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert append_step_summary(doc) is None and "GITHUB_STEP_SUMMARY" not in os.environ
