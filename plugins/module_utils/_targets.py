# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Relative targets (latest, previous, -N) fixed once per rollback.

PRIVATE to this collection: the leading underscore means no API promise.

A rollback asked for with a relative word is resolved to a concrete id when it starts, and that
resolution is recorded with the state it started from (for example the live database's oid, or
the Alembic revision found). A retry of the same rollback, started from that same state or
finding the state the rollback left behind, gets the same id back instead of counting again from
where the first run left things.

One file per scope (one database on one server, one Alembic project):
<state_dir>/<component>/targets-<hash of scope>.json, holding the last resolution per word.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic

# datetime.UTC is Python 3.11+, targets run 3.9
_UTC = datetime.timezone.utc  # noqa: UP017


def read_json(path):
    """A JSON object from a state file, or {} when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path, data):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    _atomic.write_file(path, json.dumps(data, indent=2, sort_keys=True).encode(), mode=0o600)


class Targets:
    """The recorded resolutions of relative words within one scope."""

    def __init__(self, state_dir, component, scope):
        digest = hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()[:16]
        self.path = os.path.join(state_dir, component, "targets-%s.json" % digest)
        self.scope = scope
        self.data = read_json(self.path)

    def find(self, asked, state):
        """The recorded entry for `asked` when `state` is where it started or where it landed."""
        entry = self.data.get("entries", {}).get(asked)
        if entry and (entry.get("from") == state or ("landed" in entry and entry["landed"] == state)):
            return entry
        return None

    def record(self, asked, start, target, run_id=None):
        """Fix `asked` to `target` for rollbacks starting at `start` (replaces an older resolution)."""
        entry = {
            "asked": asked,
            "from": start,
            "target": target,
            "run_id": run_id or None,
            "resolved_at": datetime.datetime.now(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.data.setdefault("entries", {})[asked] = entry
        self.data["scope"] = self.scope
        write_json(self.path, self.data)
        return entry

    def landed(self, asked, state):
        """Record the state the rollback of `asked` left, so a retry recognises it as in place."""
        entry = self.data.get("entries", {}).get(asked)
        if entry is not None:
            entry["landed"] = state
            write_json(self.path, self.data)
