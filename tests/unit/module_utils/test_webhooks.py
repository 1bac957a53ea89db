"""_webhooks: retries and Retry-After, adapters, signatures, payloads, masking; and the two modules' input checks."""

from __future__ import annotations

import email.utils
import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.emergency.rollback.plugins.module_utils import _webhooks as w
from ansible_collections.emergency.rollback.plugins.modules import notify, webhook_endpoint
from tests.harness.providers import Answer, SquareStandIn, StandIn, StripeStandIn
from tests.harness.services import free_port
from tests.harness.smtp import SmtpSink


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1.0), ("2.5", 2.5), (" 30 ", 30.0), (None, None), ("", None), ("soon", None)],
)
def test_parse_retry_after_seconds(value, expected):
    assert w.parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    now = 1_800_000_000
    value = email.utils.formatdate(now + 7, usegmt=True)
    assert w.parse_retry_after(value, now=now) == pytest.approx(7, abs=1)
    assert w.parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://hooks.slack.com/services/T0/B0/xoxb-secret", "https://hooks.slack.com/********"),
        ("http://127.0.0.1:8080/hook?token=abc", "http://127.0.0.1:8080/********"),
        ("https://example.com", "https://example.com"),
        ("not a url", "********"),
    ],
)
def test_mask_url_keeps_only_scheme_and_host(url, masked):
    assert w.mask_url(url) == masked


def test_signature_roundtrip_tamper_and_replay():
    body = json.dumps({"event": "rollback"}).encode()
    now = 1_800_000_000
    sig = w.sign("s3cret", now, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert w.verify_signature("s3cret", now, body, sig, now=now + 10)
    assert not w.verify_signature("other", now, body, sig, now=now)
    assert not w.verify_signature("s3cret", now, body + b" ", sig, now=now)
    assert not w.verify_signature("s3cret", now, body, sig, now=now + 301)  # replayed too late


def test_fill_placeholders():
    template = {"target": {"address": "$url"}, "topics": "$events", "note": "id $id at $url", "n": 1}
    out = w._fill(template, {"url": "https://a/b", "events": ["x", "y"], "id": "42"})
    assert out == {"target": {"address": "https://a/b"}, "topics": ["x", "y"], "note": "id 42 at https://a/b", "n": 1}


def test_plan_change_compares_events_as_a_set():
    current = {"id": "we_1", "url": "https://a", "events": ["b", "a"], "enabled": True}
    assert w.plan_change(current, "https://a", ["a", "b"])[0] is False
    changed, after = w.plan_change(current, "https://b", None, False)
    assert changed and after == {"id": "we_1", "url": "https://b", "events": ["a", "b"], "enabled": False}
    assert w.differences(after, current) == ["url", "enabled"]


def test_slack_payload_without_versions_leaves_the_field_out():
    doc = w.slack_payload({"status": "failed", "severity": "critical", "component": "db", "hosts": []})
    assert doc["text"] == "Rollback failed: db (critical) on n/a"
    texts = [f["text"] for f in doc["blocks"][1]["fields"]]
    assert not any(t.startswith("*From") for t in texts)
    assert doc["blocks"][0]["text"]["text"].startswith(":rotating_light:")


class Flaky(StandIn):
    """Answers 503 without Retry-After `fail` times, then 200."""

    def __init__(self, fail):
        super().__init__()
        self.fail = fail

    def handle(self, rec):
        if len(self.requests) <= self.fail:
            return Answer(503, b"busy", content_type="text/plain")
        return Answer(200, b"ok", content_type="text/plain")


@pytest.fixture
def flaky():
    server = Flaky(fail=3).start()
    yield server
    server.stop()


def test_backoff_doubles_without_retry_after(flaky):
    slept = []
    client = w.HttpClient(retries=3, backoff=0.5, sleep=slept.append)
    response = client.request("GET", flaky.url + "/x")
    assert response.status == 200 and slept == [0.5, 1.0, 2.0]
    assert [a["status"] for a in response.attempts] == [503, 503, 503, 200]


def test_gives_up_after_the_retries(flaky):
    slept = []
    response = w.HttpClient(retries=1, backoff=0.1, sleep=slept.append).request("GET", flaky.url + "/x")
    assert response.status == 503 and len(response.attempts) == 2 and slept == [0.1]


def test_retry_after_longer_than_allowed_is_not_waited_out():
    server = StandIn().start()
    try:
        server.script("GET", "/x", 429, "slow down", headers={"Retry-After": "3600"}, times=5)
        slept = []
        response = w.HttpClient(retries=3, max_retry_after=60, sleep=slept.append).request("GET", server.url + "/x")
    finally:
        server.stop()
    assert response.status == 429 and slept == [] and len(server.requests) == 1
    assert "3600 s" in response.gave_up


def test_network_error_is_retried_and_reported_without_the_url_token():
    url = "http://127.0.0.1:%d/services/T0/B0/tok-secret-123" % free_port()
    slept = []
    with pytest.raises(w.WebhookError) as err:
        w.HttpClient(retries=2, backoff=0.01, sleep=slept.append).request("POST", url, data=b"{}")
    assert "connection refused" in str(err.value) and "3 attempts" in str(err.value)
    assert "tok-secret-123" not in str(err.value) and len(slept) == 2


def test_stripe_adapter_pages_through_the_list():
    server = StripeStandIn("sk_test_x").start()
    try:
        for n in range(130):
            server.add("https://h%03d.example.com/" % n, ["a"])
        adapter = w.make_adapter("stripe", w.HttpClient(), base_url=server.url, api_key="sk_test_x")
        found = adapter.find(match_urls=("https://h129.example.com/",))
        pages = server.seen("GET", "/v1/webhook_endpoints")
    finally:
        server.stop()
    assert found["url"] == "https://h129.example.com/"
    assert [p.query.get("starting_after") for p in pages] == [None, "we_%024d" % 100]


def test_smtp_authentication_failure_is_permanent():
    sink = SmtpSink(password="right").start()
    try:
        msg = w.email_message({"component": "app"}, "a@example.com", ["b@example.com"])
        with pytest.raises(w.WebhookError) as err:
            w.send_email(msg, "127.0.0.1", sink.port, username="rollback", password="wrong", retries=3, sleep=None)
    finally:
        sink.stop()
    assert "authentication failed: 535" in str(err.value) and "(1 attempts)" in str(err.value)
    assert sink.messages == [] and "wrong" not in str(err.value)


class AnsibleFailJson(Exception):
    pass


class AnsibleExitJson(Exception):
    pass


@pytest.fixture
def module_exits(monkeypatch):
    def fail_json(self, **kwargs):
        kwargs["failed"] = True
        raise AnsibleFailJson(kwargs)

    def exit_json(self, **kwargs):
        raise AnsibleExitJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)


