# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PostgreSQL snapshots and the safe restore: dump, test restore, scratch restore, swap by rename.

PRIVATE to this collection: the leading underscore means no API promise.

SQL goes through psycopg 3 or psycopg2 (_pgdriver); dumps and restores through pg_dump / pg_restore.
The password reaches the binaries only through PGPASSWORD in their environment, never argv.
"""

from __future__ import annotations

import datetime
import functools
import glob
import hashlib
import json
import os
import re
import shutil
import time

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic, _pgdriver
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import (
    SnapshotNotFound,
    SnapshotStore,
    new_id,
)
from ansible_collections.emergency.rollback.plugins.module_utils._targets import Targets, read_json, write_json

# datetime.UTC is Python 3.11+, targets run 3.9
UTC = datetime.timezone.utc  # noqa: UP017
COMPONENT = "database"
# metadata kind of a copy a restore takes of what it replaces: never 'latest' nor 'previous'
SAFETY_KIND = "pre-restore"
ENGINE = "postgresql"
DUMP_NAME = "dump.pgc"
VERIFIED_NAME = "verified.json"
MAX_IDENT = 63
# psycopg 3 or psycopg2, whichever the target has (_pgdriver).
sql = _pgdriver.sql
HAS_PSYCOPG = _pgdriver.HAS_DRIVER
PSYCOPG_IMPORT_ERROR = _pgdriver.IMPORT_ERROR
PSYCOPG_LIBRARY = _pgdriver.LIBRARY

APPLICATION_NAME = "emergency.rollback"


class PgError(Exception):
    """Every failure of this module_utils, psycopg's included: modules catch only this."""


def _pg_errors(method):
    """Turn psycopg errors into PgError, so modules never reach into the driver's exceptions."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except _pgdriver.Error as err:
            raise PgError(one_line(err)) from err

    return wrapper


# Suboptions of a table whose recent rows a rollback would lose (data_loss_report, pg_restore_safe).
DATA_LOSS_TABLE_OPTIONS = dict(
    table=dict(type="str", required=True),
    column=dict(type="str", required=True),
    amount_column=dict(type="str"),
)


def connection_argument_spec():
    """Options of the emergency.rollback.postgres doc fragment."""
    return dict(
        login_host=dict(type="str", default="localhost"),
        login_port=dict(type="int", default=5432),
        login_user=dict(type="str", default="postgres"),
        login_password=dict(type="str", no_log=True),
        login_unix_socket=dict(type="path"),
        database=dict(type="str", required=True),
        maintenance_db=dict(type="str", default="postgres"),
        ssl_mode=dict(
            type="str",
            default="prefer",
            choices=["allow", "disable", "prefer", "require", "verify-ca", "verify-full"],
        ),
        bin_dir=dict(type="path"),
    )


def find_bin_dir(explicit=None, binary="pg_dump"):
    """The directory holding pg_dump/pg_restore: the given one, else the newest /usr/lib/postgresql/*/bin."""
    if explicit:
        if not os.access(os.path.join(explicit, binary), os.X_OK):
            raise PgError("%s not found or not executable in bin_dir %s" % (binary, explicit))
        return explicit
    candidates = []
    for path in glob.glob("/usr/lib/postgresql/*/bin"):
        version = os.path.basename(os.path.dirname(path))
        if os.access(os.path.join(path, binary), os.X_OK):
            key = tuple(int(p) for p in re.findall(r"\d+", version)) or (0,)
            candidates.append((key, path))
    if candidates:
        return max(candidates)[1]
    found = shutil.which(binary)
    if found:
        return os.path.dirname(found)
    raise PgError(
        "%s not found in /usr/lib/postgresql/*/bin nor on PATH; install postgresql-client or set bin_dir" % binary
    )


def utc_stamp(now=None):
    now = time.time() if now is None else now
    return datetime.datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def scratch_name(db, kind, stamp):
    """<db>_restore_<stamp>, <db>_pre_rollback_<stamp>, ...; refuses names PostgreSQL would truncate."""
    name = "%s_%s_%s" % (db, kind, stamp)
    if len(name.encode()) > MAX_IDENT:
        raise PgError(
            "database name %s would exceed PostgreSQL's %d-byte limit; nothing was changed" % (name, MAX_IDENT)
        )
    return name


def kept_name_re(db, kind):
    return re.compile(r"^%s_%s_(\d{14})(?:_\d+)?$" % (re.escape(db), kind))


