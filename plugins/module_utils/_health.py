# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP health probes with millisecond latency figures.

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import math
import re
import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.urls import open_url


class BadURL(ValueError):
    pass


def check_url(url):
    """Raise BadURL with the reason when url is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise BadURL("invalid URL %r: %s" % (url, err)) from None
    if parts.scheme not in ("http", "https"):
        raise BadURL("invalid URL %r: scheme must be http or https" % url)
    if not parts.hostname:
        raise BadURL("invalid URL %r: no host" % url)
    if port is not None and not 0 < port < 65536:
        raise BadURL("invalid URL %r: port out of range" % url)
    return parts


def percentile(sorted_values, pct):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, int(math.ceil(pct / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


def latency_summary(values_ms):
    """min / median / p95 / max in milliseconds, rounded to 0.01 ms; None values ignored."""
    values = sorted(v for v in values_ms if v is not None)
    if not values:
        return {"count": 0, "min": None, "median": None, "p95": None, "max": None}
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2.0
    return {
        "count": len(values),
        "min": round(values[0], 2),
        "median": round(median, 2),
        "p95": round(percentile(values, 95), 2),
        "max": round(values[-1], 2),
    }


def network_reason(err):
    """A short lower-case reason for a failed request (URLError, socket and TLS errors)."""
    reason = getattr(err, "reason", err)
    if isinstance(reason, socket.timeout) or isinstance(err, socket.timeout) or "timed out" in str(reason):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ssl.SSLError):
        return "TLS error: %s" % (getattr(reason, "reason", None) or reason)
    if isinstance(reason, socket.gaierror):
        return "cannot resolve host: %s" % reason.strerror
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)


def probe(url, method="GET", headers=None, timeout=5.0, validate_certs=True, ca_path=None, body_limit=65536):
    """One request. Returns dict(status, body, latency_ms, error); never raises for network errors."""
    started = time.perf_counter()
    status, body, error = None, b"", None
    try:
        response = open_url(
            url,
            method=method,
            headers=headers or {},
            timeout=timeout,
            validate_certs=validate_certs,
            ca_path=ca_path,
            follow_redirects="none",
            use_proxy=False,
        )
        status = response.getcode()
        body = response.read(body_limit)
    except HTTPError as err:
        status = err.code
        try:
            body = err.read(body_limit) or b""
        except Exception:  # the error body is only informative
            body = b""
    except (TimeoutError, URLError, ssl.SSLError, ConnectionError, OSError) as err:
        error = network_reason(err)
    latency = (time.perf_counter() - started) * 1000.0
    return {"status": status, "body": body, "latency_ms": latency, "error": error}


def judge(result, status_codes, body_regex=None):
    """(ok, reason) for one probe result."""
    if result["error"]:
        return False, result["error"]
    if result["status"] not in status_codes:
        return False, "status %s, expected %s" % (result["status"], "/".join(str(c) for c in status_codes))
    if body_regex is not None:
        text = result["body"].decode("utf-8", errors="replace")
        if not re.search(body_regex, text):
            return False, "body does not match %r" % body_regex
    return True, None


def check(
    url, status_codes=(200,), body_regex=None, attempts=10, interval=1.0, consecutive=1, sleep=time.sleep, **probe_args
):
    """Probe url until `consecutive` successes in a row, or `attempts` run out."""
    latencies, streak, successes, made = [], 0, 0, 0
    last_status, last_reason = None, None
    while made < attempts:
        if made:
            sleep(interval)
        result = probe(url, **probe_args)
        made += 1
        latencies.append(result["latency_ms"])
        last_status = result["status"]
        ok, reason = judge(result, status_codes, body_regex)
        if ok:
            successes += 1
            streak += 1
            if streak >= consecutive:
                break
        else:
            streak = 0
            last_reason = reason
        # Stop early when the remaining attempts cannot reach the streak.
        if consecutive - streak > attempts - made:
            break
    healthy = streak >= consecutive
    return {
        "url": url,
        "healthy": healthy,
        "status": last_status,
        "attempts": made,
        "successes": successes,
        "consecutive": streak,
        "error": None if healthy else last_reason,
        "latency_ms": latency_summary(latencies),
    }
