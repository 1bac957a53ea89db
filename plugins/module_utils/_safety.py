# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Safety copies a host keeps after a rollback, read from the state directory alone (no database login).

PRIVATE to this collection: the leading underscore means no API promise.

They are what "rollback of the rollback" needs and what a person must not delete by mistake:
the data directories pg_pitr set aside (<data_dir>.pre_pitr-*, <data_dir>.reverted_pitr-*), the
databases pg_restore_safe renamed (<db>_pre_rollback_*, <db>_reverted_*) and the dumps of the live
database it took before a restore (snapshots of kind pre-restore).
"""

from __future__ import annotations

import glob
import json
import os

from ansible_collections.emergency.rollback.plugins.module_utils._pg import COMPONENT, SAFETY_KIND
from ansible_collections.emergency.rollback.plugins.module_utils._pitr import KEPT_TAG, REVERTED_TAG

DIR_TAGS = ((KEPT_TAG, "pre_pitr data directory"), (REVERTED_TAG, "reverted_pitr data directory"))


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _pitr_dirs(record):
    """Every set-aside directory beside the cluster a pg_pitr record names, found on disk."""
    recorded = record.get("pre_dir") or record.get("reverted_dir")
    if not recorded:
        return []
    # <data_dir>.<tag>-<stamp>: the live data directory is everything before the tag
    data_dir = recorded.rsplit(".", 1)[0]
    found = []
    for tag, kind in DIR_TAGS:
        for path in sorted(glob.glob(glob.escape(data_dir) + ".%s-*" % tag)):
            if os.path.isdir(path):
                found.append({"kind": kind, "name": path, "of": data_dir})
    return found


def safety_copies(state_dir):
    """Safety copies recorded under state_dir, oldest first within each kind; nothing needs a login."""
    base = os.path.join(state_dir, COMPONENT)
    copies = []
    seen = set()
    for path in sorted(glob.glob(os.path.join(glob.escape(base), "pitr-*.json"))):
        for copy in _pitr_dirs(_read(path) or {}):
            if copy["name"] not in seen:
                seen.add(copy["name"])
                copies.append(copy)
    for path in sorted(glob.glob(os.path.join(glob.escape(base), "restore-*.json"))):
        record = _read(path) or {}
        of = os.path.basename(path)[len("restore-") : -len(".json")]
        for key, kind, since in (
            ("pre_rollback_db", "pre-restore database", "restored_at"),
            ("reverted_db", "reverted database", "reverted_at"),
        ):
            if record.get(key):
                copies.append({"kind": kind, "name": record[key], "of": of, "since": record.get(since)})
    for meta_path in sorted(glob.glob(os.path.join(glob.escape(state_dir), "snapshots", COMPONENT, "*", "meta.json"))):
        meta = _read(meta_path) or {}
        metadata = meta.get("metadata") or {}
        if metadata.get("kind") == SAFETY_KIND:
            copies.append(
                {
                    "kind": "pre-restore dump",
                    "name": meta.get("id"),
                    "of": meta.get("source"),
                    "since": meta.get("created"),
                    "path": os.path.dirname(meta_path),
                }
            )
    return copies
