#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pgbackrest_stanza
short_description: Set a PostgreSQL cluster up for point-in-time recovery with pgBackRest (once per database host)
version_added: 0.2.0
description:
  - Writes the pgBackRest configuration O(pgbackrest_config) (repository O(repo_path), stanza O(stanza) with
    C(pg1-path), C(pg1-port) and C(pg1-socket-path)), sets C(archive_mode=on) and
    C(archive_command=pgbackrest ... archive-push %p) with C(ALTER SYSTEM) (restarting the cluster with
    C(pg_ctl restart) only when C(archive_mode) or C(wal_level) changed, reloading otherwise), creates the
    stanza, takes a full backup when the stanza has none (or O(full_backup=always) asks for one every run) and
    runs C(pgbackrest check), which proves a WAL segment reaches the archive.
  - Idempotent; a second run changes nothing (C(check) still runs and must pass).
  - When the module runs as root, C(pgbackrest) and C(pg_ctl) run as the owner of O(data_dir).
    The repository and log directories are created owned by that user.
requirements:
  - pgBackRest (C(pgbackrest), 2.33 or later) and the server's C(pg_ctl) on the target
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback.postgres
attributes:
  check_mode:
    support: full
    description: Reports the configuration, settings, stanza and backup it would write, set, create and take.
  diff_mode:
    support: full
    description: Shows the configuration file and the archive settings before and after.
options:
  database:
    description:
      - Database to connect to for the server settings.
    type: str
    required: false
    default: postgres
  stanza:
    description:
      - pgBackRest stanza name of this cluster.
    type: str
    required: true
  data_dir:
    description:
      - The cluster's data directory (C(pg1-path)).
    type: path
    required: true
  pgbackrest_config:
    description:
      - pgBackRest configuration file to write.
    type: path
    default: /etc/pgbackrest/pgbackrest.conf
  repo_path:
    description:
      - Repository directory (C(repo1-path)) holding the backups and the WAL archive.
    type: path
    default: /var/lib/pgbackrest
  log_path:
    description:
      - pgBackRest's log directory (C(log-path)).
    type: path
    default: /var/log/pgbackrest
  retention_full:
    description:
      - Full backups to keep (C(repo1-retention-full)); WAL older than the oldest one kept is expired.
    type: int
    default: 2
  compress_type:
    description:
      - Compression of backups and archived WAL. M(emergency.rollback.pg_pitr) reads archived WAL that is
        uncompressed or gzip.
    type: str
    choices: [none, gz]
    default: gz
  full_backup:
    description:
      - V(missing) takes a full backup when the stanza has none; V(always) takes one on every run (not
        idempotent, for a schedule or a bench).
    type: str
    choices: [missing, always]
    default: missing
"""

EXAMPLES = r"""
- name: Set the cluster up for point-in-time recovery
  emergency.rollback.pgbackrest_stanza:
    database: postgres
    stanza: main
    data_dir: /var/lib/postgresql/15/main
    login_unix_socket: /var/run/postgresql
"""

RETURN = r"""
config:
  description: Path of the pgBackRest configuration file.
  returned: success
  type: str
  sample: /etc/pgbackrest/pgbackrest.conf
archive_command:
  description: The archive_command the cluster runs.
  returned: success
  type: str
  sample: pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=main archive-push %p
restarted:
  description: Whether the cluster was restarted (or would be) because archive_mode or wal_level changed.
  returned: success
  type: bool
  sample: false
stanza_created:
  description: Whether the stanza was created (or would be).
  returned: success
  type: bool
  sample: true
backup:
  description: Label of the full backup taken (or C(planned) in check mode); C(null) when none was taken.
  returned: success
  type: str
  sample: 20261126-184501F
backups:
  description: Number of backups in the stanza after the run.
  returned: success
  type: int
  sample: 1
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic, _pg, _pitr
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common


