"""webhook_endpoint against local stand-ins of Stripe, Square and a generic REST API."""

from __future__ import annotations

import json

import pytest

from tests.harness.providers import GENERIC_KEY, SQUARE_TOKEN, STRIPE_KEY

pytestmark = pytest.mark.integration

MODULE = "emergency.rollback.webhook_endpoint"
GREEN = "https://green.shop.example.com/webhooks/%s"
BLUE = "https://blue.shop.example.com/webhooks/%s"


def journal(state_dir):
    path = state_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def snapshots(state_dir):
    base = state_dir / "snapshots" / "webhooks"
    return sorted(p for p in base.iterdir() if not p.name.startswith(".")) if base.exists() else []


def test_stripe_four_runs(stripe, four, state_dir):
    other = stripe.add(GREEN % "other", ["invoice.paid"])
    hook = stripe.add(GREEN % "stripe", ["charge.failed"])
    args = {
        "provider": "stripe",
        "endpoint_id": hook,
        "url": BLUE % "stripe",
        "events": ["charge.succeeded", "charge.failed"],
        "api_key": STRIPE_KEY,
        "api_base_url": stripe.url,
        "api_version": "2024-06-20",
        "state_dir": str(state_dir),
        "run_id": "rb-stripe",
    }
    check, real, check2, real2 = four(MODULE, args)

    before = {"id": hook, "url": GREEN % "stripe", "events": ["charge.failed"], "enabled": True}
    after = {"id": hook, "url": BLUE % "stripe", "events": ["charge.failed", "charge.succeeded"], "enabled": True}
    assert check["diff"] == {"before": before, "after": after}
    assert check["snapshot"] is None
    assert real["previous"] == before and real["endpoint"] == after
    assert check2["endpoint"] == after and real2["endpoint"] == after and real2["snapshot"] is None

    # exactly one update reached Stripe, form-encoded, with the bearer key and version header
    [update] = stripe.seen("POST")
    assert update.path == "/v1/webhook_endpoints/%s" % hook
    assert update.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert update.headers["authorization"] == "Bearer %s" % STRIPE_KEY
    assert update.headers["stripe-version"] == "2024-06-20"
    assert update.form() == [
        ("url", BLUE % "stripe"),
        ("enabled_events[]", "charge.succeeded"),
        ("enabled_events[]", "charge.failed"),
    ]
    assert stripe.endpoints[hook]["url"] == BLUE % "stripe"
    assert stripe.endpoints[other]["url"] == GREEN % "other"

    # the previous state is in the snapshot store and the journal points at it
    [snap] = snapshots(state_dir)
    assert real["snapshot"] == {"id": snap.name, "path": str(snap)} and real["restored_from"] is None
    kept = json.loads((snap / "files" / "endpoint.json").read_text())
    assert kept["endpoint"] == before and kept["provider"] == "stripe"
    entries = journal(state_dir)
    assert [(e["component"], e["action"], e["result"]) for e in entries] == [
        ("webhooks", "repoint", "changed"),
        ("webhooks", "repoint", "ok"),
    ]
    assert entries[0]["from"] == GREEN % "stripe" and entries[0]["to"] == BLUE % "stripe"
    assert entries[0]["snapshot"] == real["snapshot"]["id"] and entries[0]["run_id"] == "rb-stripe"


def test_square_four_runs_found_by_url_across_pages(square, four, state_dir):
    # page_size=2: the subscription to move is on the second page, behind a cursor
    for n in range(3):
        square.add(GREEN % ("other%d" % n), ["payment.created"])
    sub = square.add(GREEN % "square", ["payment.created", "payment.updated"])
    args = {
        "provider": "square",
        "match_url": GREEN % "square",
        "url": BLUE % "square",
        "api_key": SQUARE_TOKEN,
        "api_base_url": square.url,
        "state_dir": str(state_dir),
    }
    results = four(MODULE, args)
    assert results[1]["previous"]["url"] == GREEN % "square"
    assert results[1]["endpoint"] == {
        "id": sub,
        "url": BLUE % "square",
        "events": ["payment.created", "payment.updated"],
        "enabled": True,
    }
    [put] = square.seen("PUT")
    assert put.path == "/v2/webhooks/subscriptions/%s" % sub
    assert put.json() == {"subscription": {"notification_url": BLUE % "square"}}
    assert put.headers["square-version"] == "2024-10-17"
    assert put.headers["authorization"] == "Bearer %s" % SQUARE_TOKEN
    lists = square.seen("GET", "/v2/webhooks/subscriptions")
    assert {r.query.get("cursor") for r in lists} == {None, "2"}
    assert square.subscriptions[sub]["notification_url"] == BLUE % "square"
    # Square returns the subscription's signature key; it must never be kept or returned
    key = square.subscriptions[sub]["signature_key"]
    assert key not in json.dumps(results)
    assert all(key not in p.read_text() for snap in snapshots(state_dir) for p in snap.rglob("*.json"))


