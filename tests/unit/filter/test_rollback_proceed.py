"""rollback_proceed: the rule the assess phase applies to a decision and an analysis phase."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.filter.rollback_decision import rollback_decision
from ansible_collections.emergency.rollback.plugins.filter.rollback_proceed import FilterModule, rollback_proceed

NOW = "2026-11-23T18:45:00Z"


def decide(**metrics):
    return rollback_decision(metrics, now=NOW)


def test_registered_as_filter():
    assert FilterModule().filters()["rollback_proceed"] is rollback_proceed


@pytest.mark.parametrize(
    ("decision", "analysis", "approved_by", "force", "go", "reason"),
    [
        (None, None, None, False, True, "no metrics or analysis given: proceed"),
        ({}, "", "", False, True, "no metrics or analysis given: proceed"),
        (
            decide(error_rate_pct={"value": 7.5, "for_s": 180}),
            None,
            None,
            False,
            True,
            "immediate: error rate above 5 % for 2 minutes (error_rate_pct = 7.5)",
        ),
        (
            decide(p95_latency_s={"value": 2.5, "for_s": 400}),
            None,
            None,
            False,
            False,
            "urgent: p95 latency above 2 s for 5 minutes (p95_latency_s = 2.5); needs the approval of"
            " on_call_engineer, team_lead before 2026-11-23T19:00:00Z (rollback_approved_by)",
        ),
        (
            decide(p95_latency_s={"value": 2.5, "for_s": 400}),
            None,
            "lead",
            False,
            True,
            "urgent: p95 latency above 2 s for 5 minutes (p95_latency_s = 2.5); approved by lead",
        ),
        (
            decide(support_tickets=12),
            None,
            None,
            False,
            False,
            "consideration: 10 or more support tickets about the release (support_tickets = 12); needs the"
            " approval of team_lead, product_owner before 2026-11-23T19:45:00Z (rollback_approved_by)",
        ),
        (
            decide(error_rate_pct=0.1),
            None,
            None,
            False,
            False,
            "level none: no trigger of policy runbook-default fired",
        ),
        (
            decide(error_rate_pct=0.1),
            None,
            None,
            True,
            True,
            "forced (rollback_force) over: level none: no trigger of policy runbook-default fired",
        ),
        (None, "Failed", None, False, True, "analysis Failed"),
        (None, "Error", None, False, True, "analysis Error"),
        (None, "Inconclusive", None, False, False, "analysis Inconclusive: a person decides"),
        (None, "Successful", None, False, False, "analysis Successful: the release is healthy"),
        (
            None,
            "Successful",
            None,
            True,
            True,
            "forced (rollback_force) over: analysis Successful: the release is healthy",
        ),
        # either one saying roll back is enough; both reasons are kept
        (
            decide(error_rate_pct=0.1),
            "Failed",
            None,
            False,
            True,
            "level none: no trigger of policy runbook-default fired; analysis Failed",
        ),
    ],
)
def test_rule(decision, analysis, approved_by, force, go, reason):
    assert rollback_proceed(decision, analysis, approved_by=approved_by, force=force) == {
        "proceed": go,
        "reason": reason,
    }


@pytest.mark.parametrize(
    ("decision", "analysis", "message"),
    [
        ("immediate", None, "rollback_proceed: decision must be the mapping rollback_decision returns, got str"),
        ({"level": "soon"}, None, "rollback_proceed: decision level must be immediate, urgent, consideration or none"),
        (None, "Running", "rollback_proceed: analysis phase must be one of Successful, Inconclusive, Error, Failed"),
    ],
)
def test_bad_input_fails_in_one_line(decision, analysis, message):
    with pytest.raises(AnsibleFilterError) as err:
        rollback_proceed(decision, analysis)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
