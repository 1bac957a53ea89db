# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Alertmanager silences over its API v2.

PRIVATE to this collection: the leading underscore means no API promise.

Runs on targets: Python 3.9 compatible, standard library and ansible's module_utils only.
"""

from __future__ import annotations

import datetime
import json

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url


class AlertmanagerError(Exception):
    pass


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")  # noqa: UP017


def api_matchers(matchers):
    """The module's matchers as API v2 matchers, in a stable order for comparison."""
    return sorted(
        (
            {"name": m["name"], "value": m["value"], "isRegex": bool(m["is_regex"]), "isEqual": bool(m["is_equal"])}
            for m in matchers
        ),
        key=lambda m: (m["name"], m["value"], m["isRegex"], m["isEqual"]),
    )


def same_matchers(silence, matchers):
    theirs = [
        {"name": m["name"], "value": m["value"], "isRegex": bool(m.get("isRegex")), "isEqual": m.get("isEqual", True)}
        for m in silence.get("matchers") or []
    ]
    return sorted(theirs, key=lambda m: (m["name"], m["value"], m["isRegex"], m["isEqual"])) == matchers


def public(silence):
    """What the module returns of a silence."""
    return {
        "id": silence.get("id"),
        "status": (silence.get("status") or {}).get("state"),
        "matchers": silence.get("matchers"),
        "starts_at": silence.get("startsAt"),
        "ends_at": silence.get("endsAt"),
        "created_by": silence.get("createdBy"),
        "comment": silence.get("comment"),
    }


class Alertmanager:
    def __init__(self, url, timeout=10, validate_certs=True):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.validate_certs = validate_certs

    def _call(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        try:
            reply = open_url(
                self.url + path,
                method=method,
                data=data,
                headers=headers,
                timeout=self.timeout,
                validate_certs=self.validate_certs,
            )
            text = reply.read()
        except HTTPError as err:
            detail = err.read().decode("utf-8", "replace").strip()[:300] if hasattr(err, "read") else ""
            raise AlertmanagerError("%s %s: HTTP %s %s" % (method, path, err.code, detail)) from None
        except Exception as err:  # URLError, socket and SSL errors
            raise AlertmanagerError("%s %s%s failed: %s" % (method, self.url, path, err)) from None
        return json.loads(text.decode("utf-8")) if text.strip() else None

    def active(self, created_by, matchers):
        """Active (or pending) silences with exactly these matchers from this creator."""
        return [
            s
            for s in self._call("GET", "/api/v2/silences") or []
            if (s.get("status") or {}).get("state") in ("active", "pending")
            and s.get("createdBy") == created_by
            and same_matchers(s, matchers)
        ]

    def get(self, silence_id):
        return self._call("GET", "/api/v2/silence/%s" % silence_id)

    def create(self, matchers, starts_at, ends_at, created_by, comment):
        body = {
            "matchers": matchers,
            "startsAt": iso(starts_at),
            "endsAt": iso(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        return (self._call("POST", "/api/v2/silences", body) or {}).get("silenceID")

    def expire(self, silence_id):
        self._call("DELETE", "/api/v2/silence/%s" % silence_id)