def render_config(p):
    lines = [
        "# Written by emergency.rollback.pgbackrest_stanza",
        "[global]",
        "repo1-path=%s" % p["repo_path"],
        "repo1-retention-full=%d" % p["retention_full"],
        "compress-type=%s" % p["compress_type"],
        "log-path=%s" % p["log_path"],
        "start-fast=y",
        "",
        "[%s]" % p["stanza"],
        "pg1-path=%s" % p["data_dir"].rstrip("/"),
        "pg1-port=%d" % p["login_port"],
    ]
    if p["login_unix_socket"]:
        lines.append("pg1-socket-path=%s" % p["login_unix_socket"])
    if p["login_user"]:
        lines.append("pg1-user=%s" % p["login_user"])
    return "\n".join(lines) + "\n"


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def main():
    spec = _pg.connection_argument_spec()
    spec["database"] = dict(type="str", default="postgres")
    spec.update(
        stanza=dict(type="str", required=True),
        data_dir=dict(type="path", required=True),
        pgbackrest_config=dict(type="path", default="/etc/pgbackrest/pgbackrest.conf"),
        repo_path=dict(type="path", default="/var/lib/pgbackrest"),
        log_path=dict(type="path", default="/var/log/pgbackrest"),
        retention_full=dict(type="int", default=2),
        compress_type=dict(type="str", choices=["none", "gz"], default="gz"),
        full_backup=dict(type="str", choices=["missing", "always"], default="missing"),
    )
    module = AnsibleModule(argument_spec=with_common(spec), supports_check_mode=True)
    if not _pg.HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib(_pg.PSYCOPG_LIBRARY), exception=str(_pg.PSYCOPG_IMPORT_ERROR))
    p = module.params
    step = Step(module, "database", "pitr_setup")
    if p["retention_full"] < 1:
        step.refuse("pgbackrest_stanza: retention_full must be 1 or more; nothing was changed")
    if not os.path.isdir(p["data_dir"]) or module.get_bin_path("pgbackrest") is None:
        step.refuse(
            "pgbackrest_stanza: data_dir %s is not a directory or pgbackrest is not installed; nothing was changed"
            % p["data_dir"]
        )
    try:
        bin_dir = _pg.find_bin_dir(p["bin_dir"], "pg_ctl")
    except _pg.PgError as err:
        step.refuse("pgbackrest_stanza: %s; nothing was changed" % err)
    owner = _pitr.owner_of(p["data_dir"])
    runner = _pitr.Runner(module.run_command, owner)
    backrest = _pitr.Backrest(runner, p["pgbackrest_config"], p["stanza"])
    pg = _pg.Pg(p, run_command=module.run_command)
    result = dict(config=p["pgbackrest_config"], restarted=False, stanza_created=False, backup=None)
    command = "pgbackrest --config=%s --stanza=%s archive-push %%p" % (p["pgbackrest_config"], p["stanza"])
    result["archive_command"] = command

    wanted = render_config(p)
    current = read_text(p["pgbackrest_config"])
    changes = []
    try:
        conn = pg.maintenance()
        try:
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings"
                    " WHERE name IN ('archive_mode', 'archive_command', 'wal_level')"
                ).fetchall()
            )
        finally:
            conn.close()
    except _pg.PgError as err:
        step.refuse("pgbackrest_stanza: cannot reach the server: %s; nothing was changed" % err)
    desired = {"archive_mode": "on", "archive_command": command}
    if settings.get("wal_level") == "minimal":
        desired["wal_level"] = "replica"
    to_set = {k: v for k, v in desired.items() if settings.get(k) != v}
    restart = "archive_mode" in to_set or "wal_level" in to_set
    if current != wanted:
        changes.append("config")
    if to_set:
        changes.append("settings")
    result["restarted"] = restart
    diff = dict(
        before={"config": current or "", "settings": {k: settings.get(k) for k in desired}},
        after={"config": wanted, "settings": desired},
    )
    info = {}
    if current == wanted:
        try:
            info = backrest.info()
        except (_pg.PgError, ValueError) as err:
            step.refuse("pgbackrest_stanza: pgbackrest info failed: %s; nothing was changed" % err)
    stanza_ok = bool(info) and info.get("status", {}).get("code") in (0, 2)
    has_backup = bool(_pitr.backups(info))
    result["stanza_created"] = not stanza_ok
    take_backup = p["full_backup"] == "always" or not has_backup
    if not stanza_ok:
        changes.append("stanza")
    if take_backup:
        changes.append("backup")
    if module.check_mode:
        result["backup"] = "planned" if take_backup else None
        module.exit_json(changed=bool(changes), diff=diff, backups=len(_pitr.backups(info)), **result)
    try:
        for path in (p["repo_path"], p["log_path"]):
            if not os.path.isdir(path):
                os.makedirs(path, 0o750)
                runner.chown(path)
        if current != wanted:
            os.makedirs(os.path.dirname(p["pgbackrest_config"]), exist_ok=True)
            _atomic.write_file(p["pgbackrest_config"], wanted.encode(), module=module, mode=0o640)
            runner.chown(p["pgbackrest_config"])
        if to_set:
            conn = pg.maintenance()
            try:
                for key, value in to_set.items():
                    conn.execute(
                        _pg.sql.SQL("ALTER SYSTEM SET {} = {}").format(_pg.sql.Identifier(key), _pg.sql.Literal(value))
                    )
                if not restart:
                    conn.execute("SELECT pg_reload_conf()")
            finally:
                conn.close()
            if restart:
                runner.run(
                    [os.path.join(bin_dir, "pg_ctl"), "-D", p["data_dir"], "-m", "fast", "-w", "-t", "300", "restart"],
                    what="pg_ctl restart",
                )
        if not stanza_ok:
            backrest.run("stanza-create")
        if take_backup:
            backrest.run("backup", "--type=full")
        backrest.run("check")
        info = backrest.info()
    except (_pg.PgError, OSError, ValueError) as err:
        step.fail(
            "pgbackrest_stanza: setup of stanza %s stopped: %s (done so far: %s)"
            % (p["stanza"], err, ", ".join(changes) or "nothing")
        )
    if take_backup and _pitr.backups(info):
        result["backup"] = _pitr.backups(info)[-1]["label"]
    step.exit(
        bool(changes),
        message="stanza %s ready (%s)" % (p["stanza"], ", ".join(changes) or "unchanged"),
        journal_fields={"to": p["stanza"], "backup": result["backup"]},
        diff=diff,
        backups=len(_pitr.backups(info)),
        **result,
    )


if __name__ == "__main__":
    main()
