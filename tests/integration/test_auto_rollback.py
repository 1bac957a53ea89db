"""auto_rollback.yml, the decision in rollback_complete's assess play, and rollback_drill.yml.

A real Prometheus scrapes an app whose error rate the test sets; the rollback part is the app
role on a local ansistrano layout (r2, the bad deploy, live; r1 the release to go back to).
"""

from __future__ import annotations

import json
import re
import sys
import threading
from pathlib import Path

import pytest

from tests.harness.app import live_of, make_layout
from tests.harness.monitoring import error_rate_analysis as analysis
from tests.harness.providers import SlackStandIn

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
AUTO = str(REPO / "playbooks" / "auto_rollback.yml")
COMPLETE = str(REPO / "playbooks" / "rollback_complete.yml")
DRILL = str(REPO / "playbooks" / "rollback_drill.yml")
HEALTHY = {"app_error_rate_pct": 0.2, "app_latency_p95_seconds": 0.3}


@pytest.fixture
def app(metrics_app, prometheus):
    """The metrics app healthy before and after each test, and Prometheus seeing it."""
    metrics_app.values.update(HEALTHY)
    prometheus.wait_for("app_error_rate_pct", lambda v: v == 0.2)
    yield metrics_app
    metrics_app.values.update(HEALTHY)


@pytest.fixture
def layout(tmp_path):
    return make_layout(tmp_path / "app", ["r1", "r2"], live="r2")


def inventory(**host_vars):
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **host_vars}
    return {"all": {"children": {"web": {"hosts": {"localhost": host}}}}}


def extravars(layout, state_dir, **extra):
    variables = {
        "rollback_components": ["app"],
        "rollback_maintenance": False,
        "rollback_state_dir": str(state_dir),
        "app_root": str(layout),
        "app_rollback_to": "r1",
    }
    variables.update(extra)
    return variables


def journal(state_dir):
    path = Path(state_dir) / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def switched(entries):
    return [e for e in entries if e["component"] == "app" and e["action"] == "release"]


def test_healthy_release_runs_nothing(app, prometheus, playbook, layout, state_dir):
    run = playbook(
        AUTO, inventory=inventory(), extravars=extravars(layout, state_dir, rollback_analysis=analysis(prometheus))
    )
    assert run.rc == 0, run.stdout
    assert live_of(layout) == "r2"
    assert "analysis Successful (error_rate healthy): nothing to roll back" in run.stdout
    entries = journal(state_dir)
    assert [(e["action"], e["to"]) for e in entries] == [("analysis", "Successful")]
    assert not switched(entries) and not (Path(state_dir) / "rollback.lock").exists()


def test_error_rate_above_threshold_rolls_back_with_alerts_silenced(
    app, prometheus, alertmanager, playbook, layout, state_dir
):
    app.values["app_error_rate_pct"] = 9.5
    prometheus.wait_for("app_error_rate_pct", lambda v: v == 9.5)
    variables = extravars(
        layout,
        state_dir,
        rollback_analysis=analysis(prometheus),
        rollback_alertmanager_url=alertmanager.url,
        rollback_silence_matchers=[{"name": "service", "value": "auto-%s" % state_dir.name}],
    )
    run = playbook(AUTO, inventory=inventory(), extravars=variables)
    assert run.rc == 0, run.stdout
    assert live_of(layout) == "r1"
    entries = journal(state_dir)
    actions = [(e["component"], e["action"], e["result"]) for e in entries if e["component"] != "lock"]
    assert actions[:3] == [
        ("analysis", "analysis", "failed"),
        ("rollback", "decision", "ok"),
        ("rollback", "assess", "ok"),
    ]
    [decision] = [e for e in entries if e["action"] == "decision"]
    assert decision["to"] == "Failed" and decision["message"] == "proceed: analysis Failed"
    assert decision["details"]["analysis_phase"] == "Failed"
    assert [m["value"] for m in decision["details"]["analysis_metrics"][0]["measurements"]] == [9.5]
    # one run id from the analysis to the switch
    assert len({e["run_id"] for e in entries}) == 1
    assert [(e["from"], e["to"]) for e in switched(entries)] == [("r2", "r1")], actions
    # the silence was created for the run and expired at its end
    silence = [e for e in entries if e["action"] == "silence"][0]
    ours = [s for s in alertmanager.silences() if s["id"] == silence["to"]]
    assert silence["result"] == "changed" and ours and ours[0]["status"]["state"] == "expired"
    # the report of the run, with the decision and its measurements
    run_id, forms = reports(state_dir)
    data = json.loads(forms[".json"])
    assert run_id == decision["run_id"] and sorted(forms) == [".html", ".json", ".md"]
    assert [d["action"] for d in data["decision"]] == ["analysis", "decision"]
    assert "proceed: analysis Failed" in forms[".md"]