def snapshot_id_for(db, now=None):
    return "%s-%s" % (re.sub(r"[^A-Za-z0-9.+-]", "-", db).strip("-.") or "db", new_id(now))


def split_table(name):
    parts = name.split(".", 1)
    return sql.Identifier(*parts)


class Pg:
    """Connections and binaries for one server, from the module's connection options."""

    def __init__(self, params, bin_dir=None, run_command=None):
        self.params = params
        self.run_command = run_command
        self._bin_dir = bin_dir

    @property
    def bin_dir(self):
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir(self.params.get("bin_dir"))
        return self._bin_dir

    def binary(self, name):
        path = os.path.join(self.bin_dir, name)
        if not os.access(path, os.X_OK):
            raise PgError("%s not found in %s" % (name, self.bin_dir))
        return path

    def conninfo(self, dbname):
        p = self.params
        info = dict(
            host=p.get("login_unix_socket") or p.get("login_host"),
            port=p.get("login_port"),
            user=p.get("login_user"),
            dbname=dbname,
            sslmode=p.get("ssl_mode") or "prefer",
            application_name=APPLICATION_NAME,
            connect_timeout=10,
        )
        if p.get("login_password"):
            info["password"] = p["login_password"]
        return {k: v for k, v in info.items() if v not in (None, "")}

    def connect(self, dbname=None, autocommit=True):
        dbname = dbname or self.params["database"]
        try:
            return _pgdriver.connect(autocommit=autocommit, **self.conninfo(dbname))
        except _pgdriver.Error as err:
            raise PgError("cannot connect to database %s: %s" % (dbname, one_line(err))) from err

    def maintenance(self):
        return self.connect(self.params.get("maintenance_db") or "postgres")

    def env(self):
        """Environment for pg_dump / pg_restore / psql: the password goes here, never into argv."""
        p = self.params
        env = {
            "PGHOST": p.get("login_unix_socket") or p.get("login_host") or "",
            "PGPORT": str(p.get("login_port") or ""),
            "PGUSER": p.get("login_user") or "",
            "PGSSLMODE": p.get("ssl_mode") or "prefer",
            "PGAPPNAME": APPLICATION_NAME,
            "PGCONNECT_TIMEOUT": "10",
        }
        if p.get("login_password"):
            env["PGPASSWORD"] = p["login_password"]
        return {k: v for k, v in env.items() if v}

    def run(self, argv):
        rc, out, err = self.run_command(argv, environ_update=self.env())
        return rc, out, err

    # --- reading -------------------------------------------------------------------------

    @_pg_errors
    def database_info(self, name, conn=None):
        """Owner, encoding, collation, oid and size of a database, or None when it does not exist."""
        own = conn is None
        conn = conn or self.maintenance()
        try:
            row = conn.execute(
                "SELECT d.oid, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datcollate, d.datctype,"
                " d.datallowconn, pg_database_size(d.oid) FROM pg_database d WHERE d.datname = %s",
                (name,),
            ).fetchone()
        finally:
            if own:
                conn.close()
        if row is None:
            return None
        keys = ("oid", "owner", "encoding", "collate", "ctype", "allow_connections", "size")
        return dict(zip(keys, row))  # noqa: B905 - zip(strict=) is Python 3.10+, targets run 3.9

    @_pg_errors
    def list_databases(self, conn=None):
        own = conn is None
        conn = conn or self.maintenance()
        try:
            return [r[0] for r in conn.execute("SELECT datname FROM pg_database ORDER BY datname")]
        finally:
            if own:
                conn.close()

    def kept_databases(self, db, kind, conn=None):
        """Databases named <db>_<kind>_<stamp>, oldest first."""
        pattern = kept_name_re(db, kind)
        return sorted(
            (n for n in self.list_databases(conn) if pattern.match(n)), key=lambda n: (pattern.match(n)[1], n)
        )

    def server_version(self, conn):
        return conn.execute("SHOW server_version").fetchone()[0]

    # --- dump ------------------------------------------------------------------------------

    @_pg_errors
    def dump(self, dest, dbname=None):
        """pg_dump -Fc of a consistent snapshot; row counts and revision come from that same snapshot.

        Returns the metadata (row counts, alembic revision, server version, snapshot time).
        """
        dbname = dbname or self.params["database"]
        conn = self.connect(dbname, autocommit=False)
        try:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            exported = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            snap_ts = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
            counts = table_counts(conn)
            revision = alembic_revision(conn)
            version = self.server_version(conn)
            argv = [
                self.binary("pg_dump"),
                "--format=custom",
                "--snapshot=%s" % exported,
                "--no-password",
                "--file=%s" % dest,
                "--dbname=%s" % dbname,
            ]
            rc, _out, err = self.run(argv)
            if rc != 0:
                raise PgError("pg_dump of %s failed (rc=%s): %s" % (dbname, rc, _tail(err)))
        finally:
            conn.rollback()
            conn.close()
        return {
            "engine": ENGINE,
            "database": dbname,
            "server_version": version,
            "pg_dump_version": self.tool_version("pg_dump"),
            "row_counts": counts,
            "rows_total": sum(counts.values()),
            "alembic_revision": revision,
            "snapshot_ts": snap_ts,
            "snapshot_time": iso(snap_ts),
            "dump": DUMP_NAME,
            "format": "custom",
        }

    def tool_version(self, name):
        """'15.18' of `<name> --version` ("pg_restore (PostgreSQL) 15.18 (Debian ...)"), None if unknown."""
        rc, out, _err = self.run([self.binary(name), "--version"])
        found = re.search(r"\)\s+(\d+(?:\.\d+)?)", out or "") if rc == 0 else None
        return found.group(1) if found else None

    def check_archive(self, path, dumped_by=None):
        """pg_restore --list reads the whole table of contents: a truncated archive fails here.

        An archive from a newer pg_dump than this pg_restore gets a message saying so, since
        pg_restore itself only reports an unsupported header version.
        """
        rc, out, err = self.run([self.binary("pg_restore"), "--list", path])
        if rc != 0:
            if "unsupported version" in (err or ""):
                raise PgError(
                    "it was written by %s, newer than pg_restore %s here (%s): restore it with a pg_restore "
                    "at least as new as that pg_dump (install its postgresql-client and set bin_dir)"
                    % (
                        "pg_dump " + dumped_by if dumped_by else "a newer pg_dump",
                        self.tool_version("pg_restore") or "(unknown version)",
                        _tail(err, 120),
                    )
                )
            raise PgError("pg_restore cannot read the archive %s: %s" % (path, _tail(err)))
        return out.count("\n")

    # --- databases -----------------------------------------------------------------------

    @_pg_errors
    def create_like(self, name, live_info, conn):
        """CREATE DATABASE name like the live one (owner, encoding, collation), from template0."""
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 OWNER {} ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
                sql.Identifier(name),
                sql.Identifier(live_info["owner"]),
                sql.Literal(live_info["encoding"]),
                sql.Literal(live_info["collate"]),
                sql.Literal(live_info["ctype"]),
            )
        )

    @_pg_errors
    def copy_database_settings(self, source, dest, conn):
        """Database-level ACL and ALTER DATABASE ... SET are not in a dump without --create: copy them."""
        acl_rows = conn.execute(
            "SELECT a.privilege_type, a.grantee, COALESCE(r.rolname, 'PUBLIC'), a.is_grantable"
            " FROM pg_database d, aclexplode(d.datacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee"
            " WHERE d.datname = %s",
            (source,),
        ).fetchall()
        if acl_rows:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dest)))
            for privilege, grantee, role, grantable in acl_rows:
                target = sql.SQL("PUBLIC") if grantee == 0 else sql.Identifier(role)
                stmt = sql.SQL("GRANT {} ON DATABASE {} TO {}").format(sql.SQL(privilege), sql.Identifier(dest), target)
                if grantable:
                    stmt = stmt + sql.SQL(" WITH GRANT OPTION")
                conn.execute(stmt)
        settings = conn.execute(
            "SELECT COALESCE(r.rolname, ''), s.setconfig FROM pg_db_role_setting s"
            " JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole"
            " WHERE d.datname = %s",
            (source,),
        ).fetchall()
        for role, config in settings:
            for item in config or []:
                key, _sep, value = item.partition("=")
                if role:
                    stmt = sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
                        sql.Identifier(role), sql.Identifier(dest), sql.Identifier(key), sql.Literal(value)
                    )
                else:
                    stmt = sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                        sql.Identifier(dest), sql.Identifier(key), sql.Literal(value)
                    )
                conn.execute(stmt)

    @_pg_errors
    def drop(self, name, conn):
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def restore_into(self, archive, dbname, jobs=2, no_owner=False):
        """pg_restore -j into an empty database; --exit-on-error, exit status checked."""
        argv = [
            self.binary("pg_restore"),
            "--exit-on-error",
            "--no-password",
            "--jobs=%d" % max(1, jobs),
            "--dbname=%s" % dbname,
        ]
        if no_owner:
            argv.append("--no-owner")
        argv.append(archive)
        rc, _out, err = self.run(argv)
        if rc != 0:
            raise PgError("pg_restore into %s failed (rc=%s): %s" % (dbname, rc, _tail(err)))

    @_pg_errors
    def counts_of(self, dbname):
        conn = self.connect(dbname)
        try:
            return table_counts(conn)
        finally:
            conn.close()

    @_pg_errors
    def schema_fingerprint(self, dbname):
        """md5 of the user tables' columns and the Alembic revisions: changes when a deploy migrates."""
        conn = self.connect(dbname)
        try:
            columns = conn.execute(
                "SELECT coalesce(string_agg(table_schema || '.' || table_name || '.' || column_name || ':'"
                " || data_type, ',' ORDER BY table_schema, table_name, ordinal_position), '')"
                " FROM information_schema.columns"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone()[0]
            versions = []
            for (schema,) in conn.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'alembic_version'"
                " ORDER BY table_schema"
            ).fetchall():
                rows = conn.execute('SELECT version_num FROM "%s".alembic_version' % schema.replace('"', '""'))
                versions.extend(sorted(str(r[0]) for r in rows.fetchall()))
        finally:
            conn.close()
        return hashlib.md5((columns + "|" + ",".join(versions)).encode("utf-8")).hexdigest()

    @_pg_errors
    def run_checks(self, dbname, checks):
        """Each check is SQL whose first column of the first row must be true (or a non-zero number)."""
        failed = []
        conn = self.connect(dbname)
        try:
            for check in checks:
                try:
                    row = conn.execute(check).fetchone()
                except _pgdriver.Error as err:
                    failed.append("%s: %s" % (check, one_line(err)))
                    continue
                if not row or not row[0]:
                    failed.append("%s: returned %s" % (check, row[0] if row else "no row"))
        finally:
            conn.close()
        return failed

    @_pg_errors
    def allow_connections(self, name):
        """Let a database accept connections again (a swap killed mid-way leaves it closed)."""
        conn = self.maintenance()
        try:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(name)))
        finally:
            conn.close()

    @_pg_errors
    def live_summary(self):
        """What a snapshot of the live database would hold: its info, row counts and Alembic revision."""
        conn = self.connect()
        try:
            info = self.database_info(self.params["database"], conn)
            return dict(info, row_counts=table_counts(conn), alembic_revision=alembic_revision(conn))
        finally:
            conn.close()

    def restore_scratch(self, archive, scratch, expected, like=None, settings_from=None, checks=(), **restore):
        """Restore archive into a new database `scratch` and compare it with the snapshot's row counts.

        Shared by the test restore of pg_snapshot (state=verified) and the safe restore. `like` is the
        database_info the new database copies (owner, encoding, collation), `settings_from` a database
        whose grants and settings it copies, `checks` SQL that must hold in it. Returns (counts,
        problems); the scratch database is dropped whenever problems is not empty, so no failure
        leaves one behind.
        """
        conn = self.maintenance()
        created = False
        counts, problems = {}, []
        try:
            try:
                if like:
                    self.create_like(scratch, like, conn)
                else:
                    self._create_plain(scratch, conn)
                created = True
                if settings_from:
                    self.copy_database_settings(settings_from, scratch, conn)
                self.restore_into(archive, scratch, **restore)
                counts = self.counts_of(scratch)
                problems = compare_counts(expected, counts)
                if not problems and checks:
                    problems = self.run_checks(scratch, checks)
            except PgError as err:
                problems = [str(err)]
            if created and problems:
                self.drop(scratch, conn)
        finally:
            conn.close()
        return counts, problems

    @_pg_errors
    def _create_plain(self, name, conn):
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))

    def drop_now(self, name):
        """Drop one database on a connection of its own."""
        conn = self.maintenance()
        try:
            self.drop(name, conn)
        finally:
            conn.close()

    @_pg_errors
    def swap(self, live, incoming, outgoing, attempts=5):
        """Atomically rename live -> outgoing and incoming -> live.

        New connections to live are refused while its sessions are terminated; both renames
        commit in one transaction, so there is never a moment without a database named live
        nor a half-swapped pair. On failure nothing is renamed and live accepts connections again.
        """
        conn = self.maintenance()
        try:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(live)))
            try:
                last = None
                for _attempt in range(attempts):
                    terminated = conn.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()",
                        (live,),
                    ).fetchone()[0]
                    try:
                        with conn.transaction():
                            conn.execute(
                                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                                    sql.Identifier(live), sql.Identifier(outgoing)
                                )
                            )
                            conn.execute(
                                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                                    sql.Identifier(incoming), sql.Identifier(live)
                                )
                            )
                        return terminated
                    except _pgdriver.ObjectInUse as err:
                        last = err
                        time.sleep(0.5)
                raise PgError("cannot rename %s: %s" % (live, one_line(last)))
            finally:
                # whichever name the old database has now, it accepts connections again
                for name in (outgoing, live):
                    info = self.database_info(name, conn)
                    if info and not info["allow_connections"]:
                        conn.execute(
                            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(name))
                        )
        finally:
            conn.close()


