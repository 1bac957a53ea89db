"""The report's three forms from one set of journal entries: same data, escaped, latest run by default."""

from __future__ import annotations

import json

import pytest

from rollbackctl import report
from rollbackctl.collection import UsageError
from tests.harness.journals import entry, fleet_run


def sample():
    entries = fleet_run("rb-old", hosts=("web1",)) + fleet_run("rb-new", fail="web2")
    # A message a person or a provider wrote: markup and table separators must stay text.
    entries.append(entry("rb-new", "web2", "notify", "slack", "failed", 30, message="<script>x()</script> a|b"))
    return entries


def test_latest_run_is_the_default_and_forms_agree(tmp_path):
    data = report.build(sample())
    assert data["run_id"] == "rb-new" and data["verdict"] == "failed"
    paths = report.write_all(data, tmp_path)
    loaded = json.loads(paths["json"].read_text())
    assert loaded["schema_version"] == report.report_module().SCHEMA_VERSION and len(loaded["timeline"]) == len(
        data["timeline"]
    )
    markdown, html = paths["markdown"].read_text(), paths["html"].read_text()
    for step in data["timeline"]:
        assert step["ts"] in markdown and step["ts"] in html
    for host, bars in data["phases"].items():
        assert html.count('data-host="%s"' % host) == 1
        for bar in bars:
            assert 'data-phase="%s" data-component="%s"' % (bar["phase"], bar["component"]) in html


def test_markup_and_pipes_are_escaped(tmp_path):
    paths = report.write_all(report.build(sample()), tmp_path)
    html, markdown = paths["html"].read_text(), paths["markdown"].read_text()
    assert "<script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<script>x()</script> a\\|b" in markdown
    assert "|---|---|" in markdown


def test_unknown_run_is_a_usage_error():
    with pytest.raises(UsageError, match="no journal entries for run rb-nope"):
        report.build(sample(), "rb-nope")
    with pytest.raises(UsageError, match="no journal entry names a run"):
        report.build([])


def test_the_alert_that_started_a_run_is_under_trigger_and_decision_not_versions():
    trigger = entry("rb-new", "localhost", "rollback", "trigger", "ok", -1, from_="alertmanager", to="52f63fa0")
    data = report.build([trigger, *sample()])
    assert [d["action"] for d in data["decision"]][:1] == ["trigger"] and data["decision"][0]["to"] == "52f63fa0"
    assert "trigger" not in [v["action"] for v in data["versions"]]
    assert "52f63fa0" in report.report_module().render_markdown(data).split("## Trigger and decision", 1)[1]
