"""Fixtures of the database tests: a fresh database per test on the session's PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.database import make_alembic_project, new_database


@pytest.fixture
def pgdb(postgres):
    """A uniquely named database with users, orders and billing.invoices; dropped with its copies."""
    db = new_database(postgres)
    yield db
    db.drop_all()


@pytest.fixture
def pg_args(pgdb, state_dir):
    """Module arguments pointing at pgdb and the test's state dir."""
    return pgdb.params(state_dir=str(state_dir), run_id="rb-test")


@pytest.fixture
def alembic_app(tmp_path):
    return make_alembic_project(tmp_path / "app")


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


@pytest.fixture
def alembic_url(pgdb, postgres):
    """SQLAlchemy URL of pgdb, as the Alembic project's env.py reads it from DATABASE_URL."""
    return "postgresql+psycopg://%s:%s@%s:%d/%s" % (
        postgres.user,
        postgres.password,
        postgres.host,
        postgres.port,
        pgdb.name,
    )


@pytest.fixture
def alembic_role_vars(role_vars, alembic_app, alembic_url):
    """Role variables for a -1 downgrade, with pgdb already upgraded to the head revision (0003_audit)."""
    alembic = str(Path(sys.executable).parent / "alembic")
    subprocess.run(
        [alembic, "upgrade", "head"],
        cwd=alembic_app,
        env=dict(os.environ, DATABASE_URL=alembic_url),
        check=True,
        capture_output=True,
    )
    return dict(
        role_vars,
        database_alembic_downgrade_to="-1",
        database_alembic_app_dir=str(alembic_app),
        database_alembic_executable=alembic,
        database_alembic_environment={"DATABASE_URL": alembic_url},
    )
