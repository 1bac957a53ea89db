"""Local stand-ins for the webhook providers we cannot reach from tests: Stripe, Square, Slack.

Each is a threaded http.server on a free loopback port that implements the provider's
documented request/response shapes (paths, auth, encodings, error documents) closely
enough that our adapters cannot tell the difference for the calls they make. Every request
is recorded (method, path, query, headers, body, arrival time) so tests assert what was
received. Answers can be scripted: `server.script("POST", "/v1/...", 429, headers=..., times=2)`
makes the next two matching requests get that answer before the normal behaviour resumes.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit

# Recognisable fake credentials for tests: the secret tests grep every output for them.
STRIPE_KEY = "sk_test_51RollbackSecretStripeKey0000"
SQUARE_TOKEN = "EAAAlRollbackSecretSquareToken0000"
GENERIC_KEY = "generic-api-key-RollbackSecret0000"
HMAC_SECRET = "whsec_RollbackHmacSharedSecret0000"
SMTP_PASSWORD = "smtp-RollbackSecretPassword0000"
SLACK_TOKEN = "xoxbRollbackSlackUrlToken0000"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    time: float

    def json(self):
        return json.loads(self.body.decode()) if self.body else None

    def form(self):
        """Form fields as (name, value) pairs in order (Stripe's enabled_events[] repeats)."""
        return parse_qsl(self.body.decode(), keep_blank_values=True)


@dataclass
class Scripted:
    method: str
    path: str
    status: int
    headers: dict
    body: bytes
    times: int


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"


def json_answer(status, document, headers=None):
    return Answer(status, json.dumps(document).encode(), headers or {})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "provider-stand-in/1.0"

    def log_message(self, *_args):  # keep pytest output clean
        pass

    def _handle(self):
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        rec = Recorded(
            method=self.command,
            path=parts.path,
            query={k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            time=time.time(),
        )
        with owner.lock:
            owner.requests.append(rec)
            answer = owner.take_scripted(rec)
            if answer is None:
                try:
                    answer = owner.handle(rec)
                except Exception as err:  # a stand-in bug must show up as a 500, not a hang
                    answer = Answer(500, ("stand-in error: %r" % err).encode(), content_type="text/plain")
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class StandIn:
    """Base: a recording HTTP server on 127.0.0.1:<free port>."""

    def __init__(self, host="127.0.0.1", port=0):
        self.requests = []
        self.scripted = []
        self.lock = threading.RLock()
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, method, path, status, body=b"", headers=None, times=1):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.scripted.append(Scripted(method, path, status, dict(headers or {}), body, times))

    def take_scripted(self, rec):
        for item in self.scripted:
            if item.times > 0 and item.method == rec.method and rec.path == item.path:
                item.times -= 1
                content_type = "application/json" if item.body[:1] in (b"{", b"[") else "text/plain"
                return Answer(item.status, item.body, item.headers, content_type)
        return None

    def seen(self, method=None, path=None):
        with self.lock:
            return [
                r for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def handle(self, rec):
        return Answer(404, b"not found", content_type="text/plain")


def _bearer(rec):
    auth = rec.headers.get("authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else None


# --- Stripe ---------------------------------------------------------------------------------


class StripeStandIn(StandIn):
    """/v1/webhook_endpoints: list (limit, starting_after, has_more), retrieve, update (form-encoded)."""

    UPDATABLE = {"url", "enabled_events[]", "disabled", "description", "api_version"}

    def __init__(self, api_key, **bind):
        super().__init__(**bind)
        self.api_key = api_key
        self.endpoints = {}
        self._ids = itertools.count(1)

    def add(self, url, events, status="enabled", endpoint_id=None):
        endpoint_id = endpoint_id or "we_%024d" % next(self._ids)
        self.endpoints[endpoint_id] = {
            "id": endpoint_id,
            "object": "webhook_endpoint",
            "api_version": None,
            "application": None,
            "created": int(time.time()),
            "description": None,
            "enabled_events": list(events),
            "livemode": False,
            "metadata": {},
            "status": status,
            "url": url,
        }
        return endpoint_id

    @staticmethod
    def error(status, message, type_="invalid_request_error", **extra):
        return json_answer(status, {"error": dict({"type": type_, "message": message}, **extra)})

    def handle(self, rec):
        if _bearer(rec) != self.api_key:
            return self.error(401, "Invalid API Key provided: %s" % (_bearer(rec) or "")[:8] + "****")
        parts = [p for p in rec.path.split("/") if p]
        if parts[:2] != ["v1", "webhook_endpoints"]:
            return self.error(404, "Unrecognized request URL (%s %s)." % (rec.method, rec.path))
        if len(parts) == 2 and rec.method == "GET":
            return self.list(rec)
        if len(parts) == 3:
            endpoint = self.endpoints.get(parts[2])
            if endpoint is None:
                return self.error(404, "No such webhook endpoint: '%s'" % parts[2], code="resource_missing", param="id")
            if rec.method == "GET":
                return json_answer(200, endpoint)
            if rec.method == "POST":
                return self.update(rec, endpoint)
        return self.error(404, "Unrecognized request URL (%s %s)." % (rec.method, rec.path))

    def list(self, rec):
        limit = int(rec.query.get("limit", 10))
        if not 1 <= limit <= 100:
            return self.error(400, "Invalid integer: %s" % limit, param="limit")
        ordered = sorted(self.endpoints.values(), key=lambda e: e["id"])
        after = rec.query.get("starting_after")
        if after:
            ordered = [e for e in ordered if e["id"] > after]
        page = ordered[:limit]
        return json_answer(
            200, {"object": "list", "url": "/v1/webhook_endpoints", "has_more": len(ordered) > limit, "data": page}
        )

    def update(self, rec, endpoint):
        if not rec.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self.error(400, "Invalid request: body must be form-encoded")
        fields = rec.form()
        events = []
        changes = {}
        for name, value in fields:
            # Stripe accepts enabled_events[] and enabled_events[N]
            if name == "enabled_events[]" or (name.startswith("enabled_events[") and name[15:-1].isdigit()):
                events.append(value)
            elif name in self.UPDATABLE:
                changes[name] = value
            else:
                return self.error(400, "Received unknown parameter: %s" % name, param=name)
        if "url" in changes:
            if urlsplit(changes["url"]).scheme not in ("http", "https"):
                return self.error(400, "Invalid URL: %s" % changes["url"], param="url")
            endpoint["url"] = changes["url"]
        if events:
            endpoint["enabled_events"] = events
        if "disabled" in changes:
            endpoint["status"] = "disabled" if changes["disabled"] == "true" else "enabled"
        return json_answer(200, endpoint)


# --- Square ---------------------------------------------------------------------------------


class SquareStandIn(StandIn):
    """/v2/webhooks/subscriptions: list (cursor), retrieve, update (PUT {"subscription": {...}})."""

    def __init__(self, access_token, page_size=100):
        super().__init__()
        self.access_token = access_token
        self.page_size = page_size
        self.subscriptions = {}
        self._ids = itertools.count(1)

    def add(self, url, events, enabled=True, name="rollback test", subscription_id=None):
        subscription_id = subscription_id or "wbhk_%020d" % next(self._ids)
        now = time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime())
        self.subscriptions[subscription_id] = {
            "id": subscription_id,
            "name": name,
            "enabled": enabled,
            "event_types": list(events),
            "notification_url": url,
            "api_version": "2024-10-17",
            "signature_key": "sq-signature-key-%s" % subscription_id,
            "created_at": now,
            "updated_at": now,
        }
        return subscription_id

    @staticmethod
    def error(status, category, code, detail, field_=None):
        err = {"category": category, "code": code, "detail": detail}
        if field_:
            err["field"] = field_
        return json_answer(status, {"errors": [err]})

    def handle(self, rec):
        if _bearer(rec) != self.access_token:
            return self.error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized.")
        parts = [p for p in rec.path.split("/") if p]
        if parts[:3] != ["v2", "webhooks", "subscriptions"]:
            return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Resource not found.")
        if len(parts) == 3 and rec.method == "GET":
            ordered = sorted(self.subscriptions.values(), key=lambda s: s["id"])
            if rec.query.get("include_disabled") != "true":
                ordered = [s for s in ordered if s["enabled"]]
            start = int(rec.query.get("cursor") or 0)
            page = ordered[start : start + self.page_size]
            doc = {"subscriptions": page}
            if start + self.page_size < len(ordered):
                doc["cursor"] = str(start + self.page_size)
            return json_answer(200, doc)
        if len(parts) == 4:
            sub = self.subscriptions.get(parts[3])
            if sub is None:
                return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Webhook subscription not found.")
            if rec.method == "GET":
                return json_answer(200, {"subscription": sub})
            if rec.method == "PUT":
                return self.update(rec, sub)
        return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Resource not found.")

    def update(self, rec, sub):
        try:
            doc = rec.json()
        except ValueError:
            return self.error(400, "INVALID_REQUEST_ERROR", "INVALID_CONTENT_TYPE", "Body is not valid JSON.")
        changes = (doc or {}).get("subscription")
        if not isinstance(changes, dict):
            return self.error(400, "INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "Missing subscription.")
        for key in changes:
            if key not in ("name", "enabled", "event_types", "notification_url"):
                return self.error(
                    400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "Field %s cannot be updated." % key, key
                )
        if "notification_url" in changes and not str(changes["notification_url"]).startswith(("http://", "https://")):
            return self.error(
                400, "INVALID_REQUEST_ERROR", "INVALID_URL", "The notification URL is invalid.", "notification_url"
            )
        sub.update(changes)
        sub["updated_at"] = time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime())
        return json_answer(200, {"subscription": sub})


# --- generic REST ---------------------------------------------------------------------------


def _merge(into, changes):
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


class GenericStandIn(StandIn):
    """An in-house API: /api/subscriptions/{id}, auth X-Api-Key, GET returns, PATCH/PUT merges JSON."""

    def __init__(self, api_key):
        super().__init__()
        self.api_key = api_key
        self.docs = {}

    def add(self, doc_id, doc):
        self.docs[doc_id] = dict(doc, id=doc_id)

    def handle(self, rec):
        if rec.headers.get("x-api-key") != self.api_key:
            return json_answer(403, {"message": "bad api key"})
        parts = [p for p in rec.path.split("/") if p]
        if len(parts) != 3 or parts[:2] != ["api", "subscriptions"] or parts[2] not in self.docs:
            return json_answer(404, {"message": "no subscription %s" % rec.path})
        doc = self.docs[parts[2]]
        if rec.method == "GET":
            return json_answer(200, doc)
        if rec.method in ("PUT", "PATCH"):
            _merge(doc, rec.json() or {})
            return Answer(204)
        return json_answer(405, {"message": "method not allowed"})


# --- Slack and signed-webhook receivers -----------------------------------------------------


class SlackStandIn(StandIn):
    """A Slack incoming webhook: POST JSON to /services/T../B../<token>; answers `ok` as text."""

    def __init__(self, path="/services/T0ROLLBACK/B0ROLLBACK/xoxbSecretToken123"):
        super().__init__()
        self.path = path

    @property
    def hook_url(self):
        return self.url + self.path

    def handle(self, rec):
        if rec.method != "POST":
            return Answer(405, b"invalid_method", content_type="text/plain")
        if rec.path != self.path:
            return Answer(404, b"no_service", content_type="text/plain")
        try:
            doc = rec.json()
        except ValueError:
            return Answer(400, b"invalid_payload", content_type="text/plain")
        if not isinstance(doc, dict) or not (doc.get("text") or doc.get("blocks")):
            return Answer(400, b"no_text", content_type="text/plain")
        return Answer(200, b"ok", content_type="text/plain")


class SignedReceiver(StandIn):
    """A JSON webhook that checks HMAC-SHA256(secret, "<timestamp>." + body) before accepting."""

    def __init__(self, secret, path="/hooks/rollback", tolerance=300):
        super().__init__()
        self.secret = secret
        self.path = path
        self.tolerance = tolerance
        self.verified = []

    @property
    def hook_url(self):
        return self.url + self.path

    def verify(self, rec):
        stamp = rec.headers.get("x-rollback-timestamp", "")
        given = rec.headers.get("x-rollback-signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > self.tolerance:
            return False
        mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + rec.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest("sha256=" + mac, given)

    def handle(self, rec):
        if rec.path != self.path or rec.method != "POST":
            return json_answer(404, {"error": "not found"})
        ok = self.verify(rec)
        self.verified.append(ok)
        if not ok:
            return json_answer(401, {"error": "bad signature"})
        return json_answer(202, {"accepted": True})


def main(argv=None):
    """Run the Stripe stand-in as a service (Molecule hosts run it as a systemd unit)."""
    import argparse

    parser = argparse.ArgumentParser(description="Stripe webhook_endpoints stand-in")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--endpoint-id", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", default="charge.succeeded")
    args = parser.parse_args(argv)
    stand_in = StripeStandIn(args.api_key, port=args.port)
    stand_in.add(args.url, args.events.split(","), endpoint_id=args.endpoint_id)
    stand_in.httpd.serve_forever()


if __name__ == "__main__":
    main()
