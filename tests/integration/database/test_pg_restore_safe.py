from __future__ import annotations

import json
import os
import signal
import threading
import time

import psycopg
import pytest

pytestmark = pytest.mark.integration

SNAP = "emergency.rollback.pg_snapshot"
RESTORE = "emergency.rollback.pg_restore_safe"
ORIGINAL = {"users": 20, "orders": 50, "billing.invoices": 5}


def snapshot(task, pg_args, name="snap1"):
    event, res, _ = task(SNAP, dict(pg_args, snapshot_id=name))
    assert event == "runner_on_ok", res
    return res


def test_restore_four_runs_swaps_and_keeps_old_database(four, task, pgdb, pg_args, state_dir):
    snapshot(task, pg_args)
    old_oid = pgdb.oid()
    pgdb.execute("DELETE FROM billing.invoices; DELETE FROM orders WHERE id > 10")
    pgdb.execute("ALTER DATABASE %s SET work_mem = '8MB'" % pgdb.name)
    results = four(RESTORE, dict(pg_args, snapshot="snap1", checks=["SELECT count(*) = 20 FROM users"]))
    check, real, again, last = results
    assert check["diff"]["before"]["oid"] == old_oid and check["diff"]["after"]["snapshot"] == "snap1"
    assert real["restored_from"]["id"] == "snap1" and real["row_counts"] == ORIGINAL
    assert pgdb.counts() == ORIGINAL
    pre = real["pre_rollback_db"]
    assert pre.startswith(pgdb.name + "_pre_rollback_") and pgdb.databases() == sorted([pgdb.name, pre])
    assert pgdb.counts(pre) == {"users": 20, "orders": 10, "billing.invoices": 0}
    assert pgdb.oid() == real["live_oid"] != old_oid and again["live_oid"] == pgdb.oid() == last["live_oid"]
    # the safety copy of the replaced database is in the store; the re-runs took none
    assert real["snapshot"]["id"] != "snap1" and (again["snapshot"], last["snapshot"]) == (None, None)
    # database-level settings follow the live database
    assert pgdb.execute("SHOW work_mem") == [("8MB",)]
    entries = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    restore = [e for e in entries if e["action"] == "restore"]
    assert len(restore) == 1 and restore[0]["to"] == "snap1" and restore[0]["details"]["pre_rollback_db"] == pre
    assert pg_args["login_password"] not in (state_dir / "journal.jsonl").read_text()


def test_revert_swaps_the_pre_rollback_database_back(four, task, pgdb, pg_args):
    snapshot(task, pg_args)
    old_oid = pgdb.oid()
    pgdb.execute("INSERT INTO users (name) VALUES ('after-snapshot')")
    event, res, _ = task(RESTORE, dict(pg_args, snapshot="latest"))
    assert event == "runner_on_ok" and pgdb.counts()["users"] == 20
    results = four(RESTORE, dict(pg_args, state="reverted"))
    assert results[1]["pre_rollback_db"] == res["pre_rollback_db"]
    assert pgdb.oid() == old_oid and pgdb.counts()["users"] == 21
    assert results[1]["reverted_db"] in pgdb.databases()


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_dump_refused_before_live_is_touched(task, pgdb, pg_args, state_dir, damage):
    snap = snapshot(task, pg_args)
    dump = snap["dump_path"]
    data = bytearray(open(dump, "rb").read())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x01
    with open(dump, "wb") as handle:
        handle.write(data)
    pgdb.execute("DELETE FROM orders WHERE id > 40")
    before = pgdb.counts()
    oid = pgdb.oid()
    event, res, _ = task(RESTORE, dict(pg_args, snapshot="snap1"))
    assert event == "runner_on_failed"
    assert "refusing snapshot snap1" in res["msg"] and "untouched" in res["msg"]
    assert ("truncated" in res["msg"]) if damage == "truncate" else ("checksum mismatch" in res["msg"])
    assert pgdb.counts() == before and pgdb.oid() == oid and pgdb.databases() == [pgdb.name]
    event, res, _ = task(SNAP, dict(pg_args, state="verified", snapshot_id="snap1"))
    assert event == "runner_on_failed" and "not usable" in res["msg"]


