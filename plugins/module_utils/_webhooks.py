# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Provider webhook endpoints (Stripe, Square, generic REST) and outbound notifications.

PRIVATE to this collection: the leading underscore means no API promise.

One HTTP client with retries is shared by everything here: it retries network errors,
429 and 5xx answers, waits what Retry-After says (seconds or an HTTP date) and otherwise
backs off exponentially. Adapters translate one provider's documented REST shape into a
small normalised endpoint dict: {"id", "url", "events", "enabled"}.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import hmac
import json
import os
import re
import smtplib
import ssl
import time
from email.message import EmailMessage
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit

from ansible.module_utils.urls import open_url

from ansible_collections.emergency.rollback.plugins.module_utils._health import network_reason
from ansible_collections.emergency.rollback.plugins.module_utils._journal import MASK, redact
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import (
    SnapshotError,
    SnapshotStore,
    new_id,
    snapshot_ref,
)

USER_AGENT = "emergency.rollback-webhooks/0.1"
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
BODY_LIMIT = 1024 * 1024


class WebhookError(Exception):
    """Something failed; the message is one line meant for the user."""


class ProviderError(WebhookError):
    """The provider answered with an error status (4xx, or 429/5xx after every retry)."""

    def __init__(self, message, status=None, provider_message=None):
        super().__init__(message)
        self.status = status
        self.provider_message = provider_message


