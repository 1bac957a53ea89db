"""Snapshots and servers of different PostgreSQL majors.

This machine has one PostgreSQL major (Debian 12's 15); the newer pg_dump comes from the
Debian 13 services image (PostgreSQL 17) that molecule/prepare-hosts.sh builds, run with the
host's network against the session's server. The swap itself on 13, 15 and 17 runs in the
Molecule `generations` scenario, on each Debian's own server.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.harness.ansible import REPO

pytestmark = pytest.mark.integration

SNAP = "emergency.rollback.pg_snapshot"
RESTORE = "emergency.rollback.pg_restore_safe"
TRIXIE = "localhost/rollback-services:trixie"

PG_DUMP_17 = """#!/bin/sh
# pg_dump 17 of Debian 13, for the server on this host (connection settings come from PG* variables).
exec podman run --rm --network host -e PGHOST -e PGPORT -e PGUSER -e PGPASSWORD -e PGSSLMODE -e PGAPPNAME \\
  -e PGCONNECT_TIMEOUT -v {state}:{state} {image} /usr/lib/postgresql/17/bin/pg_dump "$@"
"""


@pytest.fixture
def newer_pg_dump(tmp_path, postgres, state_dir):
    """A bin_dir with pg_dump 17 (in a Debian 13 container) beside this host's pg_restore."""
    if subprocess.run(["podman", "image", "exists", TRIXIE], check=False).returncode != 0:
        subprocess.run(
            ["bash", str(REPO / "molecule" / "prepare-hosts.sh")],
            env=dict(os.environ, ROLLBACK_SUITES="trixie"),
            check=True,
        )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pg_dump").write_text(PG_DUMP_17.format(state=state_dir, image=TRIXIE))
    (bin_dir / "pg_dump").chmod(0o755)
    (bin_dir / "pg_restore").symlink_to(postgres.bin_dir / "pg_restore")
    return bin_dir


def test_dump_from_a_newer_pg_dump_is_refused_with_one_clear_line(task, pgdb, pg_args, newer_pg_dump):
    args = dict(pg_args, bin_dir=str(newer_pg_dump))
    event, res, _ = task(SNAP, dict(args, snapshot_id="from-17"))
    assert event == "runner_on_ok", res.get("msg")
    assert res["snapshot_meta"]["metadata"]["pg_dump_version"].startswith("17.")
    pgdb.execute("DELETE FROM orders WHERE id > 10")

    event, res, _ = task(RESTORE, dict(args, snapshot="from-17"))
    assert event == "runner_on_failed"
    msg = res["msg"]
    assert "\n" not in msg
    assert "written by pg_dump 17." in msg and "newer than pg_restore 15." in msg, msg
    assert "set bin_dir" in msg and "untouched" in msg
    assert pgdb.counts()["orders"] == 10 and pgdb.databases() == [pgdb.name]
