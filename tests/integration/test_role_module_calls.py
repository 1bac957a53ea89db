"""Module runs on the host for a no-op re-run of each role playbook on one host (each is a fork,
a transfer and a Python start on the target). The count is printed; the budget keeps it from
creeping up. A fleet adds the preflight barrier's calls: its preflight modules, and with batches
(rollback_serial) the release of the lock it took."""

from __future__ import annotations

import json
import sys

import pytest

from tests.harness.ansible import REPO
from tests.harness.app import SITE, make_layout
from tests.harness.sslcache import pki, tls_site  # noqa: F401 - fixtures
from tests.integration.webhooks.conftest import generic_api, square, stripe  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

# Actions that run on the controller only: not a module run on the host.
CONTROLLER = {
    "set_fact",
    "assert",
    "fail",
    "debug",
    "meta",
    "include_tasks",
    "import_tasks",
    "include_role",
    "import_role",
    "include_vars",
    "validate_argument_spec",
}


def module_calls(run):
    """Module runs per host in a finished PlaybookRun: loop items count one each."""
    calls = {}
    for ev in run.events:
        if ev.get("event") not in ("runner_on_ok", "runner_on_failed"):
            continue
        data = ev["event_data"]
        if data.get("task_action", "").rsplit(".", 1)[-1] in CONTROLLER:
            continue
        res = data.get("res", {})
        items = res.get("results")
        n = len([r for r in items if not r.get("skipped")]) if isinstance(items, list) else 1
        calls[data["host"]] = calls.get(data["host"], 0) + n
    return calls


def rerun_calls(playbook, path, capsys, label, **kwargs):
    first = playbook(str(REPO / "playbooks" / path), **kwargs)
    assert first.rc == 0, first.stdout[-3000:]
    again = playbook(str(REPO / "playbooks" / path), **kwargs)
    assert again.rc == 0, again.stdout[-3000:]
    calls = module_calls(again)
    with capsys.disabled():
        print("\nmodule calls per host, no-op re-run of %s: %s" % (label, calls))
    return calls


def test_app(playbook, tmp_path, capsys):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    extravars = {"rollback_hosts": "all", "app_root": str(root), "app_state_dir": str(tmp_path / "state")}
    calls = rerun_calls(playbook, "rollback_app.yml", capsys, "app", extravars=extravars)
    # one host, nothing between the switch and the verdict: lock, switch (a no-op here), verdict
    # and unlock in one module run
    assert calls["localhost"] == 1


def two_app_hosts(tmp_path):
    """web1 and web2, local connections, each with its own layout (r3 live) and state dir."""
    hosts = {}
    for name in ("web1", "web2"):
        root = make_layout(tmp_path / name, ["r1", "r2", "r3"], live="r3")
        hosts[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "app_root": str(root),
            "app_state_dir": str(tmp_path / ("state-" + name)),
        }
    return hosts


def test_app_fleet_keeps_the_preflight_lock(playbook, tmp_path, capsys):
    """Two hosts, one batch: the barrier's lock is held on into the rollback play, taken and
    released once per host, in two module runs; with batches it is released after the barrier and
    taken again."""
    hosts = two_app_hosts(tmp_path)
    inventory = {"all": {"children": {"web": {"hosts": hosts}}}}

    def lock_steps(name):
        journal = tmp_path / ("state-" + name) / "journal.jsonl"
        entries = [json.loads(line) for line in journal.read_text().splitlines()]
        return [e["action"] for e in entries if e["component"] == "lock"]

    run = playbook(str(REPO / "playbooks" / "rollback_app.yml"), inventory=inventory)
    assert run.rc == 0, run.stdout[-3000:]
    calls = module_calls(run)
    with capsys.disabled():
        print("\nmodule calls per host, app on two hosts in one batch: %s" % calls)
    for name in hosts:
        assert lock_steps(name) == ["acquire", "release"]
        assert not (tmp_path / ("state-" + name) / "rollback.lock").exists()
        # the barrier's lock + read + resolve, then the rollback play's one module run: switch,
        # verdict and unlock (the lock it holds already)
        assert calls[name] == 2

    run = playbook(str(REPO / "playbooks" / "rollback_app.yml"), inventory=inventory, extravars={"rollback_serial": 1})
    assert run.rc == 0, run.stdout[-3000:]
    for name in hosts:
        assert lock_steps(name) == ["acquire", "release"] * 3
        assert not (tmp_path / ("state-" + name) / "rollback.lock").exists()


def test_app_fleet_with_a_restart_and_health_from_the_controller(playbook, nginx_factory, tmp_path, capsys):
    """Two hosts, a restart and health checks from the controller: per host the barrier's read,
    then one module run for lock, switch and restart, and one for the verdict and the unlock; the
    health of both hosts in one module run on the controller."""
    hosts = two_app_hosts(tmp_path)
    server = nginx_factory(SITE % hosts["web1"]["app_root"])
    marker = tmp_path / "restarts"
    extravars = {
        "app_restart": "command",
        "app_restart_command": [sys.executable, "-c", "open(%r, 'a').write('x')" % str(marker)],
        "app_health_urls": ["http://127.0.0.1:%d/health" % server.http_port],
        "app_health_from": "controller",
        "app_health_interval": 0.1,
    }
    run = playbook(
        str(REPO / "playbooks" / "rollback_app.yml"),
        inventory={"all": {"children": {"web": {"hosts": hosts}}}},
        extravars=extravars,
    )
    assert run.rc == 0, run.stdout[-3000:]
    calls = module_calls(run)
    with capsys.disabled():
        print("\nmodule calls per host, app on two hosts with a restart and health from the controller: %s" % calls)
    assert marker.read_text() == "xx", "each host restarted once"
    checks = [
        r
        for r in run.task_results("Check the app health of every host of the batch from the controller")
        if not r["res"].get("skipped")
    ]
    assert len(checks) == 1, "one health check for the batch"
    # delegated to the controller, its event names the host it ran for
    calls[checks[0]["host"]] -= 1
    for name in hosts:
        assert calls[name] == 3
        journal = (tmp_path / ("state-" + name) / "journal.jsonl").read_text().splitlines()
        assert [json.loads(line)["action"] for line in journal] == [
            "acquire",
            "release",
            "restart",
            "verify",
            "release",
        ]
        assert json.loads(journal[3])["result"] == "ok"