def mask_url(url):
    """scheme://host[:port]/******** : enough to tell targets apart, none of the token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = ":%d" % parts.port if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    tail = "/" + MASK if (parts.path not in ("", "/") or parts.query) else ""
    return "%s://%s%s%s" % (parts.scheme, host, port, tail)


def check_http_url(url, what="url"):
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        raise WebhookError("%s is not a valid URL: %s" % (what, err)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("%s must be an absolute http:// or https:// URL" % what)
    return url


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if re.match(r"^\d+(\.\d+)?$", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def http_argument_spec():
    """Options of HttpClient every module that calls a provider or a webhook takes."""
    return dict(
        timeout=dict(type="float", default=10),
        retries=dict(type="int", default=3),
        backoff=dict(type="float", default=1),
        max_retry_after=dict(type="float", default=60),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
    )


def http_params_error(params):
    """Why the http_argument_spec() values in params are unusable, or None when they are fine."""
    if params["retries"] < 0 or params["timeout"] <= 0 or params["backoff"] < 0:
        return "retries and backoff must not be negative and timeout must be positive"
    return None


def client_from_params(params, secrets=()):
    """The HttpClient that the http_argument_spec() options in params describe."""
    return HttpClient(
        timeout=params["timeout"],
        retries=params["retries"],
        backoff=params["backoff"],
        max_retry_after=params["max_retry_after"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
        secrets=secrets,
    )


class Response:
    def __init__(self, status, headers, body, attempts):
        self.status = status
        self.headers = headers
        self.body = body
        self.attempts = attempts
        self.gave_up = None

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    def text(self, limit=None):
        text = self.body.decode("utf-8", errors="replace")
        return text if limit is None else text[:limit]

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None


class HttpClient:
    """Requests with retries on network errors, 429 and 5xx; Retry-After is honoured.

    `retries` is the number of retries after the first attempt. A Retry-After longer than
    `max_retry_after` seconds is not waited out: the request gives up and says so.
    `secrets` are masked in every error text this client produces.
    """

    def __init__(
        self,
        timeout=10.0,
        retries=3,
        backoff=1.0,
        max_retry_after=60.0,
        validate_certs=True,
        ca_path=None,
        secrets=(),
        sleep=time.sleep,
        clock=time.time,
    ):
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.max_retry_after = max_retry_after
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.secrets = [s for s in secrets if s]
        self.sleep = sleep
        self.clock = clock

    def _once(self, method, url, headers, data):
        """(status, headers, body, error) of one request; never raises for HTTP or network errors."""
        try:
            response = open_url(
                url,
                data=data,
                method=method,
                headers=headers,
                timeout=self.timeout,
                validate_certs=self.validate_certs,
                ca_path=self.ca_path,
                follow_redirects="safe",
                http_agent=USER_AGENT,
            )
            return (
                response.getcode(),
                {k.lower(): v for k, v in response.headers.items()},
                response.read(BODY_LIMIT),
                None,
            )
        except HTTPError as err:
            try:
                body = err.read(BODY_LIMIT) or b""
            except (OSError, ValueError):  # the error body is only informative
                body = b""
            headers = {k.lower(): v for k, v in (err.headers or {}).items()}
            return err.code, headers, body, None
        except (TimeoutError, URLError, ssl.SSLError, ConnectionError, OSError) as err:
            return None, {}, b"", redact(network_reason(err), self.secrets)

    def delay_for(self, attempt, headers):
        """(seconds, told): Retry-After when the server gave one, else exponential backoff."""
        told = parse_retry_after(headers.get("retry-after"), now=self.clock())
        if told is not None:
            return told, True
        return self.backoff * (2 ** (attempt - 1)), False

    def request(self, method, url, headers=None, data=None, target=None):
        """Send with retries; returns the last Response (which may be an error status).

        Raises WebhookError when no answer came at all (network error on every attempt)
        or when the server asked to wait longer than max_retry_after.
        """
        target = target or mask_url(url)
        if isinstance(data, str):
            data = data.encode("utf-8")
        attempts = []
        attempt = 0
        while True:
            attempt += 1
            started = self.clock()
            status, resp_headers, body, error = self._once(method, url, dict(headers or {}), data)
            record = {"attempt": attempt, "status": status, "error": error, "started": round(started, 3)}
            attempts.append(record)
            retryable = error is not None or status in RETRY_STATUSES or (status is not None and status >= 500)
            if not retryable:
                return Response(status, resp_headers, body, attempts)
            if attempt > self.retries:
                if error is not None:
                    raise WebhookError("%s %s: %s (%d attempts)" % (method, target, error, attempt))
                return Response(status, resp_headers, body, attempts)
            delay, told = self.delay_for(attempt, resp_headers)
            if told and self.max_retry_after is not None and delay > self.max_retry_after:
                record["retry_after"] = round(delay, 3)
                resp = Response(status, resp_headers, body, attempts)
                resp.gave_up = "asked to retry after %.0f s, more than max_retry_after=%.0f s" % (
                    delay,
                    self.max_retry_after,
                )
                return resp
            record["retry_after" if told else "backoff"] = round(delay, 3)
            self.sleep(delay)


# --- provider adapters ---------------------------------------------------------------------


def _sorted_events(events):
    return sorted(set(events)) if events is not None else None


def normalise(endpoint):
    """The comparable part of an endpoint: url, events (sorted, set semantics), enabled."""
    return {
        "id": endpoint.get("id"),
        "url": endpoint.get("url"),
        "events": _sorted_events(endpoint.get("events")),
        "enabled": endpoint.get("enabled"),
    }


def dig(document, path):
    """Value at a dotted path (a.b.0.c) in parsed JSON; None when absent. Empty path = the document."""
    value = document
    for part in [p for p in (path or "").split(".") if p]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


class Adapter:
    name = "base"
    default_base_url = None

    def __init__(self, client, base_url=None, api_key=None, api_version=None):
        self.client = client
        self.base_url = (base_url or self.default_base_url or "").rstrip("/")
        self.api_key = api_key
        self.api_version = api_version

    # Subclasses implement get(id), list(), update(id, url, events, enabled).

    def error_text(self, response):
        """The provider's own error message from an error response."""
        doc = response.json()
        if isinstance(doc, dict):
            for key in ("message", "error", "detail", "error_description"):
                if isinstance(doc.get(key), str):
                    return doc[key]
            if isinstance(doc.get("error"), dict) and doc["error"].get("message"):
                return doc["error"]["message"]
        text = response.text(300).strip()
        return text or "no error text"

    def _fail(self, what, endpoint_id, response):
        provider_message = redact(self.error_text(response), self.client.secrets)
        gave_up = response.gave_up
        if response.status in RETRY_STATUSES or (response.status or 0) >= 500:
            how = gave_up or "gave up after %d attempts" % len(response.attempts)
            msg = "%s %s of webhook endpoint %s failed: HTTP %s from %s (%s): %s" % (
                self.name,
                what,
                endpoint_id,
                response.status,
                self.name,
                how,
                provider_message,
            )
        else:
            msg = "%s %s of webhook endpoint %s failed: HTTP %s from %s: %s" % (
                self.name,
                what,
                endpoint_id,
                response.status,
                self.name,
                provider_message,
            )
        raise ProviderError(msg, status=response.status, provider_message=provider_message)

    def find(self, endpoint_id=None, match_urls=()):
        """The endpoint by id, or the first whose url is one of match_urls (in that order of preference)."""
        if endpoint_id:
            return self.get(endpoint_id)
        endpoints = self.list()
        for wanted in match_urls:
            for endpoint in endpoints:
                if wanted and endpoint["url"] == wanted:
                    return endpoint
        raise WebhookError(
            "no %s webhook endpoint points at %s (%d endpoints listed)"
            % (self.name, " or ".join(u for u in match_urls if u), len(endpoints))
        )


