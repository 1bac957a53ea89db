from __future__ import annotations

import os
import sqlite3
import threading

import pytest

pytestmark = pytest.mark.integration

M = "emergency.rollback.sqlite_snapshot"


@pytest.fixture
def sqlite_db(tmp_path):
    path = tmp_path / "app.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
    conn.executemany("INSERT INTO posts (title) VALUES (?)", [("post %d" % i,) for i in range(100)])
    conn.commit()
    conn.close()
    return path


def count(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    finally:
        conn.close()


def test_snapshot_and_restore_four_runs(four, sqlite_db, state_dir):
    args = {"path": str(sqlite_db), "state_dir": str(state_dir), "snapshot_id": "s1"}
    taken = four(M, args)
    s1 = {"id": "s1", "path": str(state_dir / "snapshots/database/s1")}
    assert taken[1]["row_counts"] == {"posts": 100} and taken[3]["snapshot"] == s1
    assert (state_dir / "snapshots/database/s1/files/db.sqlite").exists()
    conn = sqlite3.connect(sqlite_db)
    conn.execute("DELETE FROM posts WHERE id > 10")
    conn.commit()
    conn.close()
    restored = four(M, {"path": str(sqlite_db), "state_dir": str(state_dir), "state": "restored", "snapshot": "s1"})
    assert count(sqlite_db) == 100
    pre = restored[1]["snapshot"]
    assert restored[1]["restored_from"] == s1 and os.path.isdir(pre["path"])
    assert restored[3]["snapshot"] is None and restored[3]["restored_from"] == s1
    assert restored[0]["diff"]["after"]["snapshot"] == "s1"


def test_snapshot_is_consistent_while_the_app_writes(task, sqlite_db, state_dir):
    stop = threading.Event()

    def writer():
        conn = sqlite3.connect(sqlite_db, timeout=30)
        while not stop.is_set():
            conn.execute("INSERT INTO posts (title) VALUES ('live')")
            conn.commit()
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        event, res, _ = task(M, {"path": str(sqlite_db), "state_dir": str(state_dir)})
    finally:
        stop.set()
        thread.join()
    assert event == "runner_on_ok", res.get("msg")
    copy = state_dir / "snapshots/database" / res["snapshot"]["id"] / "files/db.sqlite"
    assert res["row_counts"]["posts"] == count(copy) >= 100
    assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_corrupt_snapshot_refused_live_untouched(task, sqlite_db, state_dir):
    args = {"path": str(sqlite_db), "state_dir": str(state_dir), "snapshot_id": "s1"}
    assert task(M, args)[0] == "runner_on_ok"
    snap = state_dir / "snapshots/database/s1/files/db.sqlite"
    data = bytearray(snap.read_bytes())
    data[200] ^= 0xFF
    snap.write_bytes(bytes(data))
    conn = sqlite3.connect(sqlite_db)
    conn.execute("DELETE FROM posts")
    conn.commit()
    conn.close()
    event, res, _ = task(
        M, {"path": str(sqlite_db), "state_dir": str(state_dir), "state": "restored", "snapshot": "s1"}
    )
    assert event == "runner_on_failed" and "refusing snapshot s1" in res["msg"] and "checksum mismatch" in res["msg"]
    assert count(sqlite_db) == 0
