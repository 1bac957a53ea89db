# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host journal: append-only JSON lines, one per step a primitive takes.

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import re
import socket

DEFAULT_STATE_DIR = "/var/lib/emergency-rollback"
JOURNAL_NAME = "journal.jsonl"

# Field order is the order a person reads a line in.
FIELDS = (
    "run_id",
    "ts",
    "host",
    "component",
    "action",
    "from",
    "to",
    "snapshot",
    "duration_s",
    "result",
    "message",
)
RESULTS = ("ok", "changed", "failed", "reverted", "skipped", "not_verified")
MASK = "********"


def utcnow_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def redact(value, secrets):
    """Replace every occurrence of each secret string inside value (recursively)."""
    secrets = [s for s in (secrets or ()) if isinstance(s, str) and len(s) >= 3]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    return value


# A URL inside any text; its userinfo and the values of token-like query parameters are credentials.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_SECRET_PARAM = re.compile(r"token|key|secret|pass|pwd|auth|sig|credential|session", re.IGNORECASE)


def redact_url(url):
    """The URL with its userinfo and the values of token-like query parameters masked."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = MASK + "@" + authority.rpartition("@")[2]
    head, qmark, query = (authority + slash + tail).partition("?")
    if qmark:
        pairs = []
        for pair in query.split("&"):
            name, eq, value = pair.partition("=")
            pairs.append(name + eq + (MASK if eq and value and _SECRET_PARAM.search(name) else value))
        query = "&".join(pairs)
    return scheme + sep + head + qmark + query


def redact_urls(value):
    """Every URL inside value (recursively) passed through redact_url."""
    if isinstance(value, str):
        return _URL.sub(lambda match: redact_url(match.group(0)), value) if "://" in value else value
    if isinstance(value, dict):
        return {k: redact_urls(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_urls(v) for v in value]
    return value


class JournalError(Exception):
    pass


def make_entry(component, action, result, run_id=None, host=None, ts=None, **fields):
    if result not in RESULTS:
        raise JournalError("result must be one of %s, got %r" % (", ".join(RESULTS), result))
    if not component or not action:
        raise JournalError("component and action are required")
    entry = {
        "run_id": run_id,
        "ts": ts or utcnow_iso(),
        "host": host or socket.gethostname(),
        "component": component,
        "action": action,
        "from": fields.pop("from_", fields.pop("from", None)),
        "to": fields.pop("to", None),
        "snapshot": fields.pop("snapshot", None),
        "duration_s": fields.pop("duration_s", None),
        "result": result,
        "message": fields.pop("message", None),
    }
    if entry["duration_s"] is not None:
        entry["duration_s"] = round(float(entry["duration_s"]), 3)
    # Anything else a primitive wants to record (counts, checksums) goes under "details".
    if fields:
        entry["details"] = fields
    return entry


class Journal:
    def __init__(self, path):
        self.path = path

    @classmethod
    def in_state_dir(cls, state_dir):
        return cls(os.path.join(state_dir, JOURNAL_NAME))

    def append(self, entry, secrets=None):
        """Append one entry as a single line; safe against concurrent writers."""
        entry = redact_urls(redact(entry, secrets))
        line = json.dumps(entry, sort_keys=False, default=str, separators=(",", ":")) + "\n"
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o750, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A previous writer killed mid-line must not glue our line onto its fragment.
            size = os.fstat(fd).st_size
            if size:
                with open(self.path, "rb") as reader:
                    reader.seek(size - 1)
                    if reader.read(1) != b"\n":
                        line = "\n" + line
            data = line.encode("utf-8")
            try:
                written = 0
                while written < len(data):  # a full disk writes what fits, then refuses
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            except OSError:
                # the journal keeps whole lines only: a line cut short by a full disk is taken back
                try:
                    os.ftruncate(fd, size)
                except OSError:
                    pass
                raise
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return entry

    def read(self, run_id=None, component=None, tail=None):
        """Return (entries, problems). A line that is not a JSON object is reported, not fatal."""
        entries, problems = [], []
        if not os.path.exists(self.path):
            return entries, problems
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    entry = json.loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as err:
                    problems.append({"line": number, "error": "not valid JSON: %s" % err})
                    continue
                if not isinstance(entry, dict) or "component" not in entry or "action" not in entry:
                    problems.append({"line": number, "error": "not a journal entry (missing component/action)"})
                    continue
                if run_id is not None and entry.get("run_id") != run_id:
                    continue
                if component is not None and entry.get("component") != component:
                    continue
                entries.append(entry)
        if tail:
            entries = entries[-tail:]
        return entries, problems