class StripeAdapter(Adapter):
    """Stripe's webhook_endpoints API: form-encoded POST, bearer secret key, {"error": {...}}."""

    name = "stripe"
    default_base_url = "https://api.stripe.com"

    def headers(self):
        headers = {"Authorization": "Bearer %s" % self.api_key, "Accept": "application/json"}
        if self.api_version:
            headers["Stripe-Version"] = self.api_version
        return headers

    @staticmethod
    def from_api(obj):
        return {
            "id": obj.get("id"),
            "url": obj.get("url"),
            "events": list(obj.get("enabled_events") or []),
            "enabled": obj.get("status", "enabled") != "disabled",
        }

    def error_text(self, response):
        doc = response.json()
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            err = doc["error"]
            kind = "(%s)" % err["type"] if err.get("type") else None
            return " ".join(str(part) for part in (err.get("message"), kind) if part)
        return super().error_text(response)

    def get(self, endpoint_id):
        url = "%s/v1/webhook_endpoints/%s" % (self.base_url, quote(endpoint_id, safe=""))
        response = self.client.request("GET", url, headers=self.headers(), target="stripe")
        if not response.ok:
            self._fail("read", endpoint_id, response)
        return self.from_api(response.json() or {})

    def list(self):
        found, after = [], None
        while True:
            query = {"limit": 100}
            if after:
                query["starting_after"] = after
            url = "%s/v1/webhook_endpoints?%s" % (self.base_url, urlencode(query))
            response = self.client.request("GET", url, headers=self.headers(), target="stripe")
            if not response.ok:
                self._fail("listing", "(all)", response)
            page = response.json() or {}
            data = page.get("data") or []
            found.extend(self.from_api(obj) for obj in data)
            if not page.get("has_more") or not data:
                return found
            after = data[-1].get("id")

    def update(self, endpoint_id, url, events=None, enabled=None):
        fields = [("url", url)]
        if events is not None:
            fields.extend(("enabled_events[]", event) for event in events)
        if enabled is not None:
            fields.append(("disabled", "false" if enabled else "true"))
        headers = dict(self.headers(), **{"Content-Type": "application/x-www-form-urlencoded"})
        response = self.client.request(
            "POST",
            "%s/v1/webhook_endpoints/%s" % (self.base_url, quote(endpoint_id, safe="")),
            headers=headers,
            data=urlencode(fields),
            target="stripe",
        )
        if not response.ok:
            self._fail("update", endpoint_id, response)
        return self.from_api(response.json() or {})


