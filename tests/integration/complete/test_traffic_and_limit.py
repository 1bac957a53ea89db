"""rollback_complete on the localhost sandbox with more than one host: traffic weights in the undo
ledger (two load balancers, one gate fails), and --limit to one of two app hosts."""

from __future__ import annotations

import json
import sys

import pytest

from tests.harness import services
from tests.harness.app import live_of, make_layout
from tests.harness.sslcache import pki, tls_site  # noqa: F401 - fixtures
from tests.harness.stack import COMPLETE, VERDICT

pytestmark = pytest.mark.integration

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
# hand-written, as before the first run of the traffic role: blue serves, green is down
UPSTREAM = "upstream app {\n    server 127.0.0.1:%d weight=1;\n    server 127.0.0.1:%d down;\n}\n"


def test_weights_go_back_when_another_load_balancer_fails(playbook, sandbox, tmp_path):
    green = services.free_port()  # the restore pool; nothing listens there, the gates decide
    pools = {"blue": ["127.0.0.1:%d" % sandbox.app_port], "green": ["127.0.0.1:%d" % green]}
    inventory = sandbox.inventory()
    lbs = {}
    healthy, dead = "127.0.0.1:%d" % sandbox.app_port, "127.0.0.1:%d" % services.free_port()
    for name, health in (("lb1", healthy), ("lb2", dead)):
        upstream = tmp_path / ("%s-upstream.conf" % name)
        upstream.write_text(UPSTREAM % (sandbox.app_port, green))
        lbs[name] = dict(
            LOCAL,
            traffic_upstream_path=str(upstream),
            traffic_health_urls=["http://%s/health" % health],
        )
    inventory["all"]["children"]["loadbalancers"] = {"hosts": lbs}
    extravars = sandbox.extravars(
        rollback_components=["app"],
        rollback_maintenance=False,
        traffic_pools=pools,
        traffic_restore_pool="green",
        traffic_steps=[50, 100],
        traffic_soak_seconds=0,
        traffic_health_attempts=1,
    )
    del extravars["traffic_upstream_path"]

    run = playbook(COMPLETE, inventory=inventory, extravars=extravars)
    assert run.rc != 0
    msg = run.result(VERDICT)["msg"]
    assert "Why: traffic on lb2: traffic: gradual restore of pool green failed at 50%" in msg, msg
    # lb1 finished its restore (green at 100) before the revert: the ledger puts it back
    assert 'traffic on lb1: upstream app back to {"blue": 1, "green": 0}' in msg, msg
    assert "app on localhost: release r1 -> r2" in msg, msg
    for name in ("lb1", "lb2"):
        text = (tmp_path / ("%s-upstream.conf" % name)).read_text()
        assert "server 127.0.0.1:%d down;" % green in text, (name, text)
        assert "server 127.0.0.1:%d weight=1;" % sandbox.app_port in text, (name, text)
    assert live_of(sandbox.root) == "r2"
    weights = [e["to"] for e in sandbox.journal() if e["action"] == "weights"]
    assert weights[-1] == {"blue": 1, "green": 0}
    assert {"blue": 0, "green": 100} in weights  # lb1 got there


def test_limit_touches_only_the_limited_host(playbook, sandbox, tmp_path):
    second = make_layout(tmp_path / "web2", ["r1", "r2"], live="r2")
    extravars = sandbox.extravars(rollback_components=["app"], rollback_maintenance=False, rollback_smoke_checks=[])
    # two app hosts, both local: the sandbox's layout on web1, another on web2, each its own state dir
    first = {key: extravars.pop(key) for key in ("app_root", "rollback_state_dir", "app_health_urls")}
    inventory = sandbox.inventory()
    inventory["all"]["children"]["web"] = {
        "hosts": {
            "web1": dict(LOCAL, **first),
            "web2": dict(
                LOCAL, app_root=str(second), rollback_state_dir=str(tmp_path / "web2-state"), app_health_urls=[]
            ),
        }
    }

    # without the controller in the limit the verify and verdict plays would not run: refused
    refused = playbook(COMPLETE, inventory=inventory, extravars=extravars, limit="web2")
    assert refused.rc != 0
    msg = refused.task_results("A limit keeps the controller in")[0]["res"]["msg"]
    assert msg.endswith("use --limit 'web2,localhost'; nothing was changed."), msg
    assert live_of(second) == "r2" and not (tmp_path / "web2-state" / "journal.jsonl").exists()

    run = playbook(COMPLETE, inventory=inventory, extravars=extravars, limit="web2,localhost")
    assert run.rc == 0, run.stdout[-4000:]
    assert live_of(second) == "r1"
    assert live_of(sandbox.root) == "r2"  # the host left out is untouched
    assert [e for e in sandbox.journal() if e["component"] != "database"] == []  # only the sandbox's own dump
    assert not (tmp_path / "web2-state" / "rollback.lock").exists()
    journal = (tmp_path / "web2-state" / "journal.jsonl").read_text().splitlines()
    verdicts = [(e["component"], e["result"]) for e in map(json.loads, journal) if e["action"] == "verify"]
    assert verdicts == [("app", "not_verified")], verdicts  # web2 has no health URL
