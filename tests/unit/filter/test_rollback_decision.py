"""rollback_decision: every row of the default policy, its boundaries, and malformed policies."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.filter.rollback_decision import FilterModule, rollback_decision
from ansible_collections.emergency.rollback.plugins.plugin_utils._decision import DEFAULT_POLICY_PATH

NOW = "2026-11-23T18:45:00Z"
DEFAULT = yaml.safe_load(open(DEFAULT_POLICY_PATH, encoding="utf-8"))


def _rows():
    for level, spec in DEFAULT["levels"].items():
        for trigger in spec["triggers"]:
            name = "%s-%s%s%s" % (level, trigger["metric"], trigger["op"], trigger["threshold"])
            yield pytest.param(level, trigger, id=name)


ROWS = list(_rows())


def firing_value(trigger):
    """A value just past the threshold in the direction the operator fires."""
    t, op = trigger["threshold"], trigger["op"]
    return {">": t + 0.01, ">=": t, "<": t - 0.01, "<=": t, "==": t, "!=": t + 1}[op]


def quiet_value(trigger):
    t, op = trigger["threshold"], trigger["op"]
    return {">": t, ">=": t - 0.01, "<": t, "<=": t + 0.01, "==": t + 1, "!=": t}[op]


def test_registered_as_filter():
    assert FilterModule().filters()["rollback_decision"] is rollback_decision


@pytest.mark.parametrize("level,trigger", ROWS)
def test_every_row_fires_at_its_level_once_held_long_enough(level, trigger):
    metrics = {trigger["metric"]: {"value": firing_value(trigger), "for_s": trigger["duration_s"]}}
    decision = rollback_decision(metrics, now=NOW)
    fired = [(t["level"], t["metric"], t["threshold"]) for t in decision["triggers"]]
    assert (level, trigger["metric"], trigger["threshold"]) in fired
    # The most severe fired level decides, and the same metric may fire a less severe row too.
    assert decision["level"] == fired[0][0]
    assert list(DEFAULT["levels"]).index(decision["level"]) <= list(DEFAULT["levels"]).index(level)
    spec = DEFAULT["levels"][decision["level"]]
    assert decision["approvers"] == spec["approvers"]
    assert decision["max_decision_time_s"] == spec["max_decision_time_s"]
    row = next(t for t in decision["triggers"] if t["level"] == level and t["threshold"] == trigger["threshold"])
    assert row["value"] == firing_value(trigger) and row["op"] == trigger["op"]


@pytest.mark.parametrize("level,trigger", ROWS)
def test_every_row_is_quiet_on_its_threshold_or_when_too_short(level, trigger):
    at_threshold = {trigger["metric"]: {"value": quiet_value(trigger), "for_s": 10**6}}
    fired = rollback_decision(at_threshold, now=NOW)["triggers"]
    assert (level, trigger["threshold"]) not in [(t["level"], t["threshold"]) for t in fired]
    if trigger["duration_s"]:
        too_short = {trigger["metric"]: {"value": firing_value(trigger), "for_s": trigger["duration_s"] - 1}}
        fired = rollback_decision(too_short, now=NOW)["triggers"]
        assert (level, trigger["threshold"]) not in [(t["level"], t["threshold"]) for t in fired]


@pytest.mark.parametrize(
    "metrics,level",
    [
        ({"error_rate_pct": {"value": 5.0, "for_s": 600}}, "urgent"),  # exactly 5 % is not above 5 %
        ({"error_rate_pct": {"value": 5.01, "for_s": 120}}, "immediate"),  # 2 minutes exactly is enough
        ({"error_rate_pct": {"value": 5.01, "for_s": 119}}, "none"),  # under 2 min, and under 5 min for urgent
        ({"site_up": {"value": 0, "for_s": 60}}, "immediate"),
        ({"site_up": {"value": 0, "for_s": 59}}, "none"),
        ({"site_up": 1}, "none"),
        ({"payment_failures": 1}, "immediate"),
        ({"payment_failures": 0}, "none"),
        ({"p95_latency_s": {"value": 2.0, "for_s": 900}}, "consideration"),
        ({"p95_latency_s": {"value": 2.5, "for_s": 299}}, "none"),
        ({"p95_latency_s": {"value": 2.5, "for_s": 300}}, "urgent"),
        ({"support_tickets": 9}, "none"),
        ({"support_tickets": 10}, "consideration"),
        ({"error_rate_pct": 12}, "immediate"),  # a plain number was measured over the whole window
        ({}, "none"),
        ({"error_rate_pct": None}, "none"),
    ],
)
def test_boundaries(metrics, level):
    assert rollback_decision(metrics, now=NOW)["level"] == level


def test_worst_level_wins_and_all_fired_triggers_are_listed():
    decision = rollback_decision(
        {"p95_latency_s": {"value": 3, "for_s": 1000}, "payment_failures": 2, "support_tickets": 40}, now=NOW
    )
    assert decision["level"] == "immediate"
    assert decision["deadline"] == "2026-11-23T18:50:00Z"
    assert [t["level"] for t in decision["triggers"]] == ["immediate", "urgent", "consideration", "consideration"]
    assert "site_up" in decision["missing_metrics"] and "payment_failures" not in decision["missing_metrics"]


def test_none_has_no_deadline_and_no_approvers():
    decision = rollback_decision({"error_rate_pct": 0.1}, now=NOW)
    assert decision == {
        "level": "none",
        "triggers": [],
        "deadline": None,
        "max_decision_time_s": None,
        "approvers": [],
        "missing_metrics": decision["missing_metrics"],
        "policy": {"name": "runbook-default", "version": 1},
    }


def test_user_policy_from_a_file(tmp_path):
    policy = {
        "metrics": {"queue_depth": "jobs waiting"},
        "levels": {
            "urgent": {
                "max_decision_time_s": 60,
                "approvers": ["ops"],
                "triggers": [{"metric": "queue_depth", "op": ">=", "threshold": 1000, "duration_s": 0}],
            }
        },
    }
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(policy))
    decision = rollback_decision({"queue_depth": 1000}, str(path), now="2026-11-23T18:45:00+00:00")
    assert decision["level"] == "urgent" and decision["approvers"] == ["ops"]
    assert decision["deadline"] == "2026-11-23T18:46:00Z"
    assert rollback_decision({"queue_depth": 999}, policy, now=NOW)["level"] == "none"


def broken(path, value):
    policy = copy.deepcopy(DEFAULT)
    target = policy
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return policy


FIRST = ("levels", "immediate", "triggers", 0)


@pytest.mark.parametrize(
    "policy,message",
    [
        (broken(FIRST + ("metric",), "eror_rate_pct"), "level immediate trigger 1: unknown metric 'eror_rate_pct'"),
        (broken(FIRST + ("threshold",), "5%"), "level immediate trigger 1: bad threshold '5%' for error_rate_pct"),
        (broken(FIRST + ("threshold",), None), "bad threshold None"),
        (broken(FIRST + ("threshold",), True), "bad threshold True"),
        (broken(FIRST + ("duration_s",), KeyError), "level immediate trigger 1: missing duration_s for error_rate_pct"),
        (broken(FIRST + ("duration_s",), -1), "duration_s must be a number of seconds >= 0, got -1"),
        (broken(FIRST + ("op",), "=>"), "op must be one of"),
        (broken(FIRST + ("window",), 3), "unknown key(s) window"),
        (broken(("levels", "urgent", "max_decision_time_s"), "15m"), "level urgent: max_decision_time_s must be"),
        (broken(("levels", "urgent", "approvers"), []), "level urgent: approvers must be a non-empty list"),
        (broken(("levels", "urgent", "triggers"), []), "level urgent: triggers must be a non-empty list"),
        (broken(("levels", "critical"), DEFAULT["levels"]["urgent"]), "unknown level 'critical'"),
        (broken(("metrics",), KeyError), "policy must declare its metrics"),
        (broken(("levels",), {}), "policy must have levels"),
        ([1, 2], "policy must be a mapping, got list"),
    ],
)
def test_malformed_policies_fail_in_one_line(policy, message):
    with pytest.raises(AnsibleFilterError) as err:
        rollback_decision({"error_rate_pct": 1}, policy, now=NOW)
    text = str(err.value)
    assert text.startswith("rollback_decision: ") and message in text and "\n" not in text


@pytest.mark.parametrize(
    "metrics,policy,message",
    [
        ({"error_rate": 9}, None, "unknown metric(s) error_rate"),
        ({"error_rate_pct": "high"}, None, "metric error_rate_pct: value must be a number"),
        ({"error_rate_pct": {"value": 9, "for_s": "2m"}}, None, "for_s must be a number"),
        (["error_rate_pct"], None, "metrics must be a mapping"),
        ({}, "/nonexistent/policy.yml", "cannot read policy file /nonexistent/policy.yml"),
    ],
)
def test_bad_metrics_or_policy_file(metrics, policy, message):
    with pytest.raises(AnsibleFilterError, match="^rollback_decision: .*" + re.escape(message)):
        rollback_decision(metrics, policy, now=NOW)


def test_bad_now():
    with pytest.raises(AnsibleFilterError, match="now must be an ISO 8601 time"):
        rollback_decision({}, now="yesterday")
