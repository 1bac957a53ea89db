from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.ansible import REPO

pytestmark = pytest.mark.integration

PLAYBOOK = str(REPO / "playbooks" / "rollback_database.yml")


@pytest.fixture
def role_vars(pgdb, postgres, state_dir):
    return {
        "rollback_hosts": "all",
        "rollback_run_id": "rb-db-1",
        "database_state_dir": str(state_dir),
        "database_name": pgdb.name,
        "database_login_host": postgres.host,
        "database_login_port": postgres.port,
        "database_login_user": postgres.user,
        "database_login_password": postgres.password,
        "database_bin_dir": str(postgres.bin_dir),
        "database_snapshot_verify": False,
    }


def take_snapshot(task, pgdb, state_dir, name="good"):
    event, res, _ = task("emergency.rollback.pg_snapshot", pgdb.params(state_dir=str(state_dir), name=name))
    assert event == "runner_on_ok", res


def journal(state_dir):
    return [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]


def test_role_restores_verifies_and_releases_the_lock(playbook, task, pgdb, role_vars, state_dir, postgres):
    take_snapshot(task, pgdb, state_dir)
    pgdb.execute("DELETE FROM billing.invoices; DELETE FROM orders")
    run = playbook(
        PLAYBOOK,
        extravars=dict(
            role_vars,
            database_restore_snapshot="good",
            database_snapshot_verify=True,
            database_verify_sql=["SELECT count(*) > 0 FROM orders", "SELECT count(*) FROM users"],
            database_data_loss_tables=[{"table": "orders", "column": "created_at"}],
        ),
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert pgdb.counts() == {"users": 20, "orders": 50, "billing.invoices": 5}
    kept = [d for d in pgdb.databases() if "_pre_rollback_" in d]
    assert len(kept) == 1 and pgdb.counts(kept[0])["orders"] == 0
    actions = [(e["action"], e["result"]) for e in journal(state_dir) if e["run_id"] == "rb-db-1"]
    assert actions == [
        ("acquire", "changed"),
        ("snapshot", "changed"),
        ("verify_snapshot", "ok"),
        ("restore", "changed"),
        ("verify", "ok"),
        ("release", "changed"),
    ]
    assert not (state_dir / "rollback.lock").exists()
    assert postgres.password not in run.artifacts_text()
    assert postgres.password not in (state_dir / "journal.jsonl").read_text()


def test_role_swaps_back_when_verification_fails(playbook, task, pgdb, role_vars, state_dir):
    take_snapshot(task, pgdb, state_dir)
    pgdb.execute("DELETE FROM billing.invoices")
    oid = pgdb.oid()
    run = playbook(
        PLAYBOOK,
        extravars=dict(
            role_vars, database_restore_snapshot="latest", database_verify_sql=["SELECT count(*) > 1000 FROM users"]
        ),
    )
    assert run.rc != 0
    assert pgdb.oid() == oid and pgdb.counts()["billing.invoices"] == 0
    fail = run.result("Fail saying what failed and what was reverted")
    assert "is live again" in fail["msg"] and "Run the SQL checks" in fail["msg"]
    actions = [(e["action"], e["result"]) for e in journal(state_dir) if e["run_id"] == "rb-db-1"]
    assert [a for a, _ in actions[-4:]] == ["restore", "revert_restore", "verify", "release"]
    assert actions[-2][1] == "failed"
    assert not (state_dir / "rollback.lock").exists()


def test_role_check_mode_changes_nothing(playbook, task, pgdb, role_vars, state_dir):
    take_snapshot(task, pgdb, state_dir)
    pgdb.execute("DELETE FROM billing.invoices")
    oid, before = pgdb.oid(), sorted(os.listdir(state_dir / "snapshots/database"))
    run = playbook(PLAYBOOK, extravars=dict(role_vars, database_restore_snapshot="good"), check=True, diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    restore = run.result("Restore the snapshot into a new database and swap it in")
    assert restore["changed"] and restore["pre_rollback_db"].startswith(pgdb.name + "_pre_rollback_")
    assert pgdb.oid() == oid and pgdb.databases() == [pgdb.name]
    assert sorted(os.listdir(state_dir / "snapshots/database")) == before


def test_role_alembic_downgrade_before_the_app_switch(playbook, pgdb, role_vars, alembic_app, postgres, state_dir):
    url = "postgresql+psycopg://%s:%s@%s:%d/%s" % (
        postgres.user,
        postgres.password,
        postgres.host,
        postgres.port,
        pgdb.name,
    )
    alembic = str(Path(sys.executable).parent / "alembic")
    subprocess.run(
        [alembic, "upgrade", "head"],
        cwd=alembic_app,
        env=dict(os.environ, DATABASE_URL=url),
        check=True,
        capture_output=True,
    )
    run = playbook(
        PLAYBOOK,
        extravars=dict(
            role_vars,
            database_alembic_downgrade_to="-1",
            database_alembic_app_dir=str(alembic_app),
            database_alembic_executable=alembic,
            database_alembic_environment={"DATABASE_URL": url},
        ),
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert pgdb.execute("SELECT version_num FROM alembic_version") == [("0002_email",)]
    snap = [e for e in journal(state_dir) if e["action"] == "snapshot"][0]
    assert snap["details"]["alembic_revision"] == "0003_audit"
    down = [e for e in journal(state_dir) if e["action"] == "alembic_downgrade"][0]
    assert (down["from"], down["to"]) == ("0003_audit", "0002_email")
    assert postgres.password not in run.artifacts_text()


def test_refusals_name_the_role_variable_the_user_sets(playbook, task, pgdb, role_vars, state_dir):
    take_snapshot(task, pgdb, state_dir)
    pgdb.execute("INSERT INTO orders (user_id, total) VALUES (1, 9.99)")
    oid = pgdb.oid()
    tables = [{"table": "orders", "column": "created_at"}]
    args = dict(role_vars, database_restore_snapshot="good", database_data_loss_tables=tables)
    run = playbook(PLAYBOOK, extravars=args)
    assert run.rc != 0 and pgdb.oid() == oid
    msg = run.result("Fail saying what failed and what was reverted")["msg"]
    assert "set database_confirm_data_loss=true to restore anyway" in msg
    verdict = [e for e in journal(state_dir) if e["action"] == "verify"]
    assert [v["result"] for v in verdict] == ["failed"], "the refusal is journaled"

    missing = dict(role_vars)
    del missing["database_name"]
    run = playbook(PLAYBOOK, extravars=missing)
    assert run.rc != 0 and "missing required arguments: database_name" in run.stdout
