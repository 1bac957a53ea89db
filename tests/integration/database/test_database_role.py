from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.harness.ansible import REPO

pytestmark = pytest.mark.integration

PLAYBOOK = str(REPO / "playbooks" / "rollback_database.yml")


def take_snapshot(task, pgdb, state_dir, name="good"):
    event, res, _ = task("emergency.rollback.pg_snapshot", pgdb.params(state_dir=str(state_dir), snapshot_id=name))
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
    # the snapshot of the replaced database is the restore's own safety copy; one verdict entry
    assert actions == [("acquire", "changed"), ("restore", "changed"), ("verify", "ok"), ("release", "changed")]
    restore = run.result("Restore the snapshot into a new database and swap it in")
    assert restore["restored_from"]["id"] == "good" and restore["snapshot"]["id"] != "good"
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


def test_role_alembic_downgrade_before_the_app_switch(playbook, pgdb, alembic_role_vars, postgres, state_dir):
    run = playbook(PLAYBOOK, extravars=alembic_role_vars)
    assert run.rc == 0, run.stdout[-3000:]
    assert pgdb.execute("SELECT version_num FROM alembic_version") == [("0002_email",)]
    snap = [e for e in journal(state_dir) if e["action"] == "snapshot"][0]
    assert snap["details"]["alembic_revision"] == "0003_audit"
    down = [e for e in journal(state_dir) if e["action"] == "alembic_downgrade"][0]
    assert (down["from"], down["to"]) == ("0003_audit", "0002_email")
    assert postgres.password not in run.artifacts_text()


def test_role_upgrades_back_when_verification_fails_after_a_downgrade(playbook, pgdb, alembic_role_vars, state_dir):
    # found by Molecule `complete`: the revert's condition on the revision was a string, which
    # ansible-core 2.19 refuses, so a failed verify after a downgrade left the schema downgraded
    run = playbook(PLAYBOOK, extravars=dict(alembic_role_vars, database_verify_sql=["SELECT false"]))
    assert run.rc != 0
    assert pgdb.execute("SELECT version_num FROM alembic_version") == [("0003_audit",)]
    fail = run.result("Fail saying what failed and what was reverted")
    assert "schema upgraded back to revision 0003_audit" in fail["msg"], fail["msg"]
    assert not (state_dir / "rollback.lock").exists()


def changed_tasks(run):
    return [
        name
        for name, results in run.results.items()
        for r in results
        if r["event"] == "runner_on_ok" and r["res"].get("changed")
    ]


def test_role_restore_latest_twice_second_run_changes_nothing(playbook, task, pgdb, role_vars, state_dir):
    # issue 19: the second run restored the snapshot the first run took of the bad state
    take_snapshot(task, pgdb, state_dir)
    pgdb.execute("DELETE FROM billing.invoices; DELETE FROM orders WHERE id > 10")
    first = playbook(PLAYBOOK, extravars=dict(role_vars, database_restore_snapshot="latest"))
    assert first.rc == 0, first.stdout[-3000:]
    restored = pgdb.counts()
    assert restored == {"users": 20, "orders": 50, "billing.invoices": 5}
    oid, snapshots = pgdb.oid(), sorted(os.listdir(state_dir / "snapshots/database"))
    second = playbook(
        PLAYBOOK, extravars=dict(role_vars, rollback_run_id="rb-db-2", database_restore_snapshot="latest")
    )
    assert second.rc == 0, second.stdout[-3000:]
    assert changed_tasks(second) == []
    assert second.result("Restore the snapshot into a new database and swap it in")["restored_from"]["id"] == "good"
    assert pgdb.counts() == restored and pgdb.oid() == oid
    # no new dump on the re-run
    assert sorted(os.listdir(state_dir / "snapshots/database")) == snapshots


def test_role_alembic_minus_one_twice_downgrades_once(playbook, pgdb, alembic_role_vars, state_dir):
    extravars = alembic_role_vars
    for run_id in ("rb-db-1", "rb-db-2"):
        run = playbook(PLAYBOOK, extravars=dict(extravars, rollback_run_id=run_id))
        assert run.rc == 0, run.stdout[-3000:]
        assert pgdb.execute("SELECT version_num FROM alembic_version") == [("0002_email",)]
    # the re-run takes no new dump either: one snapshot, of the first run
    assert changed_tasks(run) == []
    assert run.result("Downgrade the schema with Alembic")["target"] == "0002_email"
    assert len(os.listdir(state_dir / "snapshots/database")) == 1


def test_refusals_name_the_role_variable_the_user_sets(playbook, task, pgdb, role_vars, state_dir):
    take_snapshot(task, pgdb, state_dir)
    pgdb.execute("INSERT INTO orders (user_id, total) VALUES (1, 9.99)")
    oid = pgdb.oid()
    tables = [{"table": "orders", "column": "created_at"}]
    args = dict(role_vars, database_restore_snapshot="good", database_data_loss_tables=tables)
    run = playbook(PLAYBOOK, extravars=args)
    assert run.rc != 0 and pgdb.oid() == oid
    assert pgdb.counts()["orders"] == 51
    msg = run.result("Fail saying what failed and what was reverted")["msg"]
    assert "1 rows written after snapshot good" in msg
    assert "set database_confirm_data_loss=true to restore anyway" in msg
    verdict = [e for e in journal(state_dir) if e["action"] == "verify"]
    assert [v["result"] for v in verdict] == ["failed"], "the refusal is journaled"

    missing = dict(role_vars)
    del missing["database_name"]
    run = playbook(PLAYBOOK, extravars=missing)
    assert run.rc != 0 and "missing required arguments: database_name" in run.stdout


def test_role_restores_again_after_a_deploy_migrated_the_restored_database(
    playbook, task, pgdb, alembic_role_vars, state_dir
):
    # found by Molecule `complete`: in a second incident the downgrade first undid the new deploy's
    # migration of the database the first rollback restored, so its oid and schema looked restored
    # and the restore was skipped, leaving the rows the deploy deleted missing
    def alembic(*args):
        env = dict(os.environ, **alembic_role_vars["database_alembic_environment"])
        app_dir = alembic_role_vars["database_alembic_app_dir"]
        subprocess.run([alembic_role_vars["database_alembic_executable"], *args], cwd=app_dir, env=env, check=True)

    def deploy(keep_orders):
        alembic("upgrade", "head")
        pgdb.execute("DELETE FROM orders WHERE id > %d" % keep_orders)

    alembic("downgrade", "0002_email")
    original = pgdb.counts()
    take_snapshot(task, pgdb, state_dir)  # before the deploy
    extravars = dict(alembic_role_vars, database_restore_snapshot="good")
    # the second incident is on the database the first rollback restored
    for run_id, keep in (("rb-db-1", 10), ("rb-db-2", 5)):
        deploy(keep_orders=keep)
        oid = pgdb.oid()
        run = playbook(PLAYBOOK, extravars=dict(extravars, rollback_run_id=run_id))
        assert run.rc == 0, run.stdout[-3000:]
        assert pgdb.counts() == original and pgdb.oid() != oid, run_id
        assert pgdb.execute("SELECT version_num FROM alembic_version") == [("0002_email",)]
    oid = pgdb.oid()
    again = playbook(PLAYBOOK, extravars=dict(extravars, rollback_run_id="rb-db-3"))
    assert again.rc == 0, again.stdout[-3000:]
    assert changed_tasks(again) == [] and pgdb.oid() == oid
