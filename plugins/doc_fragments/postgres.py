# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Connection options of the PostgreSQL modules (pg_snapshot, pg_restore_safe, data_loss_report).
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or address of the PostgreSQL server. Ignored when O(login_unix_socket) is set.
    type: str
    default: localhost
  login_port:
    description:
      - TCP port of the server (also the suffix of the Unix socket file).
    type: int
    default: 5432
  login_user:
    description:
      - Role to connect as. Snapshots need read access to every table; restores need
        C(CREATEDB), ownership of the live database and the right to terminate its sessions
        (a superuser, or a member of the owner role and C(pg_signal_backend)).
    type: str
    default: postgres
  login_password:
    description:
      - Password of O(login_user). Passed to psycopg and, through C(PGPASSWORD) in their
        environment, to pg_dump and pg_restore; never on a command line, in output or in the journal.
    type: str
  login_unix_socket:
    description:
      - Directory of the server's Unix socket; used instead of O(login_host) when set.
    type: path
  database:
    description:
      - Name of the database (the live one).
    type: str
    required: true
  maintenance_db:
    description:
      - Database to connect to for server-wide work (create, rename, drop databases).
    type: str
    default: postgres
  ssl_mode:
    description:
      - libpq C(sslmode) for every connection, including those of pg_dump and pg_restore.
    type: str
    default: prefer
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  bin_dir:
    description:
      - Directory holding C(pg_dump) and C(pg_restore).
      - By default the newest C(/usr/lib/postgresql/<version>/bin) that has them, else the one on E(PATH).
        Use binaries at least as new as the server.
    type: path
requirements:
  - psycopg >= 3.1, or psycopg2 >= 2.8 (C(python3-psycopg2)), on the target; psycopg wins if both exist
  - pg_dump and pg_restore (C(postgresql-client)) on the target
"""