def test_cache(playbook, redis_factory, tmp_path, capsys):
    server = redis_factory()
    extravars = {
        "rollback_hosts": "all",
        "cache_state_dir": str(tmp_path / "state"),
        "cache_redis_enabled": True,
        "cache_redis_port": server.port,
        "cache_redis_patterns": ["page:*"],
    }
    calls = rerun_calls(playbook, "rollback_cache.yml", capsys, "cache", extravars=extravars)
    assert calls["localhost"] <= 5


def test_cache_fleet_keeps_the_preflight_lock(playbook, redis_factory, tmp_path):
    """A role that takes the lock first thing (not in its first module): the barrier's lock is
    handed over as well, and every host ends with one acquire and one release."""
    server = redis_factory()
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    hosts = {name: dict(local, cache_state_dir=str(tmp_path / ("state-" + name))) for name in ("cache1", "cache2")}
    extravars = {"cache_redis_enabled": True, "cache_redis_port": server.port, "cache_redis_patterns": ["page:*"]}
    run = playbook(
        str(REPO / "playbooks" / "rollback_cache.yml"),
        inventory={"all": {"children": {"cache": {"hosts": hosts}}}},
        extravars=extravars,
    )
    assert run.rc == 0, run.stdout[-3000:]
    for name in hosts:
        journal = (tmp_path / ("state-" + name) / "journal.jsonl").read_text().splitlines()
        steps = [e["action"] for e in map(json.loads, journal) if e["component"] == "lock"]
        assert steps == ["acquire", "release"]
        assert not (tmp_path / ("state-" + name) / "rollback.lock").exists()


def test_ssl(playbook, tls_site, pki, tmp_path, capsys):  # noqa: F811
    from tests.harness.pki import NAMES

    good = pki["good"]
    extravars = {
        "rollback_hosts": "all",
        "ssl_state_dir": str(tmp_path / "state"),
        "ssl_cert_path": str(tls_site.cert),
        "ssl_key_path": str(tls_site.key),
        "ssl_chain_path": str(tls_site.chain),
        "ssl_src_cert": str(good.fullchain),
        "ssl_src_key": str(good.key),
        "ssl_src_chain": str(good.chain),
        "ssl_ca_path": str(tls_site.pki.ca),
        "ssl_expected_names": list(NAMES),
        "ssl_test_command": tls_site.test_command,
        "ssl_reload_command": tls_site.reload_command,
        "ssl_probe_port": tls_site.nginx.https_port,
        "ssl_probe_retries": 10,
        "ssl_probe_delay": 0.2,
    }
    calls = rerun_calls(playbook, "rollback_ssl.yml", capsys, "ssl", extravars=extravars)
    assert calls["localhost"] <= 7


def test_webhooks(playbook, stripe, square, generic_api, tmp_path, capsys):  # noqa: F811
    from tests.harness.providers import STRIPE_KEY

    stripe_id = stripe.add("https://green.example.com/hooks", ["charge.failed"])
    extravars = {
        "rollback_hosts": "all",
        "webhooks_state_dir": str(tmp_path / "state"),
        "webhooks_stripe_api_key": STRIPE_KEY,
        "webhooks_endpoints": [
            {
                "provider": "stripe",
                "endpoint_id": stripe_id,
                "url": "https://blue.example.com/hooks",
                "api_base_url": stripe.url,
            }
        ],
    }
    calls = rerun_calls(playbook, "rollback_webhooks.yml", capsys, "webhooks (one endpoint)", extravars=extravars)
    assert calls["localhost"] <= 4


def test_database(playbook, task, postgres, tmp_path, capsys):
    from tests.harness.database import new_database

    db = new_database(postgres)
    state = tmp_path / "state"
    try:
        event, res, _ = task("emergency.rollback.pg_snapshot", db.params(state_dir=str(state), snapshot_id="good"))
        assert event == "runner_on_ok", res
        extravars = {
            "rollback_hosts": "all",
            "database_state_dir": str(state),
            "database_name": db.name,
            "database_login_host": postgres.host,
            "database_login_port": postgres.port,
            "database_login_user": postgres.user,
            "database_login_password": postgres.password,
            "database_bin_dir": str(postgres.bin_dir),
            "database_snapshot_verify": False,
            "database_restore_snapshot": "good",
        }
        calls = rerun_calls(playbook, "rollback_database.yml", capsys, "database (restore good)", extravars=extravars)
    finally:
        db.drop_all()
    assert calls["localhost"] <= 7
