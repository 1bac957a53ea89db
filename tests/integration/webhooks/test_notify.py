"""notify against a Slack stand-in, a receiver that verifies HMAC signatures, and an SMTP sink."""

from __future__ import annotations

import json

import pytest

from tests.harness.providers import HMAC_SECRET, SLACK_TOKEN, SMTP_PASSWORD
from tests.harness.services import free_port

pytestmark = pytest.mark.integration

MODULE = "emergency.rollback.notify"
EVENT = {
    "status": "succeeded",
    "severity": "critical",
    "component": "app",
    "hosts": ["web1", "web2"],
    "rollback_from": "20261123T1810",
    "rollback_to": "20261122T0930",
    "duration_s": 74.2,
    "report_url": "https://rollback.example.com/reports/rb-42",
    "run_id": "rb-42",
}


def _journal(state_dir):
    path = state_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_slack_blocks_and_retry_after(slack, playbook, state_dir):
    slack.script("POST", slack.path, 429, "rate_limited", headers={"Retry-After": "1"}, times=2)
    args = dict(EVENT, kind="slack", url=slack.hook_url, backoff=0.01, state_dir=str(state_dir))
    play = {
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "plan", MODULE: args, "check_mode": True},
            {"name": "send", MODULE: args},
        ],
    }
    run = playbook(play)
    assert run.rc == 0, run.stdout[-3000:]
    plan, res = run.result("plan"), run.result("send")
    assert plan["changed"] is True and plan["sent"] is False
    assert res["changed"] is True and res["sent"] is True and res["status_code"] == 200
    assert [a["status"] for a in res["attempts"]] == [429, 429, 200]
    assert res["target"] == "%s/********" % slack.url

    posts = slack.seen("POST")
    assert len(posts) == 3  # check mode sent nothing
    gaps = [b.time - a.time for a, b in zip(posts, posts[1:], strict=False)]
    assert all(gap >= 1.0 for gap in gaps), gaps
    doc = posts[-1].json()
    assert posts[-1].headers["content-type"] == "application/json"
    assert "Rollback succeeded: app" in doc["text"] and "20261123T1810 → 20261122T0930" in doc["text"]
    header, fields = doc["blocks"][0], doc["blocks"][1]["fields"]
    assert header["type"] == "header" and "Rollback succeeded: app" in header["text"]["text"]
    texts = [f["text"] for f in fields]
    assert "*Severity*\ncritical" in texts and "*Hosts*\nweb1, web2" in texts
    assert "*From → to*\n`20261123T1810` → `20261122T0930`" in texts and "*Duration*\n74.2 s" in texts
    assert doc["blocks"][-1]["elements"][0]["text"] == "<https://rollback.example.com/reports/rb-42|Incident report>"
    # the URL's token is nowhere in what Ansible printed or what the journal kept
    assert SLACK_TOKEN not in run.stdout and SLACK_TOKEN not in run.artifacts_text()
    [entry] = _journal(state_dir)
    assert entry["component"] == "notify" and entry["result"] == "changed" and entry["run_id"] == "rb-42"
    assert SLACK_TOKEN not in json.dumps(entry)


def test_hmac_signed_webhook_is_verified_by_the_receiver(signed_receiver, playbook, state_dir):
    base = dict(EVENT, kind="webhook", url=signed_receiver.hook_url, retries=0, state_dir=str(state_dir))
    play = {
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "signed", MODULE: dict(base, secret=HMAC_SECRET, payload_extra={"service": "shop"})},
            {"name": "wrong secret", MODULE: dict(base, secret="not-the-shared-secret")},
            {"name": "wrong secret required", MODULE: dict(base, secret="not-the-shared-secret", required=True)},
        ],
    }
    run = playbook(play)
    signed = run.result("signed")
    assert signed["sent"] is True and signed["status_code"] == 202
    # the receiver recomputed the HMAC with the shared secret: first accepted, the others refused
    assert signed_receiver.verified == [True, False, False]
    first = signed_receiver.seen("POST")[0]
    body = first.json()
    assert body["event"] == "rollback" and body["component"] == "app" and body["service"] == "shop"
    assert body["from"] == "20261123T1810" and body["to"] == "20261122T0930" and body["hosts"] == ["web1", "web2"]
    assert first.headers["x-rollback-signature"].startswith("sha256=")

    # not required: a warning, the play goes on; required: the task fails
    soft = run.result("wrong secret")
    assert soft["changed"] is False and soft["sent"] is False and "HTTP 401" in soft["error"]
    assert any("not sent" in w for w in soft.get("warnings", []))
    hard = run.task_results("wrong secret required")[0]
    assert hard["event"] == "runner_on_failed" and "HTTP 401" in hard["res"]["msg"]
    assert run.failed_hosts() == {"localhost"}
    assert [e["result"] for e in _journal(state_dir)] == ["changed", "failed", "failed"]
    assert HMAC_SECRET not in run.stdout and HMAC_SECRET not in run.artifacts_text()


def test_email_through_smtp_with_login(smtp_sink, task, state_dir):
    args = dict(
        EVENT,
        kind="email",
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        smtp_username="rollback",
        smtp_password=SMTP_PASSWORD,
        sender="rollback@example.com",
        recipients=["oncall@example.com", "sre@example.com"],
        summary="The app is back on the 0930 release.",
        state_dir=str(state_dir),
    )
    event, res, run = task(MODULE, args)
    assert event == "runner_on_ok", res.get("msg")
    assert res["sent"] is True
    [mail] = smtp_sink.messages
    assert mail["login"] == "rollback"
    assert mail["mail_from"] == "rollback@example.com"
    assert mail["rcpt_tos"] == ["oncall@example.com", "sre@example.com"]
    msg = mail["message"]
    assert msg["Subject"] == "[CRITICAL] Rollback succeeded: app"
    text = msg.get_content()
    assert "Hosts:     web1, web2" in text and "20261123T1810 -> 20261122T0930" in text
    assert "https://rollback.example.com/reports/rb-42" in text and "0930 release" in text
    assert SMTP_PASSWORD not in run.stdout and SMTP_PASSWORD not in run.artifacts_text()


def test_unreachable_target_never_fails_unless_required(playbook, state_dir):
    url = "http://127.0.0.1:%d/services/T0/B0/%s" % (free_port(), SLACK_TOKEN)
    args = {"kind": "slack", "url": url, "retries": 1, "backoff": 0.01, "state_dir": str(state_dir)}
    play = {
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "optional", MODULE: args},
            {"name": "required", MODULE: dict(args, required=True)},
        ],
    }
    run = playbook(play)
    optional = run.result("optional")
    assert optional["sent"] is False and "connection refused" in optional["error"] and "2 attempts" in optional["error"]
    [required] = run.task_results("required")
    assert required["event"] == "runner_on_failed"
    msg = required["res"]["msg"]
    assert msg.startswith("notify: slack notification to http://127.0.0.1:")
    assert "/********" in msg and "connection refused" in msg
    assert SLACK_TOKEN not in run.stdout and SLACK_TOKEN not in run.artifacts_text()
