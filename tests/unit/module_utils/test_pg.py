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
    pg = _pg.Pg(
        {"login_host": "db", "login_port": 5433, "login_user": "u", "login_password": "s3cret", "database": "x"}
    )
    env = pg.env()
    assert env["PGPASSWORD"] == "s3cret" and env["PGHOST"] == "db" and env["PGPORT"] == "5433"
    info = pg.conninfo("x")
    assert info["password"] == "s3cret" and info["dbname"] == "x" and info["sslmode"] == "prefer"
    sock = _pg.Pg({"login_host": "db", "login_unix_socket": "/run/pg", "database": "x"})
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
    path = _pg.restore_state_path(str(tmp_path), {"login_host": "db/1", "login_port": 5432, "database": "shop"})
    assert path.endswith("database/restore-db_1_5432_shop.json")
    assert _pg.read_restore_state(path) == {}
    _pg.write_restore_state(path, {"state": "restored", "live_oid": 5})
    assert _pg.read_restore_state(path) == {"state": "restored", "live_oid": 5}
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_safety_copies_are_never_latest_nor_previous(tmp_path):
    view = _pg.DbSnapshots(str(tmp_path), _pg.ENGINE, "shop")
    for n, safety in enumerate([False, True, True]):
        metadata = {"engine": _pg.ENGINE, "database": "shop"}
        if safety:
            metadata.update(kind=_pg.SAFETY_KIND, replaced_by="s0")
        with view.store.staging("s%d" % n, metadata=metadata, now=n) as stage:
            with open(stage.file(_pg.DUMP_NAME), "w") as handle:
                handle.write("x")
    assert view.get("latest")["id"] == "s0" and view.newest_id() == "s0"
    with pytest.raises(SnapshotNotFound) as err:
        view.get("previous")
    assert "no previous snapshot" in str(err.value) and "1 snapshot(s)" in str(err.value)
    assert "\n" not in str(err.value)
    # by id, a safety copy is reachable; retention counts each kind apart
    assert view.get("s2")["id"] == "s2"
    assert view.plan_prune(1, safety=False) == [] and view.plan_prune(1, safety=True) == ["s1"]
    assert view.plan_prune(1) == ["s0", "s1"]
    assert view.ref(view.get("s0")) == {"id": "s0", "path": str(tmp_path / "snapshots/database/s0")}


def test_fewer_rows_allows_growth_only():
    assert _pg.fewer_rows({"a": 2, "b": 3}, {"a": 5, "b": 3, "c": 1}) == []
    assert _pg.fewer_rows({"a": 2, "b": 3}, {"a": 1}) == [
        "a has 1 rows, the snapshot had 2",
        "b has 0 rows, the snapshot had 3",
    ]