def test_notify_bad_url_fails_without_showing_it(module_exits, tmp_path):
    args = {"kind": "slack", "url": "ftp://hooks.example.com/T0/B0/secret-token-9", "state_dir": str(tmp_path)}
    with patch_module_args(args), pytest.raises(AnsibleFailJson) as err:
        notify.main()
    msg = err.value.args[0]["msg"]
    assert msg == "notify: url must be an absolute http:// or https:// URL; nothing was sent"


def test_notify_check_mode_sends_nothing(module_exits, tmp_path):
    port = free_port()
    url = "http://127.0.0.1:%d/hook/secret-token-9" % port
    args = {"kind": "webhook", "url": url, "component": "cache", "_ansible_check_mode": True}
    with patch_module_args(dict(args, state_dir=str(tmp_path))), pytest.raises(AnsibleExitJson) as res:
        notify.main()
    result = res.value.args[0]
    assert result["changed"] is True and result["sent"] is False and result["payload"]["component"] == "cache"
    assert result["target"] == "http://127.0.0.1:%d/********" % port
    assert not (tmp_path / "journal.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"provider": "stripe", "url": "https://a.example.com/"},
            "one of the following is required: endpoint_id, match_url, snapshot",
        ),
        (
            {"provider": "generic", "endpoint_id": "x", "match_url": "https://a/", "url": "https://b/",
             "generic": {"read_url": "/x/{id}"}},
            "parameters are mutually exclusive: match_url|generic",
        ),
        ({"provider": "stripe", "endpoint_id": "we_1", "url": "gopher://x"}, "url must be an absolute"),
    ],
)  # fmt: skip
def test_webhook_endpoint_rejects_bad_input_before_any_request(module_exits, tmp_path, args, message):
    args = dict({"api_key": "sk_test_unit", "state_dir": str(tmp_path)}, **args)
    with patch_module_args(args), pytest.raises(AnsibleFailJson) as err:
        webhook_endpoint.main()
    msg = err.value.args[0]["msg"]
    assert message in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []


class StickyStripe(StripeStandIn):
    """Answers 200 to updates of the URL but keeps the old one (a provider that silently ignores us)."""

    def update(self, rec, endpoint):
        url = endpoint["url"]
        answer = super().update(rec, endpoint)
        if dict(rec.form()).get("url") != self.honour:
            endpoint["url"] = url
        return answer


def test_wrong_read_back_is_put_back_and_fails(module_exits, tmp_path):
    server = StickyStripe("sk_test_unit").start()
    server.honour = "https://green.example.com/hooks"  # only putting it back is honoured
    try:
        hook = server.add("https://green.example.com/hooks", ["charge.failed"])
        args = {
            "provider": "stripe",
            "endpoint_id": hook,
            "url": "https://blue.example.com/hooks",
            "api_key": "sk_test_unit",
            "api_base_url": server.url,
            "state_dir": str(tmp_path),
        }
        with patch_module_args(args), pytest.raises(AnsibleFailJson) as err:
            webhook_endpoint.main()
    finally:
        server.stop()
    res = err.value.args[0]
    assert "read back wrong after the update (url is 'https://green.example.com/hooks'" in res["msg"]
    assert "put back to snapshot %s" % res["snapshot"]["id"] in res["msg"]
    assert [r.method for r in server.requests] == ["GET", "POST", "GET", "POST"]
    assert server.endpoints[hook]["url"] == "https://green.example.com/hooks"
    [entry] = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert entry["result"] == "reverted" and entry["snapshot"] == res["snapshot"]["id"]


def test_5xx_on_update_reads_back_to_say_what_was_left(module_exits, tmp_path):
    server = StripeStandIn("sk_test_unit").start()
    try:
        hook = server.add("https://green.example.com/hooks", ["charge.failed"])
        server.script(
            "POST", "/v1/webhook_endpoints/%s" % hook, 503, {"error": {"type": "api_error", "message": "down"}}
        )
        args = {
            "provider": "stripe",
            "endpoint_id": hook,
            "url": "https://blue.example.com/hooks",
            "api_key": "sk_test_unit",
            "api_base_url": server.url,
            "retries": 0,
            "state_dir": str(tmp_path),
        }
        with patch_module_args(args), pytest.raises(AnsibleFailJson) as err:
            webhook_endpoint.main()
    finally:
        server.stop()
    msg = err.value.args[0]["msg"]
    assert "HTTP 503 from stripe (gave up after 1 attempts): down (api_error)" in msg
    assert msg.endswith("the endpoint was left as it was")
    assert [r.method for r in server.requests] == ["GET", "POST", "GET"]


def test_stripe_and_square_adapters_update_events_and_enabled():
    stripe, square = StripeStandIn("sk_test_x").start(), SquareStandIn("sq_token").start()
    try:
        we = stripe.add("https://a.example.com/", ["a"])
        sub = square.add("https://a.example.com/", ["a"])
        client = w.HttpClient(retries=0)
        s_adapter = w.make_adapter("stripe", client, base_url=stripe.url, api_key="sk_test_x")
        q_adapter = w.make_adapter("square", client, base_url=square.url, api_key="sq_token", api_version="2025-01-23")
        got_s = s_adapter.update(we, "https://b.example.com/", ["x", "y"], enabled=False)
        got_q = q_adapter.update(sub, "https://b.example.com/", ["x", "y"], enabled=False)
        put = square.seen("PUT")[0]
    finally:
        stripe.stop()
        square.stop()
    expected = {"url": "https://b.example.com/", "events": ["x", "y"], "enabled": False}
    assert {k: got_s[k] for k in expected} == expected and stripe.endpoints[we]["status"] == "disabled"
    assert {k: got_q[k] for k in expected} == expected and square.subscriptions[sub]["enabled"] is False
    assert put.headers["square-version"] == "2025-01-23"
    assert put.json() == {
        "subscription": {"notification_url": "https://b.example.com/", "event_types": ["x", "y"], "enabled": False}
    }
