#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cache_flush
short_description: Flush what a rolled-back release cached, in Redis, memcached or a CDN
version_added: 0.1.0
description:
  - After a rollback, caches hold what the bad release wrote. This module clears them.
  - V(redis) deletes the keys matching O(patterns) (SCAN in steps of O(batch_size) and UNLINK per
    step, never KEYS, so the server is not blocked), returning the count deleted per pattern;
    or empties one database (O(flushdb)); or, only with O(flushall=true), every database. Exactly one
    of O(patterns), O(flushdb) and O(flushall) is given with V(redis).
  - V(memcached) sends C(flush_all).
  - V(cdn) sends one HTTP purge request (method, URL, headers, token) to a CDN's purge API.
  - Idempotent for Redis and memcached (nothing to delete, no change). A CDN purge cannot be
    observed beforehand, so it reports a change every time it is sent.
notes:
  - Redis Cluster is not supported (SCAN walks one node); point it at each primary.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback._redis
attributes:
  check_mode:
    support: full
    description: Counts what would be deleted (keys per pattern, keys in the database, memcached items); sends no purge.
  diff_mode:
    support: full
    description: Shows the key or item counts before and after.
requirements:
  - redis (redis-py) >= 5 for O(backend=redis)
options:
  backend:
    description: What to flush.
    type: str
    choices: [redis, memcached, cdn]
    required: true
  patterns:
    description:
      - Redis key patterns (glob style, as SCAN MATCH takes them) whose keys are deleted.
      - Mutually exclusive with O(flushdb) and O(flushall).
    type: list
    elements: str
  flushdb:
    description:
      - V(true) empties Redis database O(redis_db) (FLUSHDB). Omit it unless that is the mode.
      - Mutually exclusive with O(patterns) and O(flushall).
    type: bool
  flushall:
    description:
      - V(true) empties EVERY database of the Redis server (FLUSHALL). Never implied. Omit it unless that
        is the mode.
      - Mutually exclusive with O(patterns) and O(flushdb).
    type: bool
  url:
    description:
      - CDN purge API URL. Put credentials in O(token) or O(headers), never in the URL.
    type: str
  method:
    description: HTTP method of the purge request.
    type: str
    default: POST
    choices: [POST, PURGE, DELETE, PUT, GET]
  headers:
    description:
      - Request headers. The values of headers whose name mentions auth, token, key, secret,
        signature, password or cookie are treated like O(token) and never shown.
    type: dict
    default: {}
  token:
    description:
      - "API token, sent as C(Authorization: Bearer <token>), or as the raw value of O(token_header)."
    type: str
  token_header:
    description: Header that carries O(token) as it is (for example C(Fastly-Key)).
    type: str
  body:
    description: Request body; a dict or list is sent as JSON.
    type: raw
  status_code:
    description: Statuses that count as a successful purge.
    type: list
    elements: int
    default: [200, 201, 202, 204]
seealso:
  - module: emergency.rollback.health_check
"""

EXAMPLES = r"""
- name: Drop the bad release's cached pages and sessions
  emergency.rollback.cache_flush:
    backend: redis
    host: 10.0.0.5
    password: "{{ vault_redis_password }}"
    patterns: ["page:*", "fragment:v42:*"]

- name: Empty the rendering cache database
  emergency.rollback.cache_flush:
    backend: redis
    redis_db: 3
    flushdb: true

- name: Flush memcached
  emergency.rollback.cache_flush:
    backend: memcached
    host: 10.0.0.6

- name: Purge the CDN
  emergency.rollback.cache_flush:
    backend: cdn
    url: https://api.cdn.example/v1/zones/app/purge
    token: "{{ vault_cdn_token }}"
    body: {purge_everything: true}
"""

RETURN = r"""
deleted:
  description: Redis keys deleted per pattern (in check mode, that would be deleted).
  returned: backend=redis with patterns
  type: dict
  sample: {"page:*": 812, "fragment:v42:*": 40}
remaining:
  description: Keys still matching each pattern after the deletion (0 unless something writes them again).
  returned: backend=redis with patterns, not in check mode
  type: dict
  sample: {"page:*": 0, "fragment:v42:*": 0}
total_deleted:
  description: Sum of RV(deleted), or the keys a FLUSHDB/FLUSHALL removed.
  returned: backend=redis
  type: int
  sample: 852
keys_before:
  description: Keys in the database (FLUSHDB) or the server (FLUSHALL) before the flush.
  returned: backend=redis with flushdb or flushall
  type: int
  sample: 15000
ping:
  description: Whether Redis answered PING after the flush.
  returned: backend=redis
  type: bool
  sample: true
items_before:
  description: memcached's C(curr_items) before the flush.
  returned: backend=memcached
  type: int
  sample: 4210
status:
  description: HTTP status of the purge request.
  returned: backend=cdn, not in check mode
  type: int
  sample: 200
response:
  description: The purge API's answer (JSON decoded when it is JSON), at most 4 KiB.
  returned: backend=cdn, not in check mode
  type: raw
  sample: {"status": "ok", "id": "purge-1234"}
