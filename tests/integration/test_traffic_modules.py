"""maintenance and traffic_weights against a real nginx load balancer."""

from __future__ import annotations

import json

import pytest

from tests.harness.traffic import lb  # noqa: F401 - fixture

pytestmark = pytest.mark.integration
MAINT = "emergency.rollback.maintenance"
WEIGHTS = "emergency.rollback.traffic_weights"


def journal(state_dir):
    path = state_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_maintenance_four_runs_on_then_off(four, lb, state_dir):  # noqa: F811
    args = lb.maintenance_args(state_dir=str(state_dir), retry_after=42, allow_paths=["/healthz"])
    check, real, check2, real2 = four(MAINT, args)
    assert check["enabled"] is True and check["enabled_before"] is False and check["reloaded"] is False
    assert "maintenance: on" in check["diff"]["after"] and "maintenance: off" in check["diff"]["before"]
    assert real["reloaded"] is True and real["snapshot"]["id"]
    assert check2["enabled_before"] is True and real2["reloaded"] is False and real2["snapshot"] is None

    status, headers, body = lb.wait_for(lambda a: a[0] == 503)
    assert status == 503 and headers["Retry-After"] == "42" and "Down for maintenance" in body
    assert lb.get("/healthz")[0] == 200  # health checks pass through to the backend
    # the safety snapshot holds the file as it was, in the layout config_snapshot restores
    kept = list((state_dir / "snapshots" / "traffic" / real["snapshot"]["id"] / "files").rglob("maintenance.conf"))
    assert [p.read_text() for p in kept] == ["# maintenance: off\n"]

    off = four(MAINT, lb.maintenance_args(state_dir=str(state_dir), state="disabled"))
    assert off[1]["enabled_before"] is True and off[1]["enabled"] is False
    assert lb.wait_for(lambda a: a[0] == 200)[0] == 200

    entries = [e for e in journal(state_dir) if e["component"] == "traffic"]
    assert [(e["action"], e["result"]) for e in entries] == [
        ("maintenance_on", "changed"),
        ("maintenance_on", "ok"),
        ("maintenance_off", "changed"),
        ("maintenance_off", "ok"),
    ]
    assert (entries[0]["from"], entries[0]["to"]) == ("off", "on")


def test_maintenance_lets_allowed_ip_through(task, lb, state_dir):  # noqa: F811
    event, res, _ = task(MAINT, lb.maintenance_args(state_dir=str(state_dir), allow_ips=["127.0.0.1"]))
    assert event == "runner_on_ok" and res["changed"] is True
    assert lb.get()[0] == 200


def test_weights_four_runs_blue_green_and_back(four, lb, state_dir):  # noqa: F811
    check, real, check2, real2 = four(WEIGHTS, lb.weights_args({"blue": 0, "green": 1}, state_dir=str(state_dir)))
    assert check["previous_weights"] == real["previous_weights"] == {"blue": 1, "green": 0}
    assert check["weights"] == {"blue": 0, "green": 1} and check["reloaded"] is False
    assert "down" in check["diff"]["before"] and real["reloaded"] is True and real["snapshot"]["id"]
    assert check2["previous_weights"] == real2["previous_weights"] == {"blue": 0, "green": 1}
    assert real2["snapshot"] is None
    assert lb.wait_for(lambda a: a[2] == "green\n")[2] == "green\n"
    assert {lb.get()[2] for _ in range(20)} == {"green\n"}

    # back to what was live, from the returned previous weights
    back = four(WEIGHTS, lb.weights_args(real["previous_weights"], state_dir=str(state_dir)))
    assert back[1]["previous_weights"] == {"blue": 0, "green": 1}
    assert lb.wait_for(lambda a: a[2] == "blue\n")[2] == "blue\n"
    assert {lb.get()[2] for _ in range(20)} == {"blue\n"}
    entries = [e for e in journal(state_dir) if e["action"] == "weights"]
    assert entries[0]["from"] == {"blue": 1, "green": 0} and entries[0]["to"] == {"blue": 0, "green": 1}


