"""The traffic role against a real nginx load balancer, with clients counting every answer."""

from __future__ import annotations

import json
import time

import pytest

from tests.harness.traffic import ClientLoop, lb  # noqa: F401 - fixture

pytestmark = pytest.mark.integration
# A reload swaps workers gradually: answers sent this long after a task ended may still be the old ones.
SETTLE = 0.5


def play(lb, state_dir, **role_vars):  # noqa: F811
    variables = {
        "traffic_state_dir": str(state_dir),
        "traffic_test_command": lb.commands["test_command"],
        "traffic_reload_command": lb.commands["reload_command"],
        "traffic_maintenance_path": str(lb.maintenance),
        "traffic_upstream_path": str(lb.upstream),
        "traffic_pools": lb.pools,
        "traffic_restore_pool": "green",
    }
    variables.update(role_vars)
    return [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "traffic",
                    "ansible.builtin.include_role": {"name": "emergency.rollback.traffic"},
                    "vars": variables,
                }
            ],
        }
    ]


def last_failure(run):
    return [r["res"] for rs in run.results.values() for r in rs if r["event"] == "runner_on_failed"][-1]


def timed(playbook, plays):
    start = time.monotonic()
    run = playbook(plays)
    return run, start, time.monotonic()


def test_maintenance_then_gradual_restore_without_errors(playbook, lb, state_dir):  # noqa: F811
    with ClientLoop(lb) as clients:
        time.sleep(0.5)
        check = {"traffic_maintenance_check_url": "http://127.0.0.1:%d/" % lb.nginx.http_port}
        on, on_start, on_end = timed(
            playbook, play(lb, state_dir, traffic_maintenance=True, traffic_maintenance_retry_after=7, **check)
        )
        time.sleep(1.5)
        off, off_start, off_end = timed(playbook, play(lb, state_dir, traffic_maintenance="off", **check))
        time.sleep(1.5)
        steps, steps_start, steps_end = timed(
            playbook,
            play(
                lb,
                state_dir,
                traffic_restore=True,
                traffic_steps=[25, 50, 100],
                traffic_soak_seconds=1,
                traffic_health_urls=["http://127.0.0.1:%d/healthz" % lb.green],
            ),
        )
        time.sleep(1.0)
    assert on.rc == 0 and off.rc == 0 and steps.rc == 0, (on.stdout + off.stdout + steps.stdout)[-3000:]

    everything = clients.answers
    assert len(everything) > 200
    counts = ClientLoop.count(everything)
    assert set(counts) <= {200, 503}, counts  # no 502/504, no connection errors
    before = clients.between(0, on_start)
    during = clients.between(on_end + SETTLE, off_start)
    after = clients.between(off_end + SETTLE, float("inf"))
    assert before and during and after
    assert {a.status for a in before} == {200} and {a.status for a in after} == {200}
    assert {(a.status, a.retry_after) for a in during} == {(503, "7")}
    assert all(a.retry_after == "7" for a in everything if a.status == 503)
    assert not [a for a in everything if a.status == 503 and not on_start <= a.at < off_end + SETTLE]

    # traffic moved to green in steps: blue only before, green only once the last step settled
    assert {a.body for a in clients.between(off_end + SETTLE, steps_start)} == {"blue"}
    assert {a.body for a in clients.between(steps_end + SETTLE, float("inf"))} == {"green"}
    middle = clients.between(steps_start + 2.5, steps_end - 2.5)
    assert {"blue", "green"} <= {a.body for a in middle}, ClientLoop.count(middle)

    entries = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    weights = [e["to"] for e in entries if e["action"] == "weights"]
    assert weights == [{"blue": 75, "green": 25}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    assert [e["action"] for e in entries if e["action"].startswith("maintenance")] == [
        "maintenance_on",
        "maintenance_off",
    ]
    # each switch was checked through the load balancer: 503 while on, 200 once off
    checks = [e for e in entries if e["component"] == "traffic" and e["action"] == "verify"]
    assert [(c["result"], c["to"]) for c in checks[:2]] == [("ok", "healthy"), ("ok", "healthy")]


def test_failed_gate_puts_the_previous_weights_back(playbook, lb, state_dir):  # noqa: F811
    before = lb.upstream.read_text()
    with ClientLoop(lb) as clients:
        run = playbook(
            play(
                lb,
                state_dir,
                traffic_restore=True,
                traffic_steps=[25, 100],
                traffic_soak_seconds=0,
                traffic_health_urls=["http://127.0.0.1:%d/broken" % lb.green],
                traffic_health_attempts=1,
            )
        )
        end = time.monotonic()
        time.sleep(1.0)
    assert run.rc != 0
    failure = last_failure(run)
    assert failure["msg"].startswith("traffic: gradual restore of pool green failed at 25%")
    assert 'put back to {"blue": 1, "green": 0}' in failure["msg"]
    assert lb.upstream.read_text() != before  # now rendered by the module, with the previous weights
    assert "server 127.0.0.1:%d down;" % lb.green in lb.upstream.read_text()
    assert set(ClientLoop.count(clients.answers)) == {200}
    assert {a.body for a in clients.between(end + SETTLE, float("inf"))} == {"blue"}
    entries = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [e["to"] for e in entries if e["action"] == "weights"] == [
        {"blue": 75, "green": 25},
        {"blue": 1, "green": 0},
    ]


def test_failing_gate_hook_reverts_like_a_failed_health_check(playbook, lb, state_dir, tmp_path):  # noqa: F811
    hook = tmp_path / "metrics_gate.yml"
    hook.write_text(
        "- name: Error rate of the new pool is low enough\n"
        "  ansible.builtin.assert:\n"
        "    that: __traffic_step | int < 50\n"
        "    fail_msg: error rate too high at {{ __traffic_step }}%\n"
    )
    run = playbook(
        play(
            lb,
            state_dir,
            traffic_restore=True,
            traffic_steps=[25, 50, 100],
            traffic_soak_seconds=0,
            traffic_gate_tasks_file=str(hook),
        )
    )
    assert run.rc != 0
    failure = last_failure(run)
    assert failure["msg"].startswith("traffic: gradual restore of pool green failed at 50%: error rate too high at 50%")
    entries = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [e["to"] for e in entries if e["action"] == "weights"] == [
        {"blue": 75, "green": 25},
        {"blue": 50, "green": 50},
        {"blue": 1, "green": 0},
    ]
    assert lb.wait_for(lambda a: a[2] == "blue\n")[2] == "blue\n"
    assert {lb.get()[2] for _ in range(20)} == {"blue\n"}


def test_check_mode_changes_nothing(playbook, lb, state_dir):  # noqa: F811
    files = (lb.maintenance.read_text(), lb.upstream.read_text())
    plays = play(lb, state_dir, traffic_maintenance=True, traffic_restore=True, traffic_soak_seconds=0)
    run = playbook(plays, check=True, diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert (lb.maintenance.read_text(), lb.upstream.read_text()) == files
    assert not (state_dir / "journal.jsonl").exists()
    assert "maintenance: on" in run.stdout


def test_failing_analysis_gate_puts_the_previous_weights_back(playbook, lb, state_dir, metrics_app, prometheus):  # noqa: F811
    metrics_app.values["app_error_rate_pct"] = 9.5
    try:
        prometheus.wait_for("app_error_rate_pct", lambda v: v == 9.5)
        analysis = {
            "prometheus_url": prometheus.url,
            "interval": "0.2s",
            "count": 1,
            "metrics": [{"name": "error_rate", "query": "app_error_rate_pct", "failure_condition": "result >= 5"}],
        }
        run = playbook(play(lb, state_dir, traffic_restore=True, traffic_soak_seconds=0, traffic_analysis=analysis))
    finally:
        metrics_app.values["app_error_rate_pct"] = 0.2
    assert run.rc != 0
    failure = last_failure(run)
    assert failure["msg"].startswith(
        "traffic: gradual restore of pool green failed at 25%: analysis gate at 25%: Failed (error_rate)"
    )
    entries = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    # the gate's measurement is journaled by the traffic component, then the weights go back
    assert [(e["action"], e["to"]) for e in entries if e["action"] in ("weights", "analysis")] == [
        ("weights", {"blue": 75, "green": 25}),
        ("analysis", "Failed"),
        ("weights", {"blue": 1, "green": 0}),
    ]
    assert lb.wait_for(lambda a: a[2] == "blue\n")[2] == "blue\n"