def test_verified_state_test_restores_and_drops_scratch(task, pgdb, pg_args):
    snapshot(task, pg_args)
    event, res, _ = task(SNAP, dict(pg_args, state="verified"))
    assert event == "runner_on_ok" and res["changed"] is False
    assert res["verification"] == {
        "checksum": True,
        "archive_entries": res["verification"]["archive_entries"],
        "test_restore": True,
        "row_counts_match": True,
    }
    assert pgdb.databases() == [pgdb.name]
    event, res, _ = task(SNAP, dict(pg_args, state="verified"), check=True)
    assert event == "runner_on_ok" and res["verification"]["test_restore"] is False


def test_restore_terminates_clients_who_can_reconnect(task, pgdb, pg_args):
    snapshot(task, pg_args)
    pgdb.execute("DELETE FROM billing.invoices")
    client = pgdb.connect()
    client.execute("SELECT 1")
    event, res, _ = task(RESTORE, dict(pg_args))
    assert event == "runner_on_ok", res.get("msg")
    assert res["terminated_sessions"] >= 1
    with pytest.raises(psycopg.OperationalError):
        client.execute("SELECT 1")
    client.close()
    with pgdb.connect() as again:
        assert again.execute("SELECT count(*) FROM billing.invoices").fetchone()[0] == 5


def test_failing_check_leaves_live_untouched(task, pgdb, pg_args):
    snapshot(task, pg_args)
    pgdb.execute("DELETE FROM orders WHERE id > 45")
    event, res, _ = task(RESTORE, dict(pg_args, checks=["SELECT count(*) > 1000 FROM users"]))
    assert event == "runner_on_failed" and "untouched" in res["msg"] and "count(*) > 1000" in res["msg"]
    assert pgdb.counts()["orders"] == 45 and pgdb.databases() == [pgdb.name]


def test_data_loss_report_counts_exactly_the_new_rows(task, pgdb, pg_args):
    snapshot(task, pg_args)
    with pgdb.connect() as conn:
        conn.execute("INSERT INTO orders (user_id, total) SELECT 1, 10.50 FROM generate_series(1, 7)")
    tables = [
        {"table": "orders", "column": "created_at", "amount_column": "total"},
        {"table": "users", "column": "created_at"},
    ]
    event, res, _ = task("emergency.rollback.data_loss_report", dict(pg_args, tables=tables), check=True)
    assert event == "runner_on_ok" and res["changed"] is False
    assert res["rows_lost"] == 7 and res["cutoff_snapshot"]["id"] == "snap1"
    assert res["tables"][0]["rows"] == 7 and res["tables"][0]["amount"] == "73.50" and res["tables"][1]["rows"] == 0
    # the restore refuses to lose them unless told so
    event, res, _ = task(RESTORE, dict(pg_args, data_loss_tables=tables))
    assert event == "runner_on_failed" and "7 rows written after snapshot snap1" in res["msg"]
    assert "confirm_data_loss" in res["msg"] and pgdb.counts()["orders"] == 57
    event, res, _ = task(RESTORE, dict(pg_args, data_loss_tables=tables, confirm_data_loss=True))
    assert event == "runner_on_ok" and res["rows_lost"] == 7 and pgdb.counts()["orders"] == 50


def _pids_with(word):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                cmd = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if word in cmd:
            found.append(int(pid))
    return found


