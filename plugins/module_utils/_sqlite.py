# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SQLite snapshots with the online backup API: consistent while the application writes.

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3

from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import new_id

ENGINE = "sqlite"
FILE_NAME = "db.sqlite"


class SqliteError(Exception):
    pass


def _connect(path, readonly=False, timeout=30.0):
    if readonly:
        return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=timeout)
    return sqlite3.connect(path, timeout=timeout)


def integrity(path):
    """'ok' or the first problems PRAGMA integrity_check reports (a non-database raises SqliteError)."""
    try:
        conn = _connect(path, readonly=True)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        raise SqliteError("%s is not a usable SQLite database: %s" % (path, err)) from err
    result = "; ".join(r[0] for r in rows[:5])
    return result


def table_counts(conn):
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        )
    ]
    return {name: conn.execute('SELECT count(*) FROM "%s"' % name.replace('"', '""')).fetchone()[0] for name in names}


def content_sha256(path):
    """Digest of the logical content (the SQL dump), equal for equal databases whatever their page layout."""
    digest = hashlib.sha256()
    conn = _connect(path, readonly=True)
    try:
        for line in conn.iterdump():
            digest.update(line.encode("utf-8", "surrogatepass"))
            digest.update(b"\n")
    finally:
        conn.close()
    return digest.hexdigest()


def backup(src_path, dest_path, pages=1024):
    """Online backup src -> dest (dest created or overwritten); returns dest's row counts.

    The backup API copies a consistent state even while other connections write to src.
    """
    src = _connect(src_path, readonly=True)
    try:
        dest = _connect(dest_path)
        try:
            src.backup(dest, pages=pages)
            counts = table_counts(dest)
        finally:
            dest.close()
    finally:
        src.close()
    return counts


def restore_into(snapshot_path, live_path):
    """Write the snapshot's pages into the live database through the backup API (under its write lock)."""
    src = _connect(snapshot_path, readonly=True)
    try:
        live = _connect(live_path)
        try:
            src.backup(live)  # one step: the live file is locked once, readers see old or new
            counts = table_counts(live)
        finally:
            live.close()
    finally:
        src.close()
    return counts


def snapshot_id_for(path, now=None):
    base = re.sub(r"[^A-Za-z0-9.+-]", "-", os.path.basename(path)).strip("-.") or "db"
    return "sqlite-%s-%s" % (base, new_id(now))
