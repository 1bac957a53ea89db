from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

M = "emergency.rollback.alembic_migrate"


@pytest.fixture
def alembic_args(alembic_app, alembic_url, state_dir):
    return {
        "app_dir": str(alembic_app),
        "environment": {"DATABASE_URL": alembic_url},
        "state_dir": str(state_dir),
        "run_id": "rb-alembic",
    }


def tables(pgdb):
    return sorted(
        r[0]
        for r in pgdb.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('accounts', 'audit')"
        )
    )


def test_upgrade_then_relative_downgrade_four_runs(four, task, pgdb, alembic_args, state_dir, postgres):
    event, up, _ = task(M, dict(alembic_args, command="upgrade"))
    assert event == "runner_on_ok" and up["changed"] and up["target"] == "0003_audit"
    assert up["path"] == ["0001_accounts", "0002_email", "0003_audit"]
    assert up["revision"] == "0003_audit" and "Running upgrade" in up["stderr"]
    assert tables(pgdb) == ["accounts", "audit"]
    down = four(M, dict(alembic_args, command="downgrade", revision="-2"))
    assert down[0]["current"] == "0003_audit" and down[0]["target"] == "0001_accounts"
    assert down[0]["path"] == ["0003_audit", "0002_email"]
    assert (
        down[1]["revision"] == "0001_accounts" and "Running downgrade 0002_email -> 0001_accounts" in down[1]["stderr"]
    )
    # the relative target was resolved once for this run_id: running it again does not go further down
    assert down[3]["current"] == "0001_accounts" and down[3]["target"] == "0001_accounts"
    assert pgdb.execute("SELECT version_num FROM alembic_version") == [("0001_accounts",)]
    assert tables(pgdb) == ["accounts"]
    event, res, _ = task(M, dict(alembic_args, command="current"))
    assert event == "runner_on_ok" and (res["current"], res["head"], res["changed"]) == (
        "0001_accounts",
        "0003_audit",
        False,
    )
    entries = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(e["action"], e["from"], e["to"]) for e in entries] == [
        ("alembic_upgrade", None, "0003_audit"),
        ("alembic_downgrade", "0003_audit", "0001_accounts"),
    ]
    assert postgres.password not in (state_dir / "journal.jsonl").read_text()


def test_bad_target_and_failed_migration(playbook, pgdb, alembic_args, alembic_app):
    # a migration that raises: the task fails with alembic's own output and the revision reached
    broken = alembic_app / "migrations/versions/0002_email.py"
    broken.write_text(broken.read_text().replace("op.add_column('accounts'", "op.add_column('missing_table'"))
    cases = {
        "above base": dict(alembic_args, command="downgrade", revision="0003"),
        "unknown": dict(alembic_args, command="upgrade", revision="nope"),
        "broken": dict(alembic_args, command="upgrade"),
    }
    tasks = [{"name": name, M: args, "ignore_errors": True} for name, args in cases.items()]
    run = playbook([{"hosts": "all", "gather_facts": False, "tasks": tasks}])
    assert [run.task_results(name)[0]["event"] for name in cases] == ["runner_on_failed"] * 3
    res = run.result("above base")
    assert "at base" in res["msg"] and "nothing was migrated" in res["msg"]
    res = run.result("unknown")
    assert "not in the history" in res["msg"]
    res = run.result("broken")
    assert "missing_table" in res["msg"] and "failed (rc=1)" in res["msg"]
    # transactional DDL: PostgreSQL rolled the whole upgrade back, the database is still at base
    assert "missing_table" in res["stderr"] and res["revision"] is None and "the database is at base" in res["msg"]


def test_relative_downgrade_retried_by_another_run_downgrades_once(task, pgdb, alembic_args, state_dir):
    # issue 19: -1 counted from the revision found each run, so a retry went 0003 -> 0002 -> 0001
    event, _up, _ = task(M, dict(alembic_args, command="upgrade"))
    assert event == "runner_on_ok"
    results = []
    for run_id in ("rb-1", "rb-2", ""):
        event, res, _ = task(M, dict(alembic_args, command="downgrade", revision="-1", run_id=run_id))
        assert event == "runner_on_ok", res
        results.append(res)
    assert results[0]["changed"] and results[0]["target"] == "0002_email"
    assert [(r["changed"], r["target"], r["revision"]) for r in results[1:]] == [
        (False, "0002_email", "0002_email")
    ] * 2
    assert pgdb.execute("SELECT version_num FROM alembic_version") == [("0002_email",)]
    # the read-only question the role asks before dumping
    event, res, _ = task(M, dict(alembic_args, command="current", revision="-1"))
    assert event == "runner_on_ok" and (res["changed"], res["in_place"], res["target"]) == (False, True, "0002_email")
    # after a new deploy (upgrade to head), the same words roll that deploy back again
    task(M, dict(alembic_args, command="upgrade"))
    event, res, _ = task(M, dict(alembic_args, command="current", revision="-1"))
    assert (res["in_place"], res["target"]) == (False, "0002_email")
    event, res, _ = task(M, dict(alembic_args, command="downgrade", revision="-1", run_id="rb-3"))
    assert event == "runner_on_ok" and res["changed"] and res["target"] == "0002_email"
    # a deeper rollback names it: -2 is resolved afresh
    event, res, _ = task(M, dict(alembic_args, command="downgrade", revision="-2", run_id="rb-4"))
    assert event == "runner_on_ok" and res["changed"] and res["target"] is None
