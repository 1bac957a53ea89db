# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One PostgreSQL driver surface over psycopg 3 or psycopg2, whichever the target has.

PRIVATE to this collection: the leading underscore means no API promise.

psycopg 3 is preferred; Debian 11 and RHEL 8/9 ship only psycopg2 (community.postgresql
takes the same approach). Callers use `connect()`, `sql`, `Error` and `ObjectInUse` from
here and psycopg 3's connection API (`execute`, `transaction`, `rollback`, `close`, `with`);
on psycopg2 a thin wrapper supplies it.
"""

from __future__ import annotations

import contextlib

# Named in missing_required_lib() when neither driver imports.
LIBRARY = "psycopg or psycopg2"
IMPORT_ERROR = None
DRIVER = None

try:
    import psycopg
    from psycopg import sql

    DRIVER = "psycopg"
    Error = psycopg.Error
    ObjectInUse = psycopg.errors.ObjectInUse
except ImportError as _err3:
    try:
        import psycopg2
        import psycopg2.errors
        from psycopg2 import sql

        DRIVER = "psycopg2"
        Error = psycopg2.Error
        ObjectInUse = psycopg2.errors.ObjectInUse
    except ImportError:  # pragma: no cover - depends on the target
        IMPORT_ERROR = _err3
        sql = None

        class Error(Exception):
            """Stands in so `except Error` clauses still parse when no driver is installed."""

        class ObjectInUse(Error):
            pass


HAS_DRIVER = DRIVER is not None


def connect(autocommit=True, **conninfo):
    if DRIVER == "psycopg":
        return psycopg.connect(autocommit=autocommit, **conninfo)
    conn = psycopg2.connect(**conninfo)
    conn.autocommit = autocommit
    return Psycopg2Connection(conn)


class Psycopg2Connection:
    """psycopg 3's connection methods that _pg uses, on a psycopg2 connection."""

    def __init__(self, conn):
        self._conn = conn

    def execute(self, query, params=None):
        cur = self._conn.cursor()
        cur.execute(query, params)
        return cur

    @contextlib.contextmanager
    def transaction(self):
        # psycopg 3 wraps the block in BEGIN/COMMIT even in autocommit; psycopg2 needs it off.
        was = self._conn.autocommit
        self._conn.autocommit = False
        try:
            yield self
        except BaseException:
            self._conn.rollback()
            raise
        else:
            self._conn.commit()
        finally:
            self._conn.autocommit = was

    def rollback(self):
        self._conn.rollback()

    def commit(self):
        self._conn.commit()

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # As psycopg 3 does: end the transaction, then close (psycopg2 alone would not close).
        try:
            if not self._conn.closed and not self._conn.autocommit:
                if exc_type is None:
                    self._conn.commit()
                else:
                    self._conn.rollback()
        finally:
            self._conn.close()
