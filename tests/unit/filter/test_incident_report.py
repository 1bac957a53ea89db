"""incident_report: the filter renders the same three forms as rollbackctl report."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.filter.incident_report import FilterModule, incident_report
from tests.harness.journals import entry, fleet_run


def test_three_forms_of_one_run_agree():
    entries = fleet_run("rb-old", hosts=("web1",)) + fleet_run("rb-new", fail="web2")
    entries.append(entry("rb-new", "web2", "notify", "slack", "failed", 30, message="<script>x()</script>"))
    forms = incident_report(entries, run_id="rb-new", rto_target_s=60)
    assert FilterModule().filters()["incident_report"] is incident_report
    data = json.loads(forms["json"])
    assert (forms["run_id"], forms["verdict"]) == ("rb-new", data["verdict"]) == ("rb-new", "failed")
    # only the run asked for: as many steps as its entries
    assert len(data["timeline"]) == len([e for e in entries if e["run_id"] == "rb-new"])
    for step in data["timeline"]:
        assert step["action"] in forms["markdown"]
    assert "<script>x()</script>" not in forms["html"] and "&lt;script&gt;" in forms["html"]
    assert 'data-result="reverted"' in forms["html"]


def test_journal_gaps_make_the_report_say_the_journal_is_incomplete():
    entries = fleet_run("rb-new", hosts=("lb1",))
    whole = incident_report(entries, run_id="rb-new")
    assert "- Journal: every step of the run journaled" in whole["markdown"]
    assert json.loads(whole["json"])["journal_gaps"] == [] and "journal incomplete" not in whole["html"]
    gap = "journal not written for maintenance off on lb1 (No space left on device)"
    forms = incident_report(entries, run_id="rb-new", journal_gaps=[gap])
    assert "- Journal: **incomplete**: %s" % gap in forms["markdown"]
    assert json.loads(forms["json"])["journal_gaps"] == [gap]
    assert "<b>journal incomplete</b>: %s" % gap in forms["html"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("not a list", "incident_report: expected a list of journal entries, got str"),
        ([], "incident_report: no journal entry names a run"),
    ],
)
def test_bad_input_fails_in_one_line(entries, message):
    with pytest.raises(AnsibleFilterError) as err:
        incident_report(entries)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
