from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

M = "emergency.rollback.pg_snapshot"


def test_named_snapshot_four_runs_records_counts(four, pgdb, pg_args, state_dir):
    results = four(M, dict(pg_args, snapshot_id="before-42"))
    check, real, again, _ = results
    assert check["snapshot"]["id"] == "before-42" and check["row_counts"] == {
        "users": 20,
        "orders": 50,
        "billing.invoices": 5,
    }
    assert "dump_path" not in check and check["database_size"] > 0 and check["free_bytes"] > 0
    meta = real["snapshot_meta"]["metadata"]
    assert meta["database"] == pgdb.name and meta["row_counts"]["orders"] == 50
    assert meta["server_version"].startswith("15") and meta["alembic_revision"] is None
    assert real["snapshot_meta"]["sha256"] == again["snapshot_meta"]["sha256"]
    assert (state_dir / "snapshots/database/before-42/files/dump.pgc").stat().st_size == real["snapshot_meta"]["size"]
    journal = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(e["component"], e["action"], e["to"]) for e in journal] == [("database", "snapshot", "before-42")]
    assert pg_args["login_password"] not in (state_dir / "journal.jsonl").read_text()