url:
  description: The purge URL without query string or credentials.
  returned: backend=cdn
  type: str
  sample: https://api.cdn.example/v1/zones/app/purge
target:
  description: The server (C(redis://host:port/db), C(memcached://host:port)) or purge URL the task acted on.
  returned: success
  type: str
  sample: redis://127.0.0.1:6379/0
duration_s:
  description: Wall time of the task, in seconds.
  returned: when something was flushed or purged
  type: float
  sample: 0.42
journal_entry:
  description: The line appended to the host journal.
  returned: when something was flushed or purged and O(journal=true)
  type: dict
  sample: {"component": "cache", "action": "redis_flush", "result": "changed", "to": "redis://127.0.0.1:6379/0"}
"""

import json
from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.urls import open_url

from ansible_collections.emergency.rollback.plugins.module_utils import _cache
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, hide_secret_headers, with_common


class CacheFlush:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.step = Step(module, "cache", "%s_flush" % self.p["backend"] if self.p["backend"] != "cdn" else "cdn_purge")

    def fail(self, msg, journal=True, **extra):
        """Fail the task; journal=False when nothing was changed (see Step.refuse)."""
        self.step.fail("cache_flush: %s" % msg, journal=journal, **extra)

    # Redis -------------------------------------------------------------------------------------

    def redis(self):
        p = self.p
        if not _cache.HAS_REDIS:
            self.module.fail_json(msg=missing_required_lib("redis"), exception=str(_cache.REDIS_IMPORT_ERROR))
        if not (p["patterns"] or p["flushdb"] or p["flushall"]):
            # flushdb/flushall given as false satisfy the declared constraints but name no mode.
            self.fail("backend=redis needs patterns, flushdb=true or flushall=true; nothing was deleted", journal=False)
        port = p["port"] or 6379
        where = "redis://%s:%d/%d" % (p["host"], port, p["redis_db"])
        client = _cache.redis_client(
            p["host"],
            port,
            db=p["redis_db"],
            password=p["password"],
            username=p["username"],
            tls=p["tls"],
            ca_path=p["ca_path"],
            validate_certs=p["validate_certs"],
            timeout=p["timeout"],
        )
        progress = PatternProgress()
        try:
            client.ping()
            if p["patterns"]:
                self.flush_patterns(client, where, progress)
            else:
                self.flush_database(client, where)
        except _cache.redis_errors() as err:
            self.fail(
                "Redis at %s failed: %s; %s" % (where, err, progress.describe()),
                journal=progress.started,
                target=where,
            )

    def flush_patterns(self, client, where, progress):
        """Count each pattern's keys, delete them in SCAN steps, count again."""
        p = self.p
        counts = {pat: _cache.count_matches(client, pat, p["batch_size"]) for pat in p["patterns"]}
        total = sum(counts.values())
        diff = dict(before={"keys_matching": counts}, after={"keys_matching": {k: 0 for k in counts}})
        if self.module.check_mode or total == 0:
            self.module.exit_json(
                changed=total > 0, deleted=counts, total_deleted=total, ping=True, diff=diff, target=where
            )
            return
        progress.started = True
        for pat in p["patterns"]:
            progress.current = pat
            progress.done[pat] = _cache.delete_matches(client, pat, p["batch_size"])
        progress.current = None
        remaining = {pat: _cache.count_matches(client, pat, p["batch_size"]) for pat in p["patterns"]}
        total = sum(progress.done.values())
        self.step.exit(
            total > 0,
            message="deleted %d keys from %s" % (total, where),
            journal_fields={"to": where, "deleted": total, "per_pattern": progress.done},
            deleted=progress.done,
            remaining=remaining,
            total_deleted=total,
            ping=bool(client.ping()),
            diff=diff,
            target=where,
        )

    def flush_database(self, client, where):
        """FLUSHDB or FLUSHALL, when there is anything to remove."""
        p = self.p
        if p["flushdb"]:
            before, scope = client.dbsize(), "database %d" % p["redis_db"]
        else:
            before, scope = _cache.keyspace_total(client), "every database"
        diff = dict(before={"keys": before}, after={"keys": 0})
        if self.module.check_mode or before == 0:
            self.module.exit_json(
                changed=before > 0, keys_before=before, total_deleted=before, ping=True, diff=diff, target=where
            )
            return
        if p["flushdb"]:
            client.flushdb()
        else:
            client.flushall()
        self.step.exit(
            True,
            message="emptied %s of %s (%d keys)" % (scope, where, before),
            journal_fields={"to": where, "deleted": before, "scope": "flushdb" if p["flushdb"] else "flushall"},
            keys_before=before,
            total_deleted=before,
            ping=bool(client.ping()),
            diff=diff,
            target=where,
        )

    # memcached ---------------------------------------------------------------------------------

    def memcached(self):
        p = self.p
        port = p["port"] or 11211
        where = "memcached://%s:%d" % (p["host"], port)
        try:
            items = int(_cache.memcached_stats(p["host"], port, p["timeout"]).get("curr_items", 0))
        except (OSError, _cache.CacheError) as err:
            self.fail("cannot read %s: %s; nothing was flushed" % (where, err), journal=False, target=where)
        diff = dict(before={"items": items}, after={"items": 0})
        if self.module.check_mode or items == 0:
            self.module.exit_json(changed=items > 0, items_before=items, diff=diff, target=where)
        else:
            self.flush_memcached(where, port, items, diff)

    def flush_memcached(self, where, port, items, diff):
        try:
            _cache.memcached_flush(self.p["host"], port, self.p["timeout"])
        except (OSError, _cache.CacheError) as err:
            self.fail("cannot flush %s: %s; nothing was flushed" % (where, err), journal=False, target=where)
        self.step.exit(
            True,
            message="flushed %s (%d items)" % (where, items),
            journal_fields={"to": where, "deleted": items},
            items_before=items,
            diff=diff,
            target=where,
        )

    # CDN ---------------------------------------------------------------------------------------

    def cdn(self):
        p = self.p
        safe_url = _cache.strip_query(p["url"])
        result = dict(url=safe_url, target=safe_url)
        diff = dict(before={"purged": False, "url": safe_url}, after={"purged": True, "url": safe_url})
        if self.module.check_mode:
            self.module.exit_json(changed=True, diff=diff, **result)
        else:
            self.purge(safe_url, diff, result)

    def purge(self, safe_url, diff, result):
        p = self.p
        headers = _cache.purge_headers(p["headers"], p["token"], p["token_header"])
        data = p["body"]
        if isinstance(data, (dict, list)):
            data = json.dumps(data)
            headers.setdefault("Content-Type", "application/json")
        try:
            resp = open_url(
                p["url"],
                data=data,
                headers=headers,
                method=p["method"],
                timeout=p["timeout"],
                validate_certs=p["validate_certs"],
                follow_redirects="none",
            )
            status, raw = resp.status, resp.read(4096)
        except HTTPError as err:
            status, raw = err.code, _read_error_body(err)
        except (URLError, OSError, HTTPException, ValueError) as err:
            self.fail(
                "purge request %s %s failed: %s; nothing was purged" % (p["method"], safe_url, _reason(err)), **result
            )
        response = _decode(raw)
        result.update(status=status, response=response)
        if status not in p["status_code"]:
            self.fail(
                "purge request %s %s answered HTTP %s (expected %s); the CDN may not have purged"
                % (p["method"], safe_url, status, ", ".join(str(s) for s in p["status_code"])),
                **result,
            )
        self.step.exit(
            True,
            message="%s %s -> HTTP %s" % (p["method"], safe_url, status),
            journal_fields={"to": safe_url, "status": status},
            diff=diff,
            **result,
        )


class PatternProgress:
    """What a pattern flush deleted so far, for an error that says what was left half done."""

    def __init__(self):
        self.started = False
        self.done = {}
        self.current = None

    def describe(self):
        if not self.started or (not self.done and self.current is None):
            return "nothing was deleted"
        return "deleted so far: %s%s" % (
            json.dumps(self.done),
            ", and part of %s" % self.current if self.current else "",
        )


def _read_error_body(err):
    try:
        return err.read(4096) or b""
    except (OSError, AttributeError, HTTPException):
        return b""


def _reason(err):
    return getattr(err, "reason", None) or err


def _decode(raw):
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                **_cache.redis_argument_spec(),
                backend=dict(type="str", choices=["redis", "memcached", "cdn"], required=True),
                patterns=dict(type="list", elements="str"),
                flushdb=dict(type="bool"),
                flushall=dict(type="bool"),
                url=dict(type="str"),
                method=dict(type="str", default="POST", choices=["POST", "PURGE", "DELETE", "PUT", "GET"]),
                headers=dict(type="dict", default={}),
                token=dict(type="str", no_log=True),
                token_header=dict(type="str", no_log=False),
                body=dict(type="raw"),
                status_code=dict(type="list", elements="int", default=[200, 201, 202, 204]),
            )
        ),
        required_if=[
            ("backend", "cdn", ("url",)),
            ("backend", "redis", ("patterns", "flushdb", "flushall"), True),
        ],
        mutually_exclusive=[("patterns", "flushdb", "flushall")],
        supports_check_mode=True,
    )
    p = module.params
    hide_secret_headers(module, p["headers"])
    if p["batch_size"] < 1 or p["timeout"] <= 0:
        module.fail_json(msg="cache_flush: batch_size must be 1 or more and timeout more than 0; nothing was flushed")
    if p["patterns"] is not None and (not p["patterns"] or not all(p["patterns"])):
        module.fail_json(
            msg="cache_flush: patterns must be a non-empty list of non-empty patterns; nothing was deleted"
        )
    flush = CacheFlush(module)
    if p["backend"] == "redis":
        flush.redis()
    elif p["backend"] == "memcached":
        flush.memcached()
    else:
        flush.cdn()


if __name__ == "__main__":
    main()
