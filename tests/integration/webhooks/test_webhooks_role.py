"""The webhooks role through playbooks/rollback_webhooks.yml, and where secrets must never show up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.providers import (
    GENERIC_KEY,
    HMAC_SECRET,
    SLACK_TOKEN,
    SMTP_PASSWORD,
    SQUARE_TOKEN,
    STRIPE_KEY,
)

pytestmark = pytest.mark.integration

PLAYBOOK = str(Path(__file__).resolve().parents[3] / "playbooks" / "rollback_webhooks.yml")
SECRETS = (STRIPE_KEY, SQUARE_TOKEN, GENERIC_KEY, HMAC_SECRET, SMTP_PASSWORD, SLACK_TOKEN)
GREEN = "https://green.shop.example.com/webhooks/%s"
BLUE = "https://blue.shop.example.com/webhooks/%s"


@pytest.fixture
def providers(stripe, square, generic_api):
    stripe_id = stripe.add(GREEN % "stripe", ["charge.failed"])
    square_id = square.add(GREEN % "square", ["payment.created"])
    generic_api.add("orders", {"target": {"address": GREEN % "orders"}})
    return stripe_id, square_id


def extravars(state_dir, stripe, square, generic_api, stripe_id, **extra):
    values = {
        "rollback_hosts": "all",
        "rollback_run_id": "rb-webhooks-1",
        "webhooks_state_dir": str(state_dir),
        "webhooks_stripe_api_key": STRIPE_KEY,
        "webhooks_square_access_token": SQUARE_TOKEN,
        "webhooks_generic_api_key": GENERIC_KEY,
        "webhooks_backoff": 0.01,
        "webhooks_notify_retries": 0,
        "webhooks_endpoints": [
            {
                "name": "stripe payments",
                "provider": "stripe",
                "endpoint_id": stripe_id,
                "url": BLUE % "stripe",
                "events": ["charge.failed", "charge.succeeded"],
                "api_base_url": stripe.url,
            },
            {
                "name": "square payments",
                "provider": "square",
                "match_url": GREEN % "square",
                "url": BLUE % "square",
                "api_base_url": square.url,
            },
            {
                "name": "orders",
                "provider": "generic",
                "endpoint_id": "orders",
                "url": BLUE % "orders",
                "api_base_url": generic_api.url + "/api",
                "generic": {
                    "read_url": "/subscriptions/{id}",
                    "update_method": "PATCH",
                    "body_template": {"target": {"address": "$url"}},
                    "url_path": "target.address",
                    "auth_header": "X-Api-Key",
                },
            },
        ],
    }
    values.update(extra)
    return values


def assert_no_secret(run, state_dir):
    journal = (state_dir / "journal.jsonl").read_text()
    stored = "\n".join(p.read_text() for p in (state_dir / "snapshots").rglob("*.json"))
    for secret in SECRETS:
        assert secret not in run.stdout, "secret in runner stdout"
        assert secret not in run.artifacts_text(), "secret in runner artifacts"
        assert secret not in journal, "secret in the journal"
        assert secret not in stored, "secret in the snapshot store"


def test_role_repoints_verifies_announces_and_leaks_no_secret(
    providers, stripe, square, generic_api, slack, signed_receiver, smtp_sink, playbook, state_dir
):
    stripe_id, square_id = providers
    notify = {
        "webhooks_notify_slack_url": slack.hook_url,
        "webhooks_notify_webhook_url": signed_receiver.hook_url,
        "webhooks_notify_webhook_secret": HMAC_SECRET,
        "webhooks_notify_email_to": ["oncall@example.com"],
        "webhooks_notify_email_from": "rollback@example.com",
        "webhooks_notify_smtp_host": "127.0.0.1",
        "webhooks_notify_smtp_port": smtp_sink.port,
        "webhooks_notify_smtp_username": "rollback",
        "webhooks_notify_smtp_password": SMTP_PASSWORD,
        "webhooks_notify_report_url": "https://rollback.example.com/reports/rb-webhooks-1",
    }
    args = extravars(state_dir, stripe, square, generic_api, stripe_id, **notify)

    # plan first: --check --diff changes nothing anywhere and sends nothing
    plan = playbook(PLAYBOOK, extravars=args, check=True, diff=True)
    assert plan.rc == 0, plan.stdout[-4000:]
    assert '-    "url": "%s"' % (GREEN % "stripe") in plan.stdout  # the diff shows before/after
    assert not stripe.seen("POST") and not square.seen("PUT") and not generic_api.seen("PATCH")
    assert not slack.requests and not signed_receiver.requests and not smtp_sink.messages

    # verbosity 1 prints every module result: the secret grep covers those too
    run = playbook(PLAYBOOK, extravars=args, verbosity=1)
    assert run.rc == 0, run.stdout[-4000:]
    assert stripe.endpoints[stripe_id]["url"] == BLUE % "stripe"
    assert stripe.endpoints[stripe_id]["enabled_events"] == ["charge.failed", "charge.succeeded"]
    assert square.subscriptions[square_id]["notification_url"] == BLUE % "square"
    assert generic_api.docs["orders"]["target"]["address"] == BLUE % "orders"

    # snapshots were taken before the change, one per endpoint, holding the green URLs
    snaps = [json.loads(p.read_text()) for p in (state_dir / "snapshots" / "webhooks").glob("*/files/endpoint.json")]
    assert sorted(s["endpoint"]["url"] for s in snaps) == sorted(GREEN % n for n in ("stripe", "square", "orders"))

    # announced once on each target; the receiver verified the signature
    assert len(slack.seen("POST")) == 1 and signed_receiver.verified == [True]
    event = signed_receiver.seen("POST")[0].json()
    assert event["status"] == "succeeded" and event["component"] == "webhooks" and event["run_id"] == "rb-webhooks-1"
    assert "%s: %s -> %s" % (stripe_id, GREEN % "stripe", BLUE % "stripe") in event["message"]
    assert sorted(e["url"] for e in event["endpoints"]) == sorted(BLUE % n for n in ("stripe", "square", "orders"))
    [mail] = smtp_sink.messages
    assert mail["message"]["Subject"] == "[WARNING] Rollback succeeded: webhooks"

    entries = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert {e["run_id"] for e in entries} == {"rb-webhooks-1"}
    steps = [(e["component"], e["action"], e["result"]) for e in entries]
    assert steps.count(("webhooks", "repoint", "changed")) == 3
    assert steps.count(("webhooks", "verify", "ok")) == 1
    assert steps.count(("notify", "slack", "changed")) == 1 and steps[-1] == ("lock", "release", "changed")
    assert not (state_dir / "rollback.lock").exists()
    assert_no_secret(run, state_dir)

    # the verdict names what the module read back from the providers
    verdict = run.result("Journal the verdict of the run of webhooks")["journal_entry"]
    assert verdict["result"] == "ok" and all(BLUE % n in verdict["message"] for n in ("stripe", "square", "orders"))

    # a second run changes nothing
    again = playbook(PLAYBOOK, extravars=args)
    assert again.rc == 0, again.stdout[-4000:]
    assert [r["changed"] for r in again.result("Point each endpoint at its previous URL")["results"]] == [False] * 3


def test_role_failure_is_announced_and_releases_the_lock(
    providers, stripe, square, generic_api, signed_receiver, playbook, state_dir
):
    stripe_id, square_id = providers
    square.script(
        "PUT",
        "/v2/webhooks/subscriptions/%s" % square_id,
        400,
        {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "INVALID_URL", "detail": "URL is not valid"}]},
    )
    args = extravars(
        state_dir,
        stripe,
        square,
        generic_api,
        stripe_id,
        webhooks_notify_webhook_url=signed_receiver.hook_url,
        webhooks_notify_webhook_secret=HMAC_SECRET,
    )
    run = playbook(PLAYBOOK, extravars=args)
    assert run.rc != 0
    [failure] = run.task_results("Fail saying what failed and what was reverted")
    assert square_id in failure["res"]["msg"] and "URL is not valid" in failure["res"]["msg"]
    assert square.subscriptions[square_id]["notification_url"] == GREEN % "square"
    # the endpoints re-pointed before square failed are put back: nothing is left half rolled back
    assert stripe.endpoints[stripe_id]["url"] == GREEN % "stripe"
    assert stripe.endpoints[stripe_id]["enabled_events"] == ["charge.failed"]
    assert generic_api.docs["orders"]["target"]["address"] == GREEN % "orders"
    assert "endpoint %s back at %s" % (stripe_id, GREEN % "stripe") in failure["res"]["msg"]
    [event] = [r.json() for r in signed_receiver.seen("POST")]
    assert event["status"] == "failed" and event["severity"] == "critical" and "URL is not valid" in event["message"]
    assert not (state_dir / "rollback.lock").exists()
    assert_no_secret(run, state_dir)
