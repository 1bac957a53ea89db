"""Event-driven rollback: Prometheus -> Alertmanager -> ansible-rulebook -> auto_rollback.yml.

Everything is real and on free ports: an app exporting its error rate, Prometheus scraping it with
alerting rules, Alertmanager routing to the collection's alertmanager source, ansible-rulebook
running extensions/eda/rulebooks/auto_rollback.yml by FQCN. The rollback target is the app role on
a local ansistrano layout (r2 live, the bad deploy; r1 the release to go back to).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.harness.app import live_of, make_layout
from tests.harness.eda import Rulebook
from tests.harness.monitoring import Alertmanager, MetricsApp, Prometheus, error_rate_analysis

pytestmark = pytest.mark.integration

TOKEN = "eda-test-token"
SERVICE = "eda-checkout"


def rule(alert, service, severity, **labels):
    return {
        "alert": alert,
        "expr": "app_error_rate_pct > 5",
        "for": "1s",
        "labels": {"service": service, "severity": severity, **labels},
        "annotations": {"summary": "error rate above 5%"},
    }


def firing(fingerprint):
    """A repeat of the checkout alert, as Alertmanager sends it."""
    return {
        "status": "firing",
        "labels": {"alertname": "AppErrorRateHigh", "service": SERVICE, "severity": "critical"},
        "annotations": {"summary": "error rate above 5%"},
        "startsAt": "2026-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


def journal(state_dir):
    path = Path(state_dir) / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def post(url, body, token=TOKEN):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Authorization": "Bearer %s" % token}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        return reply.status


def alertmanager_config(rulebook):
    # Short waits so the test is quick; repeat_interval 2s re-sends the firing alert while the
    # rollback runs: the repeat the rulebook must not act on.
    return {
        "route": {
            "receiver": "rollback",
            "group_by": ["alertname", "service"],
            "group_wait": "500ms",
            "group_interval": "1s",
            "repeat_interval": "2s",
        },
        "receivers": [
            {
                "name": "rollback",
                "webhook_configs": [
                    {
                        "url": rulebook.url + "/alerts",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                    }
                ],
            }
        ],
    }


@pytest.fixture
def stack(tmp_path):
    """The app, the rulebook, Alertmanager and Prometheus: started in the order alerts flow back."""
    layout = make_layout(tmp_path / "app", ["r1", "r2"], live="r2")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    app = MetricsApp()
    rulebook = Rulebook(tmp_path / "rulebook", "emergency.rollback.auto_rollback")
    alertmanager = Alertmanager(tmp_path / "alertmanager", config=alertmanager_config(rulebook))
    rules = [
        rule("AppErrorRateHigh", SERVICE, "critical", host="web-eda"),  # the host the alert is about
        rule("BillingErrorRateHigh", "eda-billing", "critical"),  # a service not mapped
        rule("AppErrorRateWarn", SERVICE, "warning"),  # a severity the rulebook does not act on
        rule("SearchErrorRateHigh", "eda-search", "critical"),  # listed, but in neither map
    ]
    prometheus = Prometheus(tmp_path / "prometheus", ["127.0.0.1:%d" % app.port], rules, alertmanager)
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "rollback_state_dir": str(state_dir),
        "rollback_maintenance": False,
        "app_root": str(layout),
        "app_rollback_to": "r1",
    }
    variables = {
        "rollback_eda_token": TOKEN,
        "rollback_eda_severities": ["critical"],
        "rollback_eda_services": [SERVICE, "eda-search"],
        "rollback_eda_components": {SERVICE: ["app"]},
        "rollback_eda_analysis": {SERVICE: error_rate_analysis(prometheus)},
    }
    # A second app host the alert is not about: the alert's host label names the first, so the
    # run is narrowed to it (and the controller) and leaves this one alone.
    other = dict(host, app_root=str(make_layout(tmp_path / "other", ["r1", "r2"], live="r2")))
    other["rollback_state_dir"] = str(tmp_path / "other-state")
    variables["rollback_eda_host_label"] = "host"
    started = []
    try:
        started.append(app.start())
        # the implicit localhost (the controller's plays) takes the all group's variables
        controller = {"rollback_state_dir": str(state_dir), "ansible_python_interpreter": sys.executable}
        inventory = {"all": {"vars": controller, "children": {"web": {"hosts": {"web-eda": host, "web-other": other}}}}}
        started.append(rulebook.start(inventory, variables))
        started.append(alertmanager.start())
        started.append(prometheus.start())
        yield app, prometheus, rulebook, layout, state_dir, Path(other["app_root"])
    finally:
        for service in reversed(started):
            service.stop()


def test_firing_alert_rolls_back_once_and_journals_its_fingerprint(stack):
    app, prometheus, rulebook, layout, state_dir, other_layout = stack
    began = time.monotonic()
    app.values["app_error_rate_pct"] = 9.5

    def triggers():
        return [e for e in journal(state_dir) if e["action"] == "trigger"]

    rulebook.wait_until(triggers, 60, "the alert started auto_rollback.yml")
    [trigger] = triggers()
    fingerprint = trigger["to"]
    assert trigger["details"]["fingerprint"] == fingerprint and trigger["details"]["service"] == SERVICE
    assert (trigger["from"], trigger["details"]["alertname"]) == ("alertmanager", "AppErrorRateHigh")
    assert "fingerprint %s" % fingerprint in trigger["message"]

    # While the rollback runs, the same alert fires again (Alertmanager's repeats, and one sent here)
    assert post(rulebook.url + "/alerts", {"alerts": [firing(fingerprint)]}) == 202
    run_id = trigger["run_id"]

    def finished():
        entries = journal(state_dir)
        return any(e["run_id"] == run_id and (e["component"], e["action"]) == ("lock", "release") for e in entries)

    rulebook.wait_until(finished, 180, "the rollback finished")  # minutes on a loaded machine
    rolled_back_s = time.monotonic() - began
    assert live_of(layout) == "r1"
    assert live_of(other_layout) == "r2", "the run was not narrowed to the alert's instance"
    assert "hosts web-eda,localhost" in rulebook.text()
    entries = [e for e in journal(state_dir) if e["run_id"] == run_id]
    assert [(e["from"], e["to"]) for e in entries if e["component"] == "app" and e["action"] == "release"] == [
        ("r2", "r1")
    ]
    [decision] = [e for e in entries if e["action"] == "decision"]
    assert decision["message"] == "proceed: analysis Failed"
    assert rulebook.received(fingerprint) >= 2, rulebook.received_alerts()

    # Actions run one after the other: a repeat the rules had let through would start now.
    rulebook.wait_until(lambda: "PLAY RECAP" in rulebook.text(), 120, "the playbook ended")
    # Healthy again: the resolved notification arrives and starts nothing.
    app.values["app_error_rate_pct"] = 0.2
    rulebook.wait_until(lambda: rulebook.received(fingerprint, "resolved") >= 1, 60, "the alert resolved")
    time.sleep(3)
    assert rulebook.playbook_actions() == [("Roll back on Alertmanager alerts", "A mapped service's alert fires")]
    assert len(triggers()) == 1, triggers()
    assert rulebook.plays("Analyse the release") == 1
    # the unmapped service, the warning and the service without maps fired too, and started nothing
    names = {(name, status) for name, status, _ in rulebook.received_alerts()}
    assert {("BillingErrorRateHigh", "firing"), ("AppErrorRateWarn", "firing")} <= names
    # a listed service without components or analysis: the rule matched, the action refused to start
    assert ("SearchErrorRateHigh", "firing") in names
    assert "Undefined jinja variable  'eda-search' in action run_playbook" in rulebook.text()
    print("firing to rolled back: %.1fs" % rolled_back_s)