def test_no_data_is_a_failure_and_rolls_back(app, prometheus, playbook, layout, state_dir):
    app.values["app_error_rate_pct"] = None
    prometheus.wait_for("app_error_rate_pct", lambda v: v is None)
    run = playbook(
        AUTO, inventory=inventory(), extravars=extravars(layout, state_dir, rollback_analysis=analysis(prometheus))
    )
    assert run.rc == 0, run.stdout
    assert live_of(layout) == "r1"
    entries = journal(state_dir)
    [decision] = [e for e in entries if e["action"] == "decision"]
    [measurement] = decision["details"]["analysis_metrics"][0]["measurements"]
    assert decision["to"] == "Failed" and (measurement["value"], measurement["message"]) == (None, "no data")
    # without an Alertmanager nothing is silenced, and the assessment says so
    [assess] = [e for e in entries if e["action"] == "assess"]
    assert assess["message"].endswith("alerts not silenced: no rollback_alertmanager_url given")
    assert not [e for e in entries if e["action"] == "silence"]


def test_flapping_release_pauses_without_a_rollback(app, prometheus, playbook, layout, state_dir):
    stop = threading.Event()

    def flap():
        while not stop.is_set():
            app.values["app_error_rate_pct"] = 3.0 if app.values["app_error_rate_pct"] != 3.0 else 0.4
            stop.wait(0.5)

    slack = SlackStandIn()
    slack.start()
    flapper = threading.Thread(target=flap, daemon=True)
    flapper.start()
    try:
        options = analysis(prometheus, count=6, interval="0.7s", initial_delay="2s")
        options["metrics"][0].update(query="max_over_time(app_error_rate_pct[2s])", inconclusive_limit=1)
        variables = extravars(layout, state_dir, rollback_analysis=options, webhooks_notify_slack_url=slack.hook_url)
        run = playbook(AUTO, inventory=inventory(), extravars=variables)
    finally:
        stop.set()
        flapper.join()
        slack.stop()
    assert run.rc != 0
    assert run.result("Stop, paused")["msg"].startswith("Paused, not rolled back: the analysis was Inconclusive")
    assert live_of(layout) == "r2"
    entries = journal(state_dir)
    assert [(e["action"], e["to"], e["result"]) for e in entries if e["action"] != "slack"] == [
        ("analysis", "Inconclusive", "failed"),
        ("decision", "paused", "not_verified"),
    ]
    [posted] = slack.seen(method="POST")
    assert "automatic rollback paused" in json.dumps(posted.json())


@pytest.mark.parametrize(
    ("metrics", "extra", "go", "reason"),
    [
        ({"error_rate_pct": 0.1}, {}, False, "level none: no trigger of policy runbook-default fired"),
        (
            {"p95_latency_s": {"value": 2.5, "for_s": 400}},
            {},
            False,
            "needs the approval of on_call_engineer, team_lead",
        ),
        ({"p95_latency_s": {"value": 2.5, "for_s": 400}}, {"rollback_approved_by": "lead"}, True, "approved by lead"),
    ],
)
# The other rows of the rule (immediate, force, analysis phases) are unit tests of rollback_proceed.
def test_assess_decides_from_metrics(playbook, layout, state_dir, metrics, extra, go, reason):
    run = playbook(
        COMPLETE, inventory=inventory(), extravars=extravars(layout, state_dir, rollback_metrics=metrics, **extra)
    )
    entries = journal(state_dir)
    [decision] = [e for e in entries if e["action"] == "decision"]
    assert reason in decision["message"]
    assert decision["message"].startswith("proceed: " if go else "stop: ")
    if go:
        assert run.rc == 0, run.stdout
        assert live_of(layout) == "r1"
    else:
        assert run.rc != 0
        msg = run.result("Stop with the reason")["msg"]
        assert msg.startswith("Not rolled back, nothing changed: ") and "\n" not in msg
        assert live_of(layout) == "r2" and not switched(entries)
        assert [e["action"] for e in entries] == ["acquire", "decision", "release"]
        assert not (Path(state_dir) / "rollback.lock").exists()
        assert "Announce the start" not in run.results