class SquareAdapter(Adapter):
    """Square's Webhook Subscriptions API: JSON {"subscription": {...}}, Square-Version, {"errors": [...]}."""

    name = "square"
    default_base_url = "https://connect.squareup.com"
    default_version = "2024-10-17"

    def headers(self):
        return {
            "Authorization": "Bearer %s" % self.api_key,
            "Square-Version": self.api_version or self.default_version,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    @staticmethod
    def from_api(obj):
        return {
            "id": obj.get("id"),
            "url": obj.get("notification_url"),
            "events": list(obj.get("event_types") or []),
            "enabled": obj.get("enabled", True),
        }

    def error_text(self, response):
        doc = response.json()
        if isinstance(doc, dict) and isinstance(doc.get("errors"), list) and doc["errors"]:
            return "; ".join(
                "%s (%s/%s)" % (e.get("detail") or "no detail", e.get("category"), e.get("code"))
                for e in doc["errors"]
                if isinstance(e, dict)
            )
        return super().error_text(response)

    def _url(self, endpoint_id=None):
        base = "%s/v2/webhooks/subscriptions" % self.base_url
        return base if endpoint_id is None else "%s/%s" % (base, quote(endpoint_id, safe=""))

    def get(self, endpoint_id):
        response = self.client.request("GET", self._url(endpoint_id), headers=self.headers(), target="square")
        if not response.ok:
            self._fail("read", endpoint_id, response)
        return self.from_api((response.json() or {}).get("subscription") or {})

    def list(self):
        found, cursor = [], None
        while True:
            query = {"include_disabled": "true"}
            if cursor:
                query["cursor"] = cursor
            response = self.client.request(
                "GET", "%s?%s" % (self._url(), urlencode(query)), headers=self.headers(), target="square"
            )
            if not response.ok:
                self._fail("listing", "(all)", response)
            page = response.json() or {}
            found.extend(self.from_api(obj) for obj in page.get("subscriptions") or [])
            cursor = page.get("cursor")
            if not cursor:
                return found

    def update(self, endpoint_id, url, events=None, enabled=None):
        subscription = {"notification_url": url}
        if events is not None:
            subscription["event_types"] = list(events)
        if enabled is not None:
            subscription["enabled"] = bool(enabled)
        response = self.client.request(
            "PUT",
            self._url(endpoint_id),
            headers=self.headers(),
            data=json.dumps({"subscription": subscription}),
            target="square",
        )
        if not response.ok:
            self._fail("update", endpoint_id, response)
        return self.from_api((response.json() or {}).get("subscription") or {})


def _fill(template, values):
    """Replace the placeholders $id, $url, $events, $enabled in a JSON-like template.

    A string that is exactly a placeholder becomes the value itself (a list stays a list);
    placeholders inside longer strings are substituted as text.
    """
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    if isinstance(template, str):
        if template.startswith("$") and template[1:] in values:
            return values[template[1:]]
        for key in sorted(values, key=len, reverse=True):
            value = values[key]
            if isinstance(value, str):
                template = template.replace("$" + key, value)
        return template
    return template


class GenericAdapter(Adapter):
    """Any REST API: GET read_url to read, update_method update_url with a JSON body template."""

    name = "generic"

    def __init__(self, client, base_url=None, api_key=None, api_version=None, options=None):
        super().__init__(client, base_url=base_url, api_key=api_key, api_version=api_version)
        self.options = dict(options or {})

    def _url(self, template, endpoint_id):
        url = template.replace("{id}", quote(endpoint_id, safe=""))
        if not urlsplit(url).scheme and self.base_url:
            url = self.base_url + "/" + url.lstrip("/")
        return url

    def headers(self):
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        headers.update(self.options.get("headers") or {})
        if self.api_key:
            name = self.options.get("auth_header") or "Authorization"
            headers[name] = ("Bearer %s" % self.api_key) if name.lower() == "authorization" else self.api_key
        return headers

    def from_api(self, doc, endpoint_id):
        events_path = self.options.get("events_path")
        enabled_path = self.options.get("enabled_path")
        events = dig(doc, events_path) if events_path else None
        enabled = dig(doc, enabled_path) if enabled_path else None
        return {
            "id": endpoint_id,
            "url": dig(doc, self.options.get("url_path") or "url"),
            "events": list(events) if isinstance(events, list) else None,
            "enabled": bool(enabled) if enabled is not None else None,
        }

    def get(self, endpoint_id):
        response = self.client.request(
            "GET", self._url(self.options["read_url"], endpoint_id), headers=self.headers(), target="generic"
        )
        if not response.ok:
            self._fail("read", endpoint_id, response)
        doc = response.json()
        if doc is None:
            raise WebhookError(
                "generic read of webhook endpoint %s: the answer is not JSON: %s" % (endpoint_id, response.text(200))
            )
        return self.from_api(doc, endpoint_id)

    def list(self):
        raise WebhookError("the generic adapter cannot list endpoints: give endpoint_id")

    def update(self, endpoint_id, url, events=None, enabled=None):
        values = {"id": endpoint_id, "url": url, "events": list(events or []), "enabled": enabled}
        template = self.options.get("body_template") or {"url": "$url", "events": "$events"}
        if events is None:
            template = {k: v for k, v in template.items() if v != "$events"}
        if enabled is None:
            template = {k: v for k, v in template.items() if v != "$enabled"}
        body = _fill(template, values)
        update_url = self.options.get("update_url") or self.options["read_url"]
        response = self.client.request(
            self.options.get("update_method") or "PUT",
            self._url(update_url, endpoint_id),
            headers=self.headers(),
            data=json.dumps(body),
            target="generic",
        )
        if not response.ok:
            self._fail("update", endpoint_id, response)
        # Many APIs answer 204 No Content: the caller reads the endpoint back.


ADAPTERS = {"stripe": StripeAdapter, "square": SquareAdapter, "generic": GenericAdapter}


def make_adapter(provider, client, base_url=None, api_key=None, api_version=None, generic=None):
    if provider == "generic":
        return GenericAdapter(client, base_url=base_url, api_key=api_key, api_version=api_version, options=generic)
    return ADAPTERS[provider](client, base_url=base_url, api_key=api_key, api_version=api_version)


def plan_change(current, url, events=None, enabled=None):
    """(changed, after): what the endpoint must become; events/enabled None = keep as is."""
    after = dict(normalise(current))
    after["url"] = url
    if events is not None:
        after["events"] = _sorted_events(events)
    if enabled is not None:
        after["enabled"] = bool(enabled)
    return after != normalise(current), after


def differences(wanted, got):
    """Fields where a read-back endpoint differs from what was asked."""
    wanted, got = normalise(wanted), normalise(got)
    return [key for key in ("url", "events", "enabled") if wanted[key] is not None and wanted[key] != got[key]]


def snapshot_id_for(provider, endpoint_id, stamp):
    safe = re.sub(r"[^A-Za-z0-9._@+-]", "_", endpoint_id or "endpoint")[:60]
    return "%s-%s-%s" % (provider, safe, stamp)


# --- snapshots of endpoints ----------------------------------------------------------------

SNAPSHOT_FILE = "endpoint.json"


class EndpointSnapshots:
    """Snapshots of provider endpoints in the `webhooks` component of the snapshot store."""

    def __init__(self, state_dir, provider, base_url):
        self.store = SnapshotStore.in_state_dir(state_dir, "webhooks")
        self.provider = provider
        self.base_url = base_url

    def _ours(self, meta, endpoint_id):
        md = meta.get("metadata") or {}
        return (
            md.get("provider") == self.provider
            and md.get("endpoint_id") == endpoint_id
            and md.get("api_base_url") == self.base_url
        )

    def latest(self, endpoint_id):
        mine = [m for m in self.store.list() if self._ours(m, endpoint_id)]
        return mine[-1] if mine else None

    def ensure(self, endpoint):
        """(meta, created): the latest snapshot of this endpoint if it already holds this state, else a new one."""
        state = normalise(endpoint)
        latest = self.latest(endpoint["id"])
        if latest is not None and (latest.get("metadata") or {}).get("endpoint") == state:
            return latest, False
        metadata = {
            "provider": self.provider,
            "endpoint_id": endpoint["id"],
            "api_base_url": self.base_url,
            "endpoint": state,
        }
        with self.store.staging(
            snapshot_id_for(self.provider, endpoint["id"], new_id()), source=self.base_url, metadata=metadata
        ) as stage:
            with open(stage.file(SNAPSHOT_FILE), "w", encoding="utf-8") as handle:
                json.dump(dict(metadata, endpoint=state), handle, indent=2, sort_keys=True)
        return stage.meta, True

    def load(self, snapshot_id):
        meta = self.store.verify(snapshot_id)
        md = meta.get("metadata") or {}
        if md.get("provider") != self.provider:
            raise SnapshotError(
                "snapshot %s is of a %s endpoint, not %s" % (snapshot_id, md.get("provider"), self.provider)
            )
        with open(self.store.file_path(meta, SNAPSHOT_FILE), encoding="utf-8") as handle:
            return meta, json.load(handle)["endpoint"]

    def path(self, meta):
        return os.path.join(self.store.dir, meta["id"])

    def ref(self, meta):
        """{id, path} of a snapshot, as the modules return it."""
        return snapshot_ref(meta["id"], self.path(meta))


def state_after_failure(adapter, endpoint_id, err, before, meta):
    """What a failed update left behind, in words.

    A 4xx answer means the provider refused and changed nothing. After a timeout or a 5xx
    the update may still have been applied, so the endpoint is read again.
    """
    if isinstance(err, ProviderError) and err.status is not None and 400 <= err.status < 500 and err.status != 429:
        return "the endpoint was left as it was"
    try:
        now = normalise(adapter.get(endpoint_id))
    except WebhookError as read_err:
        return "its state could not be read back (%s); snapshot %s holds the previous state" % (read_err, meta["id"])
    if now == before:
        return "the endpoint was left as it was"
    return "the endpoint now points at %s; snapshot %s holds the previous state" % (now["url"], meta["id"])


# --- notifications -------------------------------------------------------------------------

SEVERITY_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def event_title(event):
    status = event.get("status") or "finished"
    component = event.get("component") or "rollback"
    return "Rollback %s: %s" % (status, component)


def event_payload(event, extra=None):
    """The generic JSON document describing one rollback event."""
    payload = {
        "event": "rollback",
        "status": event.get("status"),
        "severity": event.get("severity"),
        "component": event.get("component"),
        "hosts": list(event.get("hosts") or []),
        "from": event.get("from"),
        "to": event.get("to"),
        "duration_s": event.get("duration_s"),
        "report_url": event.get("report_url"),
        "run_id": event.get("run_id"),
        "message": event.get("message"),
        "ts": event.get("ts"),
    }
    payload.update(extra or {})
    return payload


def _duration_text(seconds):
    if seconds is None:
        return "n/a"
    seconds = float(seconds)
    if seconds < 120:
        return "%.1f s" % seconds
    return "%d min %02d s" % (seconds // 60, seconds % 60)


def slack_payload(event):
    """A Slack incoming-webhook message: fallback text plus Block Kit blocks."""
    severity = event.get("severity") or "info"
    title = "%s %s" % (SEVERITY_EMOJI.get(severity, ""), event_title(event))
    hosts = event.get("hosts") or []
    change = "`%s` → `%s`" % (event.get("from") or "?", event.get("to") or "?")
    has_change = event.get("from") or event.get("to")
    fields = [
        "*Severity*\n%s" % severity,
        "*Component*\n%s" % (event.get("component") or "n/a"),
        "*Hosts*\n%s" % (", ".join(hosts) if hosts else "n/a"),
        "*From → to*\n%s" % change if has_change else None,
        "*Duration*\n%s" % _duration_text(event.get("duration_s")),
        "*Run*\n%s" % (event.get("run_id") or "n/a"),
    ]
    fields = [text for text in fields if text]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title.strip()[:150], "emoji": True}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]},
    ]
    if event.get("message"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": event["message"][:3000]}})
    if event.get("report_url"):
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "<%s|Incident report>" % event["report_url"]}]}
        )
    text = "%s (%s) on %s" % (event_title(event), severity, ", ".join(hosts) if hosts else "n/a")
    if has_change:
        text += ": " + change.replace("`", "")
    return {"text": text, "blocks": blocks}


