"""Database modules as whole modules (patch_module_args): input errors and sqlite_snapshot end to end."""

from __future__ import annotations

import sqlite3

import pytest

from ansible_collections.emergency.rollback.plugins.modules import (
    alembic_migrate,
    data_loss_report,
    pg_restore_safe,
    pg_snapshot,
    sqlite_snapshot,
)
from tests.harness.modules import run


def test_restore_without_snapshots_fails_clearly(tmp_path):
    ok, res = run(pg_restore_safe, {"database": "shop", "state_dir": str(tmp_path), "login_password": "pw"})
    assert not ok and "no latest snapshot of postgresql database shop" in res["msg"]
    assert "nothing was changed" in res["msg"]


def test_bad_inputs(tmp_path):
    ok, res = run(pg_restore_safe, {"database": "shop", "state_dir": str(tmp_path), "jobs": 0})
    assert not ok and "jobs and swap_attempts must be 1 or more" in res["msg"]
    ok, res = run(pg_restore_safe, {"database": "shop", "state_dir": str(tmp_path), "snapshot_id": "latest"})
    assert not ok and "invalid snapshot id" in res["msg"] and "nothing was changed" in res["msg"]
    ok, res = run(pg_snapshot, {"database": "shop", "state_dir": str(tmp_path), "snapshot_id": "bad/name"})
    assert not ok and "invalid snapshot id" in res["msg"]
    ok, res = run(pg_snapshot, {"database": "shop", "state_dir": str(tmp_path), "bin_dir": str(tmp_path)})
    assert not ok and "pg_dump not found" in res["msg"] and "nothing was dumped" in res["msg"]
    ok, res = run(
        data_loss_report, {"database": "shop", "state_dir": str(tmp_path), "tables": [], "since": "yesterday"}
    )
    assert not ok and "neither ISO 8601 nor epoch" in res["msg"]
    ok, res = run(alembic_migrate, {"app_dir": str(tmp_path / "none"), "state_dir": str(tmp_path)})
    assert not ok and "is not a directory" in res["msg"]
    ok, res = run(alembic_migrate, {"app_dir": str(tmp_path), "command": "downgrade"})
    assert not ok and "revision" in res["msg"]


@pytest.mark.parametrize(
    ("value", "epoch"), [("0", 0.0), ("2026-11-23T18:45:01Z", 1795459501.0), ("2026-11-23T18:45:01", 1795459501.0)]
)
def test_parse_since(value, epoch):
    assert data_loss_report.parse_since(value) == epoch


def test_sqlite_snapshot_module_cycle(tmp_path):
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
    conn.commit()
    conn.close()
    args = {"path": str(db), "state_dir": str(tmp_path / "s"), "snapshot_id": "one"}
    ok, res = run(sqlite_snapshot, dict(args, _ansible_check_mode=True))
    assert ok and res["changed"] and not (tmp_path / "s/snapshots").exists() and res["snapshot"] is None
    ok, res = run(sqlite_snapshot, args)
    one = {"id": "one", "path": str(tmp_path / "s/snapshots/database/one")}
    assert ok and res["changed"] and res["row_counts"] == {"t": 5} and res["snapshot"] == one
    ok, res = run(sqlite_snapshot, args)
    assert ok and not res["changed"] and res["snapshot"] == one
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM t")
    conn.commit()
    conn.close()
    restore = {"path": str(db), "state_dir": str(tmp_path / "s"), "state": "restored"}
    ok, res = run(sqlite_snapshot, dict(restore, _ansible_check_mode=True))
    assert ok and res["changed"] and sqlite3.connect(db).execute("SELECT count(*) FROM t").fetchone()[0] == 0
    ok, res = run(sqlite_snapshot, restore)
    assert ok and res["changed"] and res["snapshot"]["id"].startswith("sqlite-app.db-")
    assert res["restored_from"] == one
    assert sqlite3.connect(db).execute("SELECT count(*) FROM t").fetchone()[0] == 5
    # the safety copy that restore took is never 'latest': a second run still means snapshot one
    ok, res = run(sqlite_snapshot, restore)
    assert ok and not res["changed"] and res["restored_from"] == one and res["snapshot"] is None
