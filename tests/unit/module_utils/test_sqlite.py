"""_sqlite: online backup, integrity, logical digest."""

from __future__ import annotations

import sqlite3

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _sqlite


def make(path, rows):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [("v%d" % i,) for i in range(rows)])
    conn.commit()
    conn.close()


def test_backup_restore_and_digest(tmp_path):
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    make(live, 10)
    assert _sqlite.backup(str(live), str(copy)) == {"t": 10}
    assert _sqlite.integrity(str(copy)) == "ok"
    digest = _sqlite.content_sha256(str(copy))
    assert digest == _sqlite.content_sha256(str(live))
    conn = sqlite3.connect(live)
    conn.execute("DELETE FROM t WHERE id > 3")
    conn.commit()
    conn.close()
    assert _sqlite.content_sha256(str(live)) != digest
    assert _sqlite.restore_into(str(copy), str(live)) == {"t": 10}
    assert _sqlite.content_sha256(str(live)) == digest


def test_integrity_of_a_non_database(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(_sqlite.SqliteError, match="not a usable SQLite database"):
        _sqlite.integrity(str(junk))
