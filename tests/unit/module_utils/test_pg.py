"""Plain helpers of _pg: names, count comparison, bin discovery, per-database snapshot views."""

from __future__ import annotations

import os

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _pg
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotNotFound


def test_scratch_names_and_the_63_byte_limit():
    assert _pg.scratch_name("shop", "restore", "20261123184500") == "shop_restore_20261123184500"
    with pytest.raises(_pg.PgError, match="63-byte limit"):
        _pg.scratch_name("x" * 40, "pre_rollback", "20261123184500")


@pytest.mark.parametrize(
    ("name", "kind", "match"),
    [
        ("shop_pre_rollback_20261123184500", "pre_rollback", True),
        ("shop_pre_rollback_20261123184500_2", "pre_rollback", True),
        ("shop_pre_rollback_x", "pre_rollback", False),
        ("shop2_pre_rollback_20261123184500", "pre_rollback", False),
        ("shop_restore_20261123184500", "pre_rollback", False),
        ("a.b_restore_20261123184500", "restore", False),
    ],
)
def test_kept_name_pattern(name, kind, match):
    assert bool(_pg.kept_name_re("shop", kind).match(name)) is match


def test_compare_counts_names_every_difference():
    assert _pg.compare_counts({"a": 1, "b": 2}, {"a": 1, "b": 2}) == []
    problems = _pg.compare_counts({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 0})
    assert problems == ["b has 5 rows, expected 2", "c missing (expected 3 rows)", "d unexpected (0 rows)"]


def test_table_key_and_snapshot_ids():
    assert _pg.table_key("public", "users") == "users" and _pg.table_key("billing", "inv") == "billing.inv"
    sid = _pg.snapshot_id_for("my db/1", now=0)
    assert sid.startswith("my-db-1-19700101T000000.000000Z-")


def test_find_bin_dir(tmp_path):
    with pytest.raises(_pg.PgError, match="not found or not executable"):
        _pg.find_bin_dir(str(tmp_path))
    exe = tmp_path / "pg_dump"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert _pg.find_bin_dir(str(tmp_path)) == str(tmp_path)
    found = _pg.find_bin_dir()
    assert os.access(os.path.join(found, "pg_dump"), os.X_OK)


def test_env_carries_the_password_not_argv():
    pg = _pg.Pg({"login_host": "db", "login_port": 5433, "login_user": "u", "login_password": "s3cret", "db": "x"})
    env = pg.env()
    assert env["PGPASSWORD"] == "s3cret" and env["PGHOST"] == "db" and env["PGPORT"] == "5433"
    info = pg.conninfo("x")
    assert info["password"] == "s3cret" and info["dbname"] == "x" and info["sslmode"] == "prefer"
    sock = _pg.Pg({"login_host": "db", "login_unix_socket": "/run/pg", "db": "x"})
    assert sock.env()["PGHOST"] == "/run/pg" and "PGPASSWORD" not in sock.env()


def test_snapshots_are_seen_per_database(tmp_path):
    views = {db: _pg.DbSnapshots(str(tmp_path), _pg.ENGINE, db) for db in ("a", "b")}
    for n, db in enumerate(["a", "b", "a", "a"]):
        with views[db].store.staging("s%d" % n, metadata={"engine": _pg.ENGINE, "database": db}, now=n) as stage:
            with open(stage.file(_pg.DUMP_NAME), "w") as handle:
                handle.write(db)
    assert [m["id"] for m in views["a"].list()] == ["s0", "s2", "s3"]
    assert views["a"].get("latest")["id"] == "s3" and views["a"].get("previous")["id"] == "s2"
    assert views["b"].get("latest")["id"] == "s1"
    with pytest.raises(SnapshotNotFound, match="no previous snapshot"):
        views["b"].get("previous")
    assert views["a"].prune(2, protect=("s0",)) == ["s2"]
    assert [m["id"] for m in views["a"].list()] == ["s0", "s3"] and views["b"].get("latest")["id"] == "s1"


def test_restore_state_roundtrip(tmp_path):
    path = _pg.restore_state_path(str(tmp_path), {"login_host": "db/1", "login_port": 5432, "db": "shop"})
    assert path.endswith("database/restore-db_1_5432_shop.json")
    assert _pg.read_restore_state(path) == {}
    _pg.write_restore_state(path, {"state": "restored", "live_oid": 5})
    assert _pg.read_restore_state(path) == {"state": "restored", "live_oid": 5}
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