# --- plain helpers (unit tested) ----------------------------------------------------------


def table_counts(conn):
    """Exact row counts of every ordinary user table, keyed schema.table (public tables unqualified)."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%' ORDER BY 1, 2"
    ).fetchall()
    counts = {}
    for schema, table in rows:
        count = conn.execute(sql.SQL("SELECT count(*) FROM ONLY {}").format(sql.Identifier(schema, table))).fetchone()[
            0
        ]
        counts[table_key(schema, table)] = count
    return counts


def table_key(schema, table):
    return table if schema == "public" else "%s.%s" % (schema, table)


def alembic_revision(conn):
    """version_num of alembic_version when the table is on the search path, else None."""
    if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
        return None
    rows = conn.execute("SELECT version_num FROM alembic_version ORDER BY 1").fetchall()
    return ",".join(r[0] for r in rows) or None


def fewer_rows(expected, actual):
    """Tables of `actual` with fewer rows than `expected` (the application may add rows, never lose them)."""
    return [
        "%s has %d rows, the snapshot had %d" % (table, actual.get(table, 0), rows)
        for table, rows in sorted(expected.items())
        if actual.get(table, -1) < rows
    ]


def compare_counts(expected, actual):
    """Differences between two {table: rows} maps, as one-line strings; empty when they match."""
    problems = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            problems.append("%s missing (expected %d rows)" % (table, expected[table]))
        elif table not in expected:
            problems.append("%s unexpected (%d rows)" % (table, actual[table]))
        elif expected[table] != actual[table]:
            problems.append("%s has %d rows, expected %d" % (table, actual[table], expected[table]))
    return problems


def data_loss(conn, tables, since_ts):
    """Rows of each table whose timestamp column is later than since_ts (epoch seconds).

    tables: [{"table": "orders", "column": "created_at", "amount_column": "total"}]
    """
    report = []
    since = datetime.datetime.fromtimestamp(since_ts, UTC)
    for item in tables:
        amount = item.get("amount_column")
        select = sql.SQL("count(*)")
        if amount:
            select = select + sql.SQL(", COALESCE(sum({}), 0)").format(sql.Identifier(amount))
        query = sql.SQL("SELECT {} FROM {} WHERE {} > %s").format(
            select, split_table(item["table"]), sql.Identifier(item["column"])
        )
        try:
            row = conn.execute(query, (since,)).fetchone()
        except _pgdriver.Error as err:
            raise PgError(
                "cannot count new rows of %s.%s: %s" % (item["table"], item["column"], one_line(err))
            ) from err
        entry = {"table": item["table"], "column": item["column"], "rows": row[0]}
        if amount:
            entry["amount_column"] = amount
            entry["amount"] = str(row[1])
        report.append(entry)
    return report


def one_line(err):
    return " ".join(str(err).split())


def _tail(text, limit=600):
    text = " ".join((text or "").split())
    return text[-limit:] if text else "no output"


# --- the snapshot store, per database ------------------------------------------------------


class DbSnapshots:
    """The 'database' component of the snapshot store, seen per engine and database.

    Snapshots of several databases share one store; 'latest', 'previous' and retention apply to
    one database. Safety copies (metadata `kind: pre-restore`: what a restore replaced, taken by
    the module itself; the marker sqlite_snapshot uses too) are never 'latest' or 'previous', only
    reached by id, and are pruned apart.
    """

    def __init__(self, state_dir, engine, database):
        self.store = SnapshotStore.in_state_dir(state_dir, COMPONENT)
        self.engine = engine
        self.database = database

    def list(self, safety=None):
        """This database's snapshots, oldest first: all (None), the safety copies (True) or the others."""
        return [
            m
            for m in self.store.list()
            if m.get("metadata", {}).get("engine") == self.engine
            and m["metadata"].get("database") == self.database
            and (safety is None or (m["metadata"].get("kind") == SAFETY_KIND) == safety)
        ]

    def get(self, ref="latest"):
        if ref in ("latest", "previous"):
            mine = self.list(safety=False)
            need = 1 if ref == "latest" else 2
            if len(mine) < need:
                raise SnapshotNotFound(
                    "no %s snapshot of %s database %s in %s: %s is %s, and %d snapshot(s) were taken with "
                    "state=snapshot (safety copies taken before a restore do not count; name one by id)"
                    % (
                        ref,
                        self.engine,
                        self.database,
                        self.store.dir,
                        ref,
                        "the newest one" if ref == "latest" else "the one before latest",
                        len(mine),
                    )
                )
            return mine[-need]
        meta = self.store.get(ref)
        if meta.get("metadata", {}).get("engine") != self.engine:
            raise SnapshotNotFound("snapshot %s is not a %s snapshot" % (ref, self.engine))
        return meta

    def newest_id(self):
        mine = self.list(safety=False)
        return mine[-1]["id"] if mine else None

    def dir_of(self, meta):
        return self.store.path(meta["id"])

    def file_of(self, meta, name=None):
        return self.store.file_path(meta, name or meta["metadata"].get("dump", DUMP_NAME))

    def ref(self, meta):
        """The {id, path} a module returns for a snapshot (docs/vocabulary.md)."""
        return {"id": meta["id"], "path": self.dir_of(meta)} if meta else None

    def verified(self, meta):
        return read_json(os.path.join(self.dir_of(meta), VERIFIED_NAME)) or None

    def mark_verified(self, meta, record):
        _atomic.write_file(
            os.path.join(self.dir_of(meta), VERIFIED_NAME), json.dumps(record, sort_keys=True).encode(), mode=0o600
        )

    def plan_prune(self, keep, protect=(), safety=None):
        """Ids prune() would delete, counting all snapshots of this database or one kind (see list)."""
        return self.store.plan_prune(keep, protect, among=self.list(safety=safety))

    def prune(self, keep, protect=(), safety=None):
        doomed = self.plan_prune(keep, protect, safety)
        for snapshot_id in doomed:
            self.store.delete(snapshot_id)
        return doomed


