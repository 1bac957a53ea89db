"""After the webhooks role: Stripe (its stand-in) points at blue; green is kept as a snapshot."""

import json

STATE = "/var/lib/emergency-rollback"


def test_endpoint_points_at_the_previous_release(host):
    out = host.check_output(
        "curl -fsS -H 'Authorization: Bearer sk_test_molecule_key' http://127.0.0.1:12111/v1/webhook_endpoints/we_molecule0001"
    )
    endpoint = json.loads(out)
    assert endpoint["url"] == "https://blue.shop.example.test/webhooks/stripe"
    assert sorted(endpoint["enabled_events"]) == ["charge.failed", "charge.succeeded"]


def test_the_replaced_url_is_kept_as_a_snapshot(host):
    found = host.check_output("grep -rl green.shop.example.test %s/snapshots/webhooks || true" % STATE)
    assert found.strip()


def test_journal_one_change_and_no_key(host):
    text = host.file(STATE + "/journal.jsonl").content_string
    assert "sk_test_molecule_key" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    changes = [(e["action"], e["from"]) for e in entries if e["component"] == "webhooks" and e["result"] == "changed"]
    green = "https://green.shop.example.test/webhooks/stripe"
    # webhook_endpoint snapshots the endpoint itself before it re-points it (the id is on the entry)
    assert changes == [("repoint", green)]
    [repoint] = [e for e in entries if e["action"] == "repoint" and e["result"] == "changed"]
    assert repoint["snapshot"]
    verdicts = [e for e in entries if e["component"] == "webhooks" and e["action"] == "verify"]
    assert [v["result"] for v in verdicts] == ["ok", "ok"], "one verdict per run (converge, idempotence)"
    assert not host.file(STATE + "/rollback.lock").exists
