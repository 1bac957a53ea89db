"""Partial rollbacks by service (rollback_services + the inventory's rollback_service_map) on the
localhost sandbox of the complete rollback: only the parts the service maps to change."""

from __future__ import annotations

import pytest

from tests.harness.app import live_of
from tests.harness.sslcache import pki, tls_site  # noqa: F401 - fixtures
from tests.harness.stack import BAD_HOOK, GOOD_HOOK, PARTIAL

pytestmark = pytest.mark.integration

BOOKING_HOOK = "https://shop.example.com/v2/webhooks/booking"
# What the parts of a service are: role variables the service plan replaces, so they belong to the
# inventory (extra vars would outrank the plan).
ROLE_PARTS = ("webhooks_endpoints", "cache_redis_enabled", "cache_redis_patterns", "app_config_files", "app_env_file")


def services_setup(box, tmp_path):
    """Two services on the sandbox: payments (a flag, its env file, its cache keys, the Stripe
    endpoint) and booking (its cache keys and its own endpoint, both also bad)."""
    env = tmp_path / "shop.env"
    env.write_text("ENABLE_NEW_PAYMENT_FLOW=true\nENABLE_NEW_BOOKING=true\n")
    box.redis.mset({"payments:%d" % i: "bad" for i in range(5)} | {"booking:%d" % i: "bad" for i in range(5)})
    booking_id = box.stripe.add(BOOKING_HOOK, ["booking.created"])
    extravars = box.extravars(
        rollback_maintenance=False,
        # the release stays r2: a service's rollback leaves the shared release alone
        rollback_smoke_checks=[{"url": "http://127.0.0.1:%d/" % box.app_port, "body_regex": "release r2"}],
    )
    endpoints = extravars["webhooks_endpoints"] + [
        {
            "name": "booking partners",
            "provider": "stripe",
            "endpoint_id": booking_id,
            "url": GOOD_HOOK + "/booking",
            "api_base_url": box.stripe.url,
        }
    ]
    inventory_vars = {key: extravars.pop(key) for key in ROLE_PARTS if key in extravars}
    inventory_vars.update(
        webhooks_endpoints=endpoints,
        cache_redis_enabled=True,
        cache_redis_patterns=["page:*"],  # what a component rollback of the cache deletes
        app_env_file=str(env),
        rollback_service_map={
            "payments": {
                "files": [str(env)],
                "env_flags": {"ENABLE_NEW_PAYMENT_FLOW": False},
                "cache_patterns": ["payments:*"],
                "webhook_endpoints": ["stripe payments"],
            },
            "booking": {"cache_patterns": ["booking:*"], "webhook_endpoints": ["booking partners"]},
        },
    )
    inventory = box.inventory()
    inventory["all"]["vars"] = inventory_vars
    return inventory, extravars, env, booking_id


def test_partial_by_service_changes_only_the_payments_parts(playbook, sandbox, tmp_path):
    inventory, extravars, env, booking_id = services_setup(sandbox, tmp_path)
    run = playbook(PARTIAL, inventory=inventory, extravars=dict(extravars, rollback_services=["payments"]))
    assert run.rc == 0, run.stdout[-4000:]

    # the payments parts: its flag off, its keys gone, its endpoint back
    assert env.read_text() == "ENABLE_NEW_PAYMENT_FLOW=false\nENABLE_NEW_BOOKING=true\n"
    assert sandbox.redis.keys("payments:*") == []
    assert sandbox.hook_url == GOOD_HOOK
    # everything else untouched: the release, the database, the certificates, the other keys and endpoint
    assert live_of(sandbox.root) == "r2"
    assert (sandbox.db.oid(), sandbox.db.counts()) == sandbox.bad_db
    assert sandbox.tls.files() == sandbox.bad_tls
    assert sandbox.served_certificate() == sandbox.certificate_of("current")
    assert len(sandbox.redis.keys("booking:*")) == 5 and len(sandbox.redis.keys("page:*")) == 50
    assert sandbox.redis.exists("session:1") == 1
    assert sandbox.stripe.endpoints[booking_id]["url"] == BOOKING_HOOK
    entries = sandbox.journal()
    verdicts = {e["component"]: e["result"] for e in entries if e["action"] == "verify"}
    assert verdicts == {"app": "ok", "cache": "ok", "webhooks": "ok"}, verdicts
    assessed = [e["message"] for e in entries if e["component"] == "rollback" and e["action"] == "assess"]
    assert assessed and "services payments (app, cache, webhooks)" in assessed[0], assessed
    assert not (sandbox.state_dir / "rollback.lock").exists()


def test_unknown_service_fails_in_one_line_and_changes_nothing(playbook, sandbox, tmp_path):
    inventory, extravars, env, booking_id = services_setup(sandbox, tmp_path)
    before = env.read_text()
    run = playbook(PARTIAL, inventory=inventory, extravars=dict(extravars, rollback_services=["billing"]))
    assert run.rc != 0
    msg = run.result("Only known services, and not together with components")["msg"]
    assert msg.startswith("localhost: service_plan: unknown service billing (the map has booking, payments)"), msg
    assert msg.endswith("nothing was changed") and "\n" not in msg, msg
    assert env.read_text() == before and live_of(sandbox.root) == "r2"
    assert len(sandbox.redis.keys("payments:*")) == 5 and sandbox.hook_url == BAD_HOOK
    assert not (sandbox.state_dir / "rollback.lock").exists()
    assert [e for e in sandbox.journal() if e["component"] != "database"] == []