def test_generic_four_runs(generic_api, four, state_dir):
    generic_api.add("orders", {"target": {"address": GREEN % "orders", "format": "json"}, "topics": ["order.paid"]})
    args = {
        "provider": "generic",
        "endpoint_id": "orders",
        "url": BLUE % "orders",
        "events": ["order.paid", "order.refunded"],
        "api_key": GENERIC_KEY,
        "api_base_url": generic_api.url + "/api",
        "state_dir": str(state_dir),
        "generic": {
            "read_url": "/subscriptions/{id}",
            "update_method": "PATCH",
            "body_template": {"target": {"address": "$url"}, "topics": "$events"},
            "url_path": "target.address",
            "events_path": "topics",
            "auth_header": "X-Api-Key",
        },
    }
    results = four(MODULE, args)
    assert results[1]["endpoint"]["url"] == BLUE % "orders"
    [patch] = generic_api.seen("PATCH")
    assert patch.path == "/api/subscriptions/orders"
    assert patch.headers["x-api-key"] == GENERIC_KEY
    assert patch.json() == {"target": {"address": BLUE % "orders"}, "topics": ["order.paid", "order.refunded"]}
    # a PATCH merges: the fields we did not send are untouched
    assert generic_api.docs["orders"]["target"] == {"address": BLUE % "orders", "format": "json"}


def test_429_retry_after_is_honoured(stripe, task, state_dir):
    hook = stripe.add(GREEN % "stripe", ["charge.failed"])
    path = "/v1/webhook_endpoints/%s" % hook
    rate_limited = {"error": {"type": "rate_limit_error", "message": "Too many requests"}}
    stripe.script("POST", path, 429, rate_limited, headers={"Retry-After": "1"}, times=2)
    args = {
        "provider": "stripe",
        "endpoint_id": hook,
        "url": BLUE % "stripe",
        "api_key": STRIPE_KEY,
        "api_base_url": stripe.url,
        "backoff": 0.01,
        "state_dir": str(state_dir),
    }
    event, res, _ = task(MODULE, args)
    assert event == "runner_on_ok", res.get("msg")
    assert res["changed"] is True and stripe.endpoints[hook]["url"] == BLUE % "stripe"
    posts = stripe.seen("POST", path)
    assert len(posts) == 3
    # the server saw the retries no sooner than Retry-After told (its own clock, not ours)
    gaps = [b.time - a.time for a, b in zip(posts, posts[1:], strict=False)]
    assert all(gap >= 1.0 for gap in gaps), gaps


def test_4xx_names_the_endpoint_and_provider_message_and_changes_nothing(stripe, playbook, state_dir):
    hook = stripe.add(GREEN % "stripe", ["charge.failed"])
    blocked = "This URL has been blocked: blue.shop.example.com"
    stripe.script(
        "POST",
        "/v1/webhook_endpoints/%s" % hook,
        400,
        {"error": {"type": "invalid_request_error", "message": blocked, "param": "url"}},
    )
    common = {
        "provider": "stripe",
        "url": BLUE % "stripe",
        "api_key": STRIPE_KEY,
        "api_base_url": stripe.url,
        "state_dir": str(state_dir),
    }
    play = {
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "update refused", MODULE: dict(common, endpoint_id=hook), "ignore_errors": True},
            {"name": "unknown endpoint", MODULE: dict(common, endpoint_id="we_doesnotexist"), "ignore_errors": True},
        ],
    }
    run = playbook(play)
    cases = {"update refused": (hook, blocked), "unknown endpoint": ("we_doesnotexist", "No such webhook endpoint")}
    for name, (endpoint_id, message) in cases.items():
        [res] = run.task_results(name)
        assert res["event"] == "runner_on_failed", name
        msg = res["res"]["msg"]
        assert "\n" not in msg
        assert endpoint_id in msg and message in msg and "HTTP 4" in msg and "stripe" in msg, msg
    # nothing changed at the provider, and a 4xx is not retried
    assert stripe.endpoints[hook]["url"] == GREEN % "stripe"
    assert len(stripe.seen("POST")) == 1
    entries = journal(state_dir)
    assert [(e["result"], e["to"]) for e in entries] == [("failed", BLUE % "stripe")] * 2


def test_snapshot_state_then_undo_with_snapshot(stripe, playbook, state_dir):
    hook = stripe.add(GREEN % "stripe", ["charge.failed"])
    common = {"provider": "stripe", "api_key": STRIPE_KEY, "api_base_url": stripe.url, "state_dir": str(state_dir)}
    play = {
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "snapshot", MODULE: dict(common, endpoint_id=hook, state="snapshot"), "register": "snap"},
            {"name": "snapshot again", MODULE: dict(common, endpoint_id=hook, state="snapshot")},
            {"name": "repoint", MODULE: dict(common, endpoint_id=hook, url=BLUE % "stripe"), "register": "moved"},
            {"name": "undo", MODULE: dict(common, snapshot="{{ snap.snapshot.id }}")},
            {"name": "undo again", MODULE: dict(common, snapshot="{{ snap.snapshot.id }}")},
        ],
    }
    run = playbook(play)
    assert run.rc == 0, run.stdout[-3000:]
    snap = run.result("snapshot")
    assert snap["changed"] is True and snap["endpoint"]["url"] == GREEN % "stripe"
    # an identical snapshot is reused, not duplicated
    assert run.result("snapshot again")["changed"] is False
    assert run.result("snapshot again")["snapshot"] == snap["snapshot"]
    assert run.result("repoint")["snapshot"] == snap["snapshot"]
    undo = run.result("undo")
    assert undo["changed"] is True and undo["endpoint"]["url"] == GREEN % "stripe"
    assert undo["restored_from"] == snap["snapshot"] and run.result("undo again")["restored_from"] == snap["snapshot"]
    assert run.result("undo again")["changed"] is False
    assert stripe.endpoints[hook]["url"] == GREEN % "stripe"
    assert len(stripe.seen("POST")) == 2
