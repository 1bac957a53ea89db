"""Helpers for the database tests: fresh PostgreSQL databases, an Alembic project, SQLite files."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import psycopg

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (
    id serial PRIMARY KEY,
    user_id int NOT NULL REFERENCES users(id),
    total numeric(10, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user ON orders (user_id);
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id serial PRIMARY KEY, order_id int REFERENCES orders(id), note text);
"""


class Database:
    """One uniquely named database on the session's server, dropped (with its derived copies) afterwards."""

    def __init__(self, server, name):
        self.server = server
        self.name = name

    def connect(self, dbname=None, autocommit=True):
        return psycopg.connect(self.server.dsn(dbname or self.name), autocommit=autocommit)

    def execute(self, sql, params=None, dbname=None):
        with self.connect(dbname) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def counts(self, dbname=None):
        rows = self.execute(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM orders),"
            " (SELECT count(*) FROM billing.invoices)",
            dbname=dbname,
        )[0]
        return {"users": rows[0], "orders": rows[1], "billing.invoices": rows[2]}

    def params(self, **extra):
        return dict(self.server.params(self.name), **extra)

    def databases(self):
        """Every database whose name starts with this one's (the live one and its kept copies)."""
        with psycopg.connect(self.server.dsn("postgres"), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s ORDER BY 1",
                (self.name, self.name + "\\_%"),
            ).fetchall()
        return [r[0] for r in rows]

    def oid(self):
        with psycopg.connect(self.server.dsn("postgres"), autocommit=True) as conn:
            row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (self.name,)).fetchone()
        return row[0] if row else None

    def drop_all(self):
        with psycopg.connect(self.server.dsn("postgres"), autocommit=True) as conn:
            for name in self.databases():
                conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def new_database(server, users=20, orders=50, prefix="t"):
    name = "%s_%s" % (prefix, uuid.uuid4().hex[:10])
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "%s"' % name)
    db = Database(server, name)
    with db.connect() as conn:
        conn.execute(SCHEMA)
        conn.execute(
            "INSERT INTO users (name, created_at) SELECT 'user' || g, now() - interval '1 day'"
            " FROM generate_series(1, %s) g",
            (users,),
        )
        conn.execute(
            "INSERT INTO orders (user_id, total, created_at) SELECT 1 + g %% %s, g * 1.25, now() - interval '1 hour'"
            " FROM generate_series(1, %s) g",
            (users, orders),
        )
        conn.execute("INSERT INTO billing.invoices (order_id, note) SELECT id, 'inv' FROM orders WHERE id <= 5")
    return db


# --- a real Alembic project with three migrations -------------------------------------------

ALEMBIC_INI = """\
[alembic]
script_location = migrations
sqlalchemy.url = driver://from-env

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

ENV_PY = """\
import os

from alembic import context
from sqlalchemy import create_engine

config = context.config
if config.config_file_name is not None:
    from logging.config import fileConfig

    fileConfig(config.config_file_name)


def run_migrations_online():
    engine = create_engine(os.environ["DATABASE_URL"])
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""

MIGRATIONS = [
    (
        "0001_accounts",
        None,
        "create accounts",
        "op.create_table('accounts', sa.Column('id', sa.Integer, primary_key=True), sa.Column('name', sa.Text))",
        "op.drop_table('accounts')",
    ),
    (
        "0002_email",
        "0001_accounts",
        "add accounts.email",
        "op.add_column('accounts', sa.Column('email', sa.Text))",
        "op.drop_column('accounts', 'email')",
    ),
    (
        "0003_audit",
        "0002_email",
        "create audit log",
        "op.create_table('audit', sa.Column('id', sa.Integer, primary_key=True), sa.Column('what', sa.Text))",
        "op.drop_table('audit')",
    ),
]


def make_alembic_project(root):
    """An app directory with alembic.ini, env.py (URL from $DATABASE_URL) and three linear migrations."""
    root = Path(root)
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    (root / "migrations" / "env.py").write_text(ENV_PY)
    (root / "migrations" / "script.py.mako").write_text('"""${message}"""\n')
    for rev, down, message, up_code, down_code in MIGRATIONS:
        (versions / ("%s.py" % rev)).write_text(
            textwrap.dedent(
                '''\
                """{message}"""
                import sqlalchemy as sa
                from alembic import op

                revision = "{rev}"
                down_revision = {down!r}
                branch_labels = None
                depends_on = None


                def upgrade():
                    {up}


                def downgrade():
                    {downc}
                '''
            ).format(message=message, rev=rev, down=down, up=up_code, downc=down_code)
        )
    return root
