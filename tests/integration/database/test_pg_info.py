"""pg_info against the session's PostgreSQL: read-only, the same in check mode."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

M = "emergency.rollback.pg_info"


def test_reads_the_database_four_runs_and_writes_nothing(four, pgdb, pg_args, state_dir):
    oid = pgdb.oid()
    results = four(M, pg_args, expect=(False, False, False, False))
    for res in results:
        assert res["row_counts"] == {"users": 20, "orders": 50, "billing.invoices": 5}
        assert res["database_oid"] == oid and res["database_size"] > 0 and res["free_bytes"] > 0
        assert res["alembic_revision"] is None and "snapshot" not in res
    assert not (state_dir / "journal.jsonl").exists() and not (state_dir / "snapshots").exists()


def test_resolves_and_checks_a_snapshot_and_refuses_a_corrupt_one(four, task, pgdb, pg_args, state_dir):
    event, res, _ = task("emergency.rollback.pg_snapshot", dict(pg_args, snapshot_id="good"))
    assert event == "runner_on_ok", res
    results = four(M, dict(pg_args, snapshot="latest"), expect=(False, False, False, False))
    assert {r["snapshot"]["id"] for r in results} == {"good"}
    assert results[0]["archive_entries"] > 0 and results[0]["snapshot_meta"]["metadata"]["row_counts"]["orders"] == 50

    dump = state_dir / "snapshots/database/good/files/dump.pgc"
    dump.write_bytes(dump.read_bytes()[:-10])
    event, res, _ = task(M, dict(pg_args, snapshot="good"))
    assert event == "runner_on_failed"
    assert res["msg"].startswith("pg_info: snapshot good of %s is not usable: " % pgdb.name)

    event, res, _ = task(M, dict(pg_args, snapshot="previous"))
    assert event == "runner_on_failed" and "not usable" in res["msg"]