def test_failing_nginx_test_leaves_previous_conf_live(task, lb, state_dir):  # noqa: F811
    # a server address nginx cannot resolve passes our syntax check but fails nginx -t
    before = lb.upstream.read_text()
    pools = {"blue": ["127.0.0.1:%d" % lb.blue], "green": ["no-such-host.invalid:80"]}
    args = lb.weights_args({"blue": 1, "green": 1}, state_dir=str(state_dir))
    args["pools"] = pools
    event, res, _ = task(WEIGHTS, args)
    assert event == "runner_on_failed"
    assert res["msg"].startswith("nginx -t failed with the new %s" % lb.upstream)
    assert res["msg"].endswith("the previous file was put back and nginx was not reloaded")
    assert lb.upstream.read_text() == before
    assert lb.nginx.test_config().returncode == 0
    assert {lb.get()[2] for _ in range(10)} == {"blue\n"}
    assert [e["result"] for e in journal(state_dir) if e["action"] == "weights"] == ["failed"]


def test_maintenance_off_on_a_full_state_dir_serves_the_site(task, lb, full_disk):  # noqa: F811
    """The page goes off although the state dir has no room for the safety snapshot or the journal
    line: check, real, check (not changed), real (not changed); the page does not go on again."""
    args = lb.maintenance_args(state_dir=str(full_disk.path))
    off = dict(args, state="disabled")
    # on without a journal: an append into the free tail of an existing file would still fit
    event, on, _ = task(MAINT, dict(args, journal=False))
    assert event == "runner_on_ok" and on["snapshot"]
    assert lb.wait_for(lambda a: a[0] == 503)[0] == 503
    full_disk.fill()

    event, check, _ = task(MAINT, off, check=True, diff=True)
    assert event == "runner_on_ok" and check["changed"] and "maintenance: off" in check["diff"]["after"]
    event, real, _ = task(MAINT, off)
    assert event == "runner_on_ok", real.get("msg")
    assert real["changed"] and real["reloaded"] and real["snapshot"] is None
    assert real["journal_error"] == "No space left on device"
    assert any("no safety snapshot" in w for w in real["warnings"])
    assert lb.wait_for(lambda a: a[0] == 200)[0] == 200
    for check_mode in (True, False):
        event, again, _ = task(MAINT, off, check=check_mode)
        assert event == "runner_on_ok" and not again["changed"]

    before = lb.maintenance.read_text()
    event, refused, _ = task(MAINT, args)
    assert event == "runner_on_failed" and refused["msg"].endswith("nothing was changed")
    assert lb.maintenance.read_text() == before and lb.get()[0] == 200


def test_broken_live_config_is_refused_before_any_change(task, lb, state_dir):  # noqa: F811
    # test_command stands for an nginx -t that fails on the live configuration
    args = lb.maintenance_args(state_dir=str(state_dir), test_command=["false"])
    before = lb.maintenance.read_text()
    event, res, _ = task(MAINT, args)
    assert event == "runner_on_failed" and "before any change" in res["msg"]
    assert lb.maintenance.read_text() == before and not (state_dir / "snapshots").exists()


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        (MAINT, {"retry_after": 0}, "retry_after must be at least 1 second"),
        (MAINT, {"allow_ips": ["10.0.0.0/8"]}, "is not an IP address"),
        (MAINT, {"body": "costs $5"}, "body must not contain $"),
        (MAINT, {"allow_paths": ["health"]}, "is not a request path"),
        (WEIGHTS, {"weights": {"blue": 0, "green": 0}}, "every pool has weight 0"),
        (WEIGHTS, {"weights": {"blue": 1}}, "weights must name every pool exactly"),
        (WEIGHTS, {"weights": {"blue": -1, "green": 1}}, "weight of pool blue must be an integer"),
        (WEIGHTS, {"directives": ["server 1.2.3.4:80"]}, "servers come from pools"),
    ],
)
def test_bad_input_one_line_error_nothing_changed(task, lb, state_dir, module, args, message):  # noqa: F811
    base = lb.maintenance_args() if module == MAINT else lb.weights_args({"blue": 1, "green": 1})
    base.update(args, state_dir=str(state_dir))
    files = (lb.maintenance.read_text(), lb.upstream.read_text())
    event, res, _ = task(module, base)
    assert event == "runner_on_failed"
    assert message in res["msg"] and "\n" not in res["msg"] and res["msg"].endswith("nothing was changed")
    assert (lb.maintenance.read_text(), lb.upstream.read_text()) == files
    assert not (state_dir / "journal.jsonl").exists() and not (state_dir / "snapshots").exists()