def drills(state_dir):
    path = Path(state_dir) / "drills.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_drill_deploys_rolls_back_and_records_history(playbook, tmp_path, state_dir):
    root = make_layout(tmp_path / "drill", ["r1"], live="r1")
    variables = {"rollback_components": ["app"], "rollback_maintenance": False, "rollback_state_dir": str(state_dir)}
    variables["app_root"] = str(root)
    earlier = {"drill": "drill-20261101T000000Z", "event": "finished", "result": "verified", "duration_s": 9.0}
    (state_dir / "drills.jsonl").write_text(json.dumps(earlier) + "\n")
    run = playbook(DRILL, inventory=inventory(rollback_environment="staging"), extravars=variables)
    assert run.rc == 0, run.stdout
    assert live_of(root) == "r1"
    history = drills(state_dir)
    assert len(history) == 3 and history[0] == earlier
    started, finished = history[-2:]
    assert started["event"] == "started" and started["components"] == ["app"]
    assert (
        finished["event"] == "finished" and finished["result"] == "verified" and finished["drill"] == started["drill"]
    )
    assert 0 < finished["duration_s"] < 120 and finished["hosts"] == ["localhost"] and finished["not_back"] == []
    # the test change went live and came back
    switches = [(e["from"], e["to"]) for e in switched(journal(state_dir)) if e["run_id"] == finished["run_id"]]
    assert switches == [("r1", started["drill"]), (started["drill"], "r1")]
    assert (root / "releases" / started["drill"] / "DRILL").exists()


def test_failed_drill_records_its_result_then_fails(playbook, tmp_path, state_dir):
    root = make_layout(tmp_path / "drill", ["r1"], live="r1")
    variables = {"rollback_components": ["app"], "rollback_maintenance": False, "rollback_state_dir": str(state_dir)}
    # nothing answers the smoke check: the verify fails and the stack goes back to the test change
    from tests.harness import services

    smoke = [{"url": "http://127.0.0.1:%d/" % services.free_port(), "status": 200}]
    variables.update(app_root=str(root), rollback_smoke_checks=smoke, rollback_smoke_attempts=1)
    run = playbook(DRILL, inventory=inventory(rollback_environment="staging"), extravars=variables)
    assert run.rc != 0
    started, finished = drills(state_dir)
    assert finished["event"] == "finished" and finished["drill"] == started["drill"]
    assert finished["result"] == "failed" and "stack was reverted" in finished["why"], finished
    assert live_of(root) == started["drill"]  # reverted to where the rollback started
    assert "drill failed: The complete rollback failed" in run.result("Fail as the complete rollback did")["msg"]


def test_drill_refuses_production(playbook, tmp_path, state_dir):
    root = make_layout(tmp_path / "drill", ["r1"], live="r1")
    variables = {"rollback_components": ["app"], "rollback_state_dir": str(state_dir), "app_root": str(root)}
    run = playbook(DRILL, inventory=inventory(rollback_environment="production"), extravars=variables)
    assert run.rc != 0
    assert (
        "Refusing a drill on an inventory marked rollback_environment: production"
        in run.result("Not a production inventory")["msg"]
    )
    assert sorted(p.name for p in (root / "releases").iterdir()) == ["r1"]
    assert not drills(state_dir) and not journal(state_dir)


def reports(state_dir):
    """The three forms the complete rollback wrote at its end, by suffix."""
    [run_dir] = (Path(state_dir) / "reports").iterdir()
    return run_dir.name, {p.suffix: p.read_text() for p in run_dir.iterdir()}


def test_failed_and_reverted_run_writes_the_report_with_the_revert(playbook, layout, state_dir):
    # r1 has no health file: the app role's verify fails on it and the role puts r2 back
    (layout / "releases" / "r1" / "public" / "health").unlink()
    from tests.harness import services

    port = services.free_port()
    variables = extravars(layout, state_dir, app_health_urls=["http://127.0.0.1:%d/health" % port])
    variables.update(app_health_attempts=1, app_health_interval=0.1)
    run = playbook(COMPLETE, inventory=inventory(), extravars=variables)
    assert run.rc != 0
    assert live_of(layout) == "r2"
    run_id, forms = reports(state_dir)
    assert sorted(forms) == [".html", ".json", ".md"]
    data = json.loads(forms[".json"])
    assert data["run_id"] == run_id and data["verdict"] == "failed"
    # the three forms agree with the journal: every entry of the run is on the timeline
    entries = [e for e in journal(state_dir) if e["run_id"] == run_id]
    assert len(data["timeline"]) == len(entries)
    assert ("app", "revert", "reverted") in {
        (p["component"], p["phase"], p["result"]) for p in data["phases"]["localhost"]
    }
    assert re.search(r'data-phase="revert"[^>]*data-result="reverted"', forms[".html"])
    assert "| localhost | app | revert |" in forms[".md"]