def _parent(pid):
    with open("/proc/%d/stat" % pid) as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def test_sigkill_during_restore_leaves_live_serving(task, pgdb, pg_args):
    # An expression index whose function sleeps makes pg_restore take seconds, so it can be killed mid-way.
    pgdb.execute(
        "CREATE FUNCTION public.slow_id(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS"
        " $$ BEGIN PERFORM pg_sleep(0.02); RETURN i; END $$;"
        " CREATE TABLE slow AS SELECT g AS id FROM generate_series(1, 150) g;"
        " CREATE INDEX slow_idx ON slow (public.slow_id(id))"
    )
    snapshot(task, pg_args)
    pgdb.execute("DELETE FROM orders WHERE id > 30")
    before, oid = pgdb.counts(), pgdb.oid()
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(r=task(RESTORE, dict(pg_args))))
    worker.start()
    marker = "--dbname=%s_restore_" % pgdb.name
    killed = []
    deadline = time.monotonic() + 60
    while not killed and time.monotonic() < deadline and worker.is_alive():
        for pid in _pids_with(marker):
            if "pg_restore" in open("/proc/%d/cmdline" % pid, "rb").read().decode(errors="replace"):
                module_pid = _parent(pid)
                time.sleep(0.5)  # well inside the restore (the index alone takes 3 s)
                os.kill(module_pid, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
        time.sleep(0.05)
    worker.join(120)
    assert killed, "never saw pg_restore running"
    event, _res, _ = outcome["r"]
    assert event == "runner_on_failed"
    # live still serves its unchanged rows, nothing was renamed
    assert pgdb.counts() == before and pgdb.oid() == oid
    assert not [d for d in pgdb.databases() if "_pre_rollback_" in d]
    # the next run drops the stale scratch database and completes
    event, res, _ = task(RESTORE, dict(pg_args))
    assert event == "runner_on_ok", res.get("msg")
    assert [d for d in res["dropped"] if "_restore_" in d] or not [d for d in pgdb.databases() if "_restore_" in d]
    assert pgdb.counts()["orders"] == 50
    assert not [d for d in pgdb.databases() if "_restore_" in d]


def test_check_failing_after_the_swap_swaps_back(task, pgdb, pg_args, state_dir):
    # true on the scratch copy (<db>_restore_<ts>), false once it is named <db>: fails only after the swap
    snapshot(task, pg_args)
    pgdb.execute("DELETE FROM billing.invoices")
    oid = pgdb.oid()
    event, res, _ = task(RESTORE, dict(pg_args, checks=["SELECT current_database() LIKE '%\\_restore\\_%'"]))
    assert event == "runner_on_failed" and "after the swap" in res["msg"] and "swapped back" in res["msg"]
    assert pgdb.oid() == oid and pgdb.counts()["billing.invoices"] == 0
    assert res["reverted_db"] in pgdb.databases() and pgdb.counts(res["reverted_db"])["billing.invoices"] == 5
    entry = json.loads((state_dir / "journal.jsonl").read_text().splitlines()[-1])
    assert (entry["action"], entry["result"]) == ("restore", "reverted")


def test_database_left_closed_by_an_interrupted_swap_is_reopened(task, pgdb, pg_args):
    snapshot(task, pg_args)
    pgdb.execute("ALTER DATABASE %s WITH ALLOW_CONNECTIONS false" % pgdb.name, dbname="postgres")
    event, res, _ = task(RESTORE, dict(pg_args))
    assert event == "runner_on_ok", res.get("msg")
    assert any("allowing them again" in w for w in res.get("warnings", []))
    assert pgdb.counts() == ORIGINAL
    assert pgdb.execute(
        "SELECT datallowconn FROM pg_database WHERE datname LIKE %s", (pgdb.name + "%",), dbname="postgres"
    ) == [(True,), (True,)]


def test_restore_latest_twice_lands_on_the_same_snapshot(task, pgdb, pg_args, state_dir):
    # issue 19: a retry of "latest" must not pick the copy the first restore took of the bad state
    snapshot(task, pg_args, name="good")
    pgdb.execute("DELETE FROM billing.invoices; DELETE FROM orders WHERE id > 10")
    event, first, _ = task(RESTORE, dict(pg_args, snapshot="latest", run_id="rb-1"))
    assert event == "runner_on_ok", first.get("msg")
    assert first["changed"] and first["restored_from"]["id"] == "good"
    safety = first["snapshot"]["id"]
    assert safety != "good" and os.path.isdir(first["snapshot"]["path"])
    assert pgdb.counts() == ORIGINAL
    oid, listing = pgdb.oid(), sorted(os.listdir(state_dir / "snapshots/database"))
    event, second, _ = task(RESTORE, dict(pg_args, snapshot="latest", run_id="rb-2"))
    assert event == "runner_on_ok", second.get("msg")
    assert not second["changed"] and second["restored_from"]["id"] == "good" and second["snapshot"] is None
    assert pgdb.counts() == ORIGINAL and pgdb.oid() == oid
    assert sorted(os.listdir(state_dir / "snapshots/database")) == listing
    # the safety copy is no candidate for latest/previous, only restored when named by id
    event, res, _ = task(SNAP, dict(pg_args, state="verified", snapshot_id="latest"), check=True)
    assert event == "runner_on_ok" and res["snapshot"]["id"] == "good"
    event, res, _ = task(RESTORE, dict(pg_args, snapshot="previous"))
    assert event == "runner_on_failed" and "no previous snapshot" in res["msg"] and "\n" not in res["msg"]
    event, res, _ = task(RESTORE, dict(pg_args, snapshot=safety, run_id="rb-3"))
    assert event == "runner_on_ok" and res["changed"] and res["restored_from"]["id"] == safety
    assert pgdb.counts() == {"users": 20, "orders": 10, "billing.invoices": 0}


def test_restore_again_after_a_deploy_migrated_the_restored_database(task, pgdb, pg_args, state_dir):
    # the same snapshot is live by oid, but a later deploy migrated that database in place
    snapshot(task, pg_args, name="good")
    pgdb.execute("DELETE FROM orders WHERE id > 10")
    event, first, _ = task(RESTORE, dict(pg_args, snapshot="good", run_id="rb-1"))
    assert event == "runner_on_ok" and first["changed"], first.get("msg")
    oid = pgdb.oid()
    pgdb.execute("ALTER TABLE orders ADD COLUMN coupon text; DELETE FROM orders WHERE id > 5")
    event, second, _ = task(RESTORE, dict(pg_args, snapshot="good", run_id="rb-2"))
    assert event == "runner_on_ok" and second["changed"], second.get("msg")
    assert pgdb.counts() == ORIGINAL and pgdb.oid() != oid
    columns = "SELECT string_agg(column_name, ',') FROM information_schema.columns WHERE table_name = 'orders'"
    assert "coupon" not in pgdb.execute(columns)[0][0]
    event, third, _ = task(RESTORE, dict(pg_args, snapshot="good", run_id="rb-3"))
    assert event == "runner_on_ok" and not third["changed"], third.get("msg")


def test_revert_on_a_full_state_dir_swaps_back_and_says_it(task, pgdb, full_disk):
    """Chaos seed 2711, run 1: the state dir ran full while the whole-stack revert swapped the
    pre-rollback database back. The swap happened, writing its record failed, and the module said
    "nothing was renamed": the role stopped before upgrading the schema back, and the database was
    neither before nor target. The swap is now reported as done, with a warning that it is not
    recorded, and a re-run finds the pre-rollback database live and changes nothing."""
    args = pgdb.params(state_dir=str(full_disk.path), run_id="rb-test")
    snapshot(task, args)
    old_oid = pgdb.oid()
    pgdb.execute("INSERT INTO users (name) VALUES ('after-snapshot')")
    event, res, _ = task(RESTORE, dict(args, snapshot="latest"))
    assert event == "runner_on_ok" and pgdb.counts()["users"] == 20
    full_disk.fill()
    event, rev, _ = task(RESTORE, dict(args, state="reverted"))
    assert event == "runner_on_ok" and rev["changed"], rev
    assert pgdb.oid() == old_oid and pgdb.counts()["users"] == 21
    assert rev["pre_rollback_db"] == res["pre_rollback_db"] and "nothing was renamed" not in str(rev)
    assert any("could not be recorded" in w for w in rev.get("warnings", [])), rev
    event, again, _ = task(RESTORE, dict(args, state="reverted"))
    assert event == "runner_on_ok" and not again["changed"], again
    assert "already reverted" in again["msg"] and pgdb.oid() == old_oid