def sign(secret, timestamp, body):
    """HMAC-SHA256 over b"<timestamp>." + body, hex: the receiver recomputes it with the shared secret."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    mac = hmac.new(secret.encode("utf-8"), ("%s." % timestamp).encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret, timestamp, body, signature, tolerance=300, now=None):
    """Receiver side of sign(): constant-time compare and a replay window."""
    now = time.time() if now is None else now
    try:
        if abs(now - int(timestamp)) > tolerance:
            return False
    except (TypeError, ValueError):
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def post_json(client, url, document, headers=None, secret=None, signature_header=None, timestamp_header=None):
    """POST a JSON document (signed when a secret is given); returns the Response."""
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")
    headers = dict({"Content-Type": "application/json"}, **(headers or {}))
    if secret:
        timestamp = str(int(client.clock()))
        headers[timestamp_header or "X-Rollback-Timestamp"] = timestamp
        headers[signature_header or "X-Rollback-Signature"] = sign(secret, timestamp, body)
    return client.request("POST", url, headers=headers, data=body, target=mask_url(url))


def email_message(event, sender, recipients, subject=None):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject or "[%s] %s" % ((event.get("severity") or "info").upper(), event_title(event))
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain="emergency-rollback")
    hosts = event.get("hosts") or []
    lines = [
        event_title(event),
        "",
        "Severity:  %s" % (event.get("severity") or "info"),
        "Component: %s" % (event.get("component") or "n/a"),
        "Hosts:     %s" % (", ".join(hosts) if hosts else "n/a"),
        "From -> to: %s -> %s" % (event.get("from") or "?", event.get("to") or "?")
        if event.get("from") or event.get("to")
        else None,
        "Duration:  %s" % _duration_text(event.get("duration_s")),
        "Run:       %s" % (event.get("run_id") or "n/a"),
    ]
    lines = [line for line in lines if line is not None]
    if event.get("report_url"):
        lines.append("Report:    %s" % event["report_url"])
    if event.get("message"):
        lines.extend(["", event["message"]])
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_email(
    message,
    host,
    port=25,
    username=None,
    password=None,
    starttls=False,
    use_ssl=False,
    timeout=10.0,
    retries=3,
    backoff=1.0,
    sleep=time.sleep,
    secrets=(),
):
    """Send with smtplib, retrying connection errors and temporary (4xx) SMTP answers.

    Returns the attempts; raises WebhookError with the last reason when every attempt failed.
    """
    attempts = []
    for attempt in range(1, int(retries) + 2):
        error, permanent = None, False
        try:
            if use_ssl:
                # SMTP_SSL without a context would not verify the server certificate.
                session = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
            else:
                session = smtplib.SMTP(host, port, timeout=timeout)
            with session as smtp:
                if starttls and not use_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if username:
                    smtp.login(username, password or "")
                refused = smtp.send_message(message)
            if refused:
                error = "recipients refused: %s" % ", ".join(sorted(refused))
                permanent = True
        except smtplib.SMTPAuthenticationError as err:
            error, permanent = "authentication failed: %s" % err.smtp_code, True
        except smtplib.SMTPRecipientsRefused as err:
            error, permanent = "recipients refused: %s" % ", ".join(sorted(err.recipients)), True
        except smtplib.SMTPResponseException as err:
            error = "SMTP %s %s" % (err.smtp_code, err.smtp_error.decode("utf-8", errors="replace")[:200])
            permanent = 500 <= err.smtp_code < 600
        except (smtplib.SMTPException, OSError) as err:
            error = network_reason(err) if isinstance(err, OSError) else str(err)
        error = redact(error, secrets) if error else None
        attempts.append({"attempt": attempt, "error": error})
        if error is None:
            return attempts
        if permanent or attempt > int(retries):
            raise WebhookError("email to %s:%s failed: %s (%d attempts)" % (host, port, error, attempt))
        delay = backoff * (2 ** (attempt - 1))
        attempts[-1]["backoff"] = delay
        sleep(delay)
    return attempts
