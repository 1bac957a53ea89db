"""Fixtures of the database tests: a fresh database per test on the session's PostgreSQL."""

from __future__ import annotations

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