def check_snapshot(pg, snaps, meta):
    """Checksum of every file, then the archive's table of contents; returns the archive's entry count."""
    snaps.store.verify(meta)
    return pg.check_archive(snaps.file_of(meta), dumped_by=meta["metadata"].get("pg_dump_version"))


def take_snapshot(pg, snaps, snapshot_id, safety_for=None):
    """Dump the live database into the store; `safety_for` (the snapshot a restore puts back) marks a safety copy."""
    metadata = {"kind": SAFETY_KIND, "replaced_by": safety_for} if safety_for else {"kind": "snapshot"}
    with snaps.store.staging(snapshot_id, source="postgresql:%s" % pg.params["database"], metadata=metadata) as stage:
        stage.metadata.update(pg.dump(stage.file(DUMP_NAME)))
    return stage.meta


# --- restore state (what is live now) and the targets of relative words, for idempotence ---


def _server_key(params):
    host = params.get("login_unix_socket") or params.get("login_host") or "local"
    return "%s_%s_%s" % (host, params.get("login_port"), params["database"])


def restore_state_path(state_dir, params):
    key = re.sub(r"[^A-Za-z0-9._-]", "_", _server_key(params))
    return os.path.join(state_dir, COMPONENT, "restore-%s.json" % key)


def targets(state_dir, params):
    """Where pg_restore_safe records what 'latest' / 'previous' were resolved to for this database."""
    return Targets(state_dir, COMPONENT, {"engine": ENGINE, "database": _server_key(params)})


read_restore_state = read_json
write_restore_state = write_json


PgSnapshots = DbSnapshots
