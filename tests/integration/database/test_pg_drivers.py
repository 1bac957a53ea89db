"""The pg modules with each driver a target may have: psycopg 3, or only psycopg2 (Debian 11, EL 8/9).

Each case runs the modules with a target interpreter whose venv holds just that driver:
snapshot, a data-loss count, the safe restore (swap by rename while a client holds the live
database open), then the revert.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.harness.pythons import target_venv

pytestmark = pytest.mark.integration

SNAP = "emergency.rollback.pg_snapshot"
RESTORE = "emergency.rollback.pg_restore_safe"
DRIVERS = {
    # driver: (target python, packages) - psycopg2 on 3.9 as on Debian 11 / RHEL 9
    "psycopg2": ("3.9", ["psycopg2-binary"]),
    "psycopg": ("3.13", ["psycopg[binary]"]),
}


@pytest.fixture(params=sorted(DRIVERS))
def driver_python(request):
    version, packages = DRIVERS[request.param]
    python = target_venv(version, packages, "py%s-%s" % (version, request.param))
    if python is None:
        pytest.skip("cannot make a python%s venv with %s here" % (version, " ".join(packages)))
    return request.param, python


def test_snapshot_restore_revert_with_each_driver(driver_python, task, four, pgdb, pg_args, state_dir):
    driver, python = driver_python
    interp = {"extravars": {"ansible_python_interpreter": python}}
    event, res, _ = task(SNAP, dict(pg_args, snapshot_id="snap1"), **interp)
    assert event == "runner_on_ok", res
    assert res["changed"] is True and res["row_counts"] == {"users": 20, "orders": 50, "billing.invoices": 5}
    pgdb.execute("INSERT INTO orders (user_id, total) SELECT 1, 2.25 FROM generate_series(1, 4)")
    tables = [{"table": "orders", "column": "created_at", "amount_column": "total"}]
    event, res, _ = task("emergency.rollback.data_loss_report", dict(pg_args, tables=tables), **interp)
    assert event == "runner_on_ok" and res["rows_lost"] == 4 and res["tables"][0]["amount"] == "9.00", res
    old_oid = pgdb.oid()
    # a client holding the live database is terminated by the swap, not waited for
    with psycopg.connect(pgdb.server.dsn(pgdb.name), autocommit=True) as held:
        held.execute("SELECT 1")
        results = four(
            RESTORE,
            dict(pg_args, snapshot="snap1", checks=["SELECT count(*) = 50 FROM orders"]),
            **interp,
        )
        assert _is_dead(held)
    real = results[1]
    assert real["restored_from"]["id"] == "snap1" and pgdb.counts()["orders"] == 50, (driver, real)
    assert pgdb.oid() == real["live_oid"] != old_oid and real["pre_rollback_db"] in pgdb.databases()
    assert real["terminated_sessions"] >= 1
    reverted = four(RESTORE, dict(pg_args, state="reverted"), **interp)
    assert pgdb.oid() == old_oid and pgdb.counts()["orders"] == 54 and reverted[1]["changed"]
    journal = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    changed = [e["action"] for e in journal if e["result"] == "changed"]
    assert changed.count("restore") == 1 and changed.count("revert_restore") == 1, changed


def _is_dead(conn):
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return True
    return False
