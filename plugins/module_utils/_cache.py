# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cache flushes: Redis (key patterns by SCAN + UNLINK, FLUSHDB, FLUSHALL), memcached, CDN purge.

PRIVATE to this collection: the leading underscore means no API promise.

Redis key patterns are never expanded with KEYS (it blocks the server for the whole
keyspace): SCAN walks the keyspace in steps of `batch` and each step's matches go in one
UNLINK (the memory is freed in the background).
"""

from __future__ import annotations

import socket

try:
    import redis

    HAS_REDIS = True
    REDIS_IMPORT_ERROR = None
except ImportError as err:  # pragma: no cover - exercised only where redis-py is missing
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = err


class CacheError(Exception):
    pass


# --- Redis --------------------------------------------------------------------------------------


def redis_argument_spec():
    """The connection options of the cache modules (doc fragment emergency.rollback._redis)."""
    return dict(
        host=dict(type="str", default="127.0.0.1"),
        port=dict(type="int"),
        redis_db=dict(type="int", default=0),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        tls=dict(type="bool", default=False),
        ca_path=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        batch_size=dict(type="int", default=1000),
        timeout=dict(type="float", default=10.0),
    )


def redis_client(
    host, port, db=0, password=None, username=None, tls=False, ca_path=None, validate_certs=True, timeout=10.0
):
    kwargs = dict(
        host=host,
        port=port,
        db=db,
        password=password or None,
        username=username or None,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    if tls:
        kwargs.update(ssl=True, ssl_ca_certs=ca_path, ssl_cert_reqs="required" if validate_certs else "none")
    return redis.Redis(**kwargs)


def scan_batches(client, pattern, batch):
    """Lists of at most ~batch matching keys, one per SCAN step (never KEYS)."""
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor=cursor, match=pattern, count=batch)
        if keys:
            yield keys
        if cursor == 0:
            break


def count_matches(client, pattern, batch=1000):
    """Distinct keys matching pattern (SCAN may return a key twice)."""
    seen = set()
    for keys in scan_batches(client, pattern, batch):
        seen.update(keys)
    return len(seen)


def delete_matches(client, pattern, batch=1000):
    """UNLINK every key matching pattern, a SCAN step at a time; returns how many were removed.

    Counts UNLINK's replies, so a key SCAN returns twice or that expired meanwhile is not counted.
    """
    deleted = 0
    for keys in scan_batches(client, pattern, batch):
        for start in range(0, len(keys), batch):
            deleted += client.unlink(*keys[start : start + batch])
    return deleted


def keyspace_total(client):
    """Keys in every database of the server (INFO keyspace)."""
    info = client.info("keyspace")
    return sum(int(v.get("keys", 0)) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))


def redis_errors():
    return (redis.exceptions.RedisError, OSError)


# --- memcached ----------------------------------------------------------------------------------


def _memcached_command(host, port, line, timeout, terminators):
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(line.encode() + b"\r\n")
        data = b""
        while not data.endswith(terminators):
            chunk = sock.recv(65536)
            if not chunk:
                raise CacheError("memcached %s:%d closed the connection after %r" % (host, port, line))
            data += chunk
    if data.startswith((b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR")):
        raise CacheError(
            "memcached %s:%d answered %r to %r" % (host, port, data.strip().decode(errors="replace"), line)
        )
    return data.decode(errors="replace")


def memcached_stats(host, port, timeout=5.0):
    reply = _memcached_command(host, port, "stats", timeout, (b"END\r\n", b"ERROR\r\n"))
    stats = {}
    for line in reply.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT":
            stats[parts[1]] = parts[2]
    return stats


def memcached_flush(host, port, timeout=5.0):
    reply = _memcached_command(host, port, "flush_all", timeout, (b"OK\r\n", b"ERROR\r\n"))
    if reply.strip() != "OK":
        raise CacheError("memcached %s:%d answered %r to flush_all" % (host, port, reply.strip()))


# --- CDN purge ----------------------------------------------------------------------------------


def purge_headers(headers, token=None, token_header=None):
    """Request headers: the given ones plus the token (Authorization: Bearer <token> by default)."""
    merged = {str(k): str(v) for k, v in (headers or {}).items()}
    if token:
        if token_header and token_header.lower() != "authorization":
            merged[token_header] = token
        else:
            merged["Authorization"] = "Bearer %s" % token
    return merged


def strip_query(url):
    """The URL without query string or userinfo: safe to return and journal."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = "[%s]" % netloc
    if parts.port:
        netloc += ":%d" % parts.port
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
