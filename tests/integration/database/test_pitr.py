"""Point-in-time recovery with real PostgreSQL and real pgBackRest (pgbackrest_stanza, pg_pitr)."""

from __future__ import annotations

import os

import pytest

from tests.harness.database import new_database
from tests.harness.pitr import start_pitr_cluster

pytestmark = pytest.mark.integration

STANZA = "emergency.rollback.pgbackrest_stanza"
PITR = "emergency.rollback.pg_pitr"


@pytest.fixture
def cluster():
    started = start_pitr_cluster()
    yield started
    started.stop()


@pytest.fixture
def ready(cluster, task, state_dir):
    """A cluster set up for PITR (stanza, archive, one full backup) with the users/orders database."""
    db = new_database(cluster.server, users=20, orders=50)
    event, res, _ = task(STANZA, cluster.stanza_args(state_dir))
    assert event == "runner_on_ok", res
    return db


def test_stanza_setup_four_runs(four, cluster, state_dir):
    check, real, again, last = four(STANZA, cluster.stanza_args(state_dir))
    assert check["restarted"] and check["stanza_created"] and check["backup"] == "planned"
    assert real["backup"].endswith("F") and real["backups"] == 1 and real["restarted"]
    assert (again["backup"], last["backup"], last["restarted"], last["stanza_created"]) == (None, None, False, False)
    assert cluster.server.psql("SHOW archive_mode") == "on"
    assert "archive-push" in cluster.server.psql("SHOW archive_command")


def columns(db, table):
    return [
        r[0] for r in db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    ]


def test_recover_to_restore_point_then_revert(ready, cluster, four, task, state_dir):
    db = ready
    db.execute("INSERT INTO users (name) SELECT 'before' || g FROM generate_series(1, 30) g")
    point = cluster.pitr_args(state_dir, db.name, state="restore_point", target_name="before-deploy-r42")
    event, res, _ = task(PITR, point)
    assert event == "runner_on_ok" and res["changed"] and res["target_lsn"], res
    event, again, _ = task(PITR, point)
    assert event == "runner_on_ok" and not again["changed"] and again["target_lsn"] == res["target_lsn"]
    good = db.counts()
    # the bad migration, then the application keeps writing
    db.execute("ALTER TABLE orders DROP COLUMN total")
    db.execute("DELETE FROM billing.invoices; DELETE FROM orders WHERE id > 25; DELETE FROM users WHERE id > 30")
    db.execute("INSERT INTO users (name) SELECT 'after' || g FROM generate_series(1, 5) g")
    bad = db.counts()
    args = cluster.pitr_args(
        state_dir,
        db.name,
        target_name="before-deploy-r42",
        checks=["SELECT count(*) = 50 FROM users WHERE name NOT LIKE 'after%'"],
        row_counts=good,
    )
    check, real, check_again, real_again = four(PITR, args)
    # check mode saw the writes after the restore point that recovery drops
    assert check["lost"]["transactions"] >= 3 and check["backup"] == real["backup"]
    assert real["recovery_stop"].startswith('recovery stopping at restore point "before-deploy-r42"')
    assert real["verified"] == ["target reached", "1 SQL checks", "row counts of 3 tables"]
    assert db.counts() == good and "total" in columns(db, "orders")
    assert not db.execute("SELECT 1 FROM users WHERE name LIKE 'after%'")
    # the data directory that was live is kept beside it, with the bad state in it
    assert cluster.kept_dirs("pre_pitr") == [real["pre_pitr_dir"]]
    assert os.path.isfile(os.path.join(real["pre_pitr_dir"], "PG_VERSION"))
    assert check_again["pre_pitr_dir"] == real_again["pre_pitr_dir"] == real["pre_pitr_dir"]
    assert not cluster.kept_dirs("pitr")
    # the rollback of the rollback
    event, rev, _ = task(PITR, cluster.pitr_args(state_dir, db.name, state="reverted"))
    assert event == "runner_on_ok" and rev["changed"], rev
    assert db.counts() == bad and "total" not in columns(db, "orders")
    assert cluster.kept_dirs("reverted_pitr") == [rev["reverted_dir"]]
    event, rev2, _ = task(PITR, cluster.pitr_args(state_dir, db.name, state="reverted"))
    assert event == "runner_on_ok" and not rev2["changed"]
