#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_restore_safe
short_description: Restore a PostgreSQL snapshot into a new database, verify it, then swap it in by rename
version_added: 0.1.0
description:
  - Nothing is destroyed before its replacement is verified, and the old database is kept.
  - With O(state=present) the snapshot (an id, V(latest) or V(previous) of O(db)) is checked
    (sha256 and the archive's table of contents) and restored with C(pg_restore --jobs --exit-on-error)
    into a new database C(<db>_restore_<UTC timestamp>), created like the live one (owner, encoding,
    collation; database-level grants and settings are copied). Its row counts must equal those recorded
    in the snapshot and every O(checks) query must hold. Only then are the live database's sessions
    terminated (new connections are refused meanwhile) and two renames, committed in ONE transaction,
    swap C(<db>) -> C(<db>_pre_rollback_<timestamp>) and the restored database -> C(<db>). Clients can
    reconnect at once and find the restored data under the usual name.
  - After the swap the O(checks) run again on the live database; if one fails, the swap is undone at
    once and the task fails.
  - A corrupt or truncated snapshot, a failed pg_restore, different row counts or a failing check
    stop the task before the live database is touched; the scratch database is dropped.
    Scratch databases left by an interrupted earlier run (C(<db>_restore_*)) are dropped first.
  - If O(data_loss_tables) is given, rows of the live database newer than the snapshot are counted
    first (see M(emergency.rollback.data_loss_report)); when there are any, the task refuses to run
    unless O(confirm_data_loss=true), and says how many rows would be lost.
  - Idempotent. The checksum of the restored snapshot and the identity (oid) of the database swapped
    in are recorded in C(<state_dir>/database/restore-<host>_<port>_<db>.json); restoring the snapshot
    that is already live changes nothing.
  - O(state=reverted) is the rollback of the rollback, it swaps the kept pre-rollback database back in
    (the restored one is kept as C(<db>_reverted_<timestamp>)). It is what the C(database) role does
    when verification fails.
  - Retention keeps the newest O(keep_pre_rollback) C(<db>_pre_rollback_*) (and C(<db>_reverted_*))
    databases and drops older ones.
  - The server needs room for a second copy of the database while the scratch one is restored.
  - If the live database refuses connections when the task starts (C(ALLOW_CONNECTIONS false), as a
    swap killed at the wrong moment would leave it), connections are allowed again with a warning.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback.postgres
attributes:
  check_mode:
    support: full
    description: Verifies the snapshot's checksum and archive, runs the data-loss count and reports the
      databases it would create, rename and drop, without creating or renaming any.
  diff_mode:
    support: full
    description: Shows which snapshot (and database oid) is live before and after.
options:
  state:
    description:
      - V(present) makes the snapshot's content live; V(reverted) swaps the pre-rollback database back.
    type: str
    choices: [present, reverted]
    default: present
  snapshot:
    description:
      - Snapshot id, or V(latest) / V(previous) among the snapshots of O(db).
    type: str
    default: latest
  jobs:
    description:
      - Parallel jobs of C(pg_restore).
    type: int
    default: 2
  keep_pre_rollback:
    description:
      - How many C(<db>_pre_rollback_*) databases (and as many C(<db>_reverted_*)) to keep. V(0) keeps all.
    type: int
    default: 2
  confirm_data_loss:
    description:
      - Restore even though the data-loss count found rows newer than the snapshot.
    type: bool
    default: false
  data_loss_tables:
    description:
      - Tables to count rows newer than the snapshot in, before anything changes.
    type: list
    elements: dict
    default: []
    suboptions:
      table:
        description: Table name, optionally schema-qualified.
        type: str
        required: true
      column:
        description: Timestamp column telling when a row was written.
        type: str
        required: true
      amount_column:
        description: Numeric column to sum over the new rows (for example an order total).
        type: str
  checks:
    description:
      - SQL queries whose first column must be true (or non-zero) on the restored database, before
        the swap and again after it, for example C(SELECT count(*) > 0 FROM users).
    type: list
    elements: str
    default: []
  no_owner:
    description:
      - Restore with C(--no-owner) (objects owned by O(login_user)).
    type: bool
    default: false
  swap_attempts:
    description:
      - How many times to terminate the live database's sessions and retry the rename when a
        session reappears.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Restore the snapshot taken before the release, keeping the current database
  emergency.rollback.pg_restore_safe:
    db: shop
    login_host: db1.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    snapshot: shop-20261123T184501.123456Z-1a2b3c
    jobs: 4
    data_loss_tables:
      - table: orders
        column: created_at
        amount_column: total
    checks:
      - SELECT count(*) > 0 FROM users
  register: database_restore

- name: Undo it (swap the pre-rollback database back in)
  emergency.rollback.pg_restore_safe:
    db: shop
    state: reverted
"""

RETURN = r"""
snapshot_id:
  description: The snapshot now live (state=present).
  returned: state=present
  type: str
live_oid:
  description: Oid of the database now named O(db).
  returned: success
  type: int
pre_rollback_db:
  description: Name the replaced live database is kept under.
  returned: when a swap happened or would happen
  type: str
  sample: shop_pre_rollback_20261123184512
restored_db:
  description: Name of the scratch database that became live.
  returned: when a swap happened or would happen
  type: str
row_counts:
  description: Rows per table of the restored database (equal to the snapshot's).
  returned: when a restore ran
  type: dict
data_loss:
  description: Rows newer than the snapshot per table (see O(data_loss_tables)).
  returned: when O(data_loss_tables) is given
  type: list
  elements: dict
rows_lost:
  description: Sum of the rows in RV(data_loss).
  returned: when O(data_loss_tables) is given
  type: int
reverted_db:
  description: Name the restored database is kept under after it was swapped out again (O(state=reverted),
    or a check that failed after the swap).
  returned: when it was swapped out again
  type: str
terminated_sessions:
  description: Sessions of the live database that were terminated for the swap.
  returned: when a swap happened
  type: int
dropped:
  description: Databases dropped (stale scratch databases, retention); in check mode those that would be.
  returned: success
  type: list
  elements: str
timings:
  description: Seconds spent per phase (check, restore, verify, swap).
  returned: when a restore ran
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _pg
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotCorrupt, SnapshotError


class SafeRestore:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.db = self.p["db"]
        self.pg = _pg.Pg(self.p, run_command=module.run_command)
        self.snaps = _pg.PgSnapshots(self.p["state_dir"], _pg.ENGINE, self.db)
        self.state_path = _pg.restore_state_path(self.p["state_dir"], self.p)
        self.recorded = _pg.read_restore_state(self.state_path)
        self.dropped = []
        self.timings = {}

    def fail_early(self, msg, **extra):
        self.module.fail_json(msg="pg_restore_safe: %s" % msg, **extra)

    def live_info(self):
        try:
            info = self.pg.database_info(self.db)
        except (_pg.PgError, _pg.psycopg.Error) as err:
            self.fail_early("cannot reach the server: %s; nothing was changed" % _pg.one_line(err))
        if info is None:
            self.fail_early("live database %s does not exist; nothing was changed" % self.db)
        if not info["allow_connections"] and not self.module.check_mode:
            # a swap killed between "refuse new connections" and its cleanup leaves the database closed
            self.module.warn(
                "pg_restore_safe: %s refused connections (ALLOW_CONNECTIONS false, left by an interrupted swap?); "
                "allowing them again" % self.db
            )
            conn = self.pg.maintenance()
            try:
                conn.execute(
                    _pg.sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(_pg.sql.Identifier(self.db))
                )
            finally:
                conn.close()
            info["allow_connections"] = True
        return info

    def stamp(self, conn, kinds):
        """One UTC timestamp for which every <db>_<kind>_<stamp> name is free."""
        existing = set(self.pg.list_databases(conn))
        base = _pg.utc_stamp()
        for n in range(100):
            stamp = base if n == 0 else "%s_%d" % (base, n)
            names = [_pg.scratch_name(self.db, kind, stamp) for kind in kinds]
            if not existing.intersection(names):
                return names
        raise _pg.PgError("no free database name for %s" % self.db)

    def plan_retention(self, conn, kind, adding):
        keep = self.p["keep_pre_rollback"]
        if not keep:
            return []
        kept = self.pg.kept_databases(self.db, kind, conn) + ([adding] if adding else [])
        return [n for n in kept[: max(0, len(kept) - keep)] if n != adding]

    def apply_retention(self, conn, kind, adding=None):
        for name in self.plan_retention(conn, kind, adding):
            try:
                self.pg.drop(name, conn)
                self.dropped.append(name)
            except _pg.psycopg.Error as err:
                self.module.warn("pg_restore_safe: retention could not drop %s: %s" % (name, _pg.one_line(err)))

    # --- state=present ---------------------------------------------------------------------

    def present(self):
        step = Step(self.module, "database", "restore")
        t0 = time.monotonic()
        try:
            meta = self.snaps.get(self.p["snapshot"])
        except SnapshotError as err:
            self.fail_early("%s; nothing was changed" % err)
        fields = {"to": meta["id"], "snapshot": self.snaps.dir_of(meta), "from_": self.recorded.get("snapshot_id")}
        live = self.live_info()
        before = {"database": self.db, "oid": live["oid"], "snapshot": self.recorded.get("snapshot_id")}
        if (
            self.recorded.get("state") == "restored"
            and self.recorded.get("sha256") == meta["sha256"]
            and self.recorded.get("live_oid") == live["oid"]
        ):
            self.module.exit_json(
                changed=False,
                snapshot_id=meta["id"],
                live_oid=live["oid"],
                pre_rollback_db=self.recorded.get("pre_rollback_db"),
                dropped=[],
                msg="snapshot %s is already live in %s" % (meta["id"], self.db),
            )
        dump = self.snaps.file_of(meta)
        try:
            self.snaps.store.verify(meta)
            self.pg.check_archive(dump)
        except (SnapshotCorrupt, _pg.PgError) as err:
            step.fail(
                "pg_restore_safe: refusing snapshot %s: %s; live database %s untouched" % (meta["id"], err, self.db),
                journal_fields=fields,
            )
        result = {}
        if self.p["data_loss_tables"]:
            since = meta["metadata"].get("snapshot_ts") or meta["created_ts"]
            try:
                conn = self.pg.connect()
                try:
                    report = _pg.data_loss(conn, self.p["data_loss_tables"], since)
                finally:
                    conn.close()
            except _pg.PgError as err:
                self.fail_early("%s; nothing was changed" % err)
            lost = sum(r["rows"] for r in report)
            result.update(data_loss=report, rows_lost=lost)
            if lost and not self.p["confirm_data_loss"]:
                detail = ", ".join("%s: %d" % (r["table"], r["rows"]) for r in report if r["rows"])
                # journaled: the refusal and the rows at stake belong in the incident report
                step.fail(
                    "pg_restore_safe: %d rows written after snapshot %s (%s) would be lost (%s); set "
                    "confirm_data_loss=true to restore anyway; nothing was changed"
                    % (lost, meta["id"], meta["metadata"].get("snapshot_time"), detail),
                    journal_fields=dict(fields, rows_lost=lost),
                    **result,
                )
        self.timings["check"] = round(time.monotonic() - t0, 3)
        conn = self.pg.maintenance()
        try:
            stale = self.pg.kept_databases(self.db, "restore", conn)
            scratch, pre = self.stamp(conn, ("restore", "pre_rollback"))
            doomed = stale + self.plan_retention(conn, "pre_rollback", pre)
            diff = dict(before=before, after={"database": self.db, "snapshot": meta["id"], "kept_as": pre})
            if self.module.check_mode:
                self.module.exit_json(
                    changed=True,
                    snapshot_id=meta["id"],
                    live_oid=live["oid"],
                    pre_rollback_db=pre,
                    restored_db=scratch,
                    dropped=doomed,
                    diff=diff,
                    **result,
                )
            for name in stale:
                self.pg.drop(name, conn)
                self.dropped.append(name)
            counts = self.build(conn, dump, meta, scratch, live, step, fields)
            t1 = time.monotonic()
            try:
                terminated = self.pg.swap(self.db, scratch, pre, attempts=self.p["swap_attempts"])
            except (_pg.PgError, _pg.psycopg.Error):
                self.pg.drop(scratch, conn)
                self.dropped.append(scratch)
                raise
            self.timings["swap"] = round(time.monotonic() - t1, 3)
            new_live = self.pg.database_info(self.db, conn)
            failed = self.pg.run_checks(self.db, self.p["checks"]) if self.p["checks"] else []
            if failed:
                reverted = self.stamp(conn, ("reverted",))[0]
                self.pg.swap(self.db, pre, reverted, attempts=self.p["swap_attempts"])
                step.fail(
                    "pg_restore_safe: checks failed on %s after the swap (%s); swapped back, the pre-rollback "
                    "database is live again and the restored one is kept as %s"
                    % (self.db, "; ".join(failed), reverted),
                    journal_fields=dict(fields, kept_as=reverted),
                    result="reverted",
                    reverted_db=reverted,
                )
            self.recorded = {
                "state": "restored",
                "snapshot_id": meta["id"],
                "sha256": meta["sha256"],
                "live_oid": new_live["oid"],
                "pre_rollback_db": pre,
                "pre_rollback_oid": live["oid"],
                "restored_at": _pg.iso(time.time()),
            }
            _pg.write_restore_state(self.state_path, self.recorded)
            self.apply_retention(conn, "pre_rollback")
        except (_pg.PgError, _pg.psycopg.Error, OSError) as err:
            step.fail(
                "pg_restore_safe: restore of snapshot %s into %s failed: %s; live database untouched"
                % (meta["id"], self.db, _pg.one_line(err)),
                journal_fields=fields,
                dropped=self.dropped,
            )
        finally:
            conn.close()
        result.update(
            snapshot_id=meta["id"],
            live_oid=new_live["oid"],
            pre_rollback_db=pre,
            restored_db=scratch,
            row_counts=counts,
            terminated_sessions=terminated,
            dropped=self.dropped,
            timings=self.timings,
        )
        step.exit(
            True,
            message="snapshot %s is live in %s; the previous database is kept as %s" % (meta["id"], self.db, pre),
            journal_fields=dict(
                fields,
                pre_rollback_db=pre,
                rows=sum(counts.values()),
                terminated_sessions=terminated,
                rows_lost=result.get("rows_lost"),
                dropped=self.dropped,
            ),
            diff=dict(before=before, after={"database": self.db, "oid": new_live["oid"], "snapshot": meta["id"]}),
            **result,
        )

    def build(self, conn, dump, meta, scratch, live, step, fields):
        """Create, restore and verify the scratch database; drop it and fail on any problem."""
        try:
            t = time.monotonic()
            self.pg.create_like(scratch, live, conn)
            self.pg.copy_database_settings(self.db, scratch, conn)
            self.pg.restore_into(dump, scratch, jobs=self.p["jobs"], no_owner=self.p["no_owner"])
            self.timings["restore"] = round(time.monotonic() - t, 3)
            t = time.monotonic()
            counts = self.pg.counts_of(scratch)
            problems = _pg.compare_counts(meta["metadata"].get("row_counts", {}), counts)
            if not problems and self.p["checks"]:
                problems = self.pg.run_checks(scratch, self.p["checks"])
            self.timings["verify"] = round(time.monotonic() - t, 3)
        except (_pg.PgError, _pg.psycopg.Error) as err:
            problems = [_pg.one_line(err)]
        if problems:
            try:
                self.pg.drop(scratch, conn)
            except _pg.psycopg.Error as err:
                self.module.warn("pg_restore_safe: could not drop scratch database %s: %s" % (scratch, err))
            step.fail(
                "pg_restore_safe: snapshot %s did not restore cleanly into %s (%s); scratch dropped, live database "
                "%s untouched" % (meta["id"], scratch, "; ".join(problems), self.db),
                journal_fields=fields,
            )
        return counts

    # --- state=reverted --------------------------------------------------------------------

    def reverted(self):
        step = Step(self.module, "database", "revert_restore")
        live = self.live_info()
        rec = self.recorded
        if rec.get("state") == "reverted" and rec.get("live_oid") == live["oid"]:
            self.module.exit_json(
                changed=False, live_oid=live["oid"], pre_rollback_db=None, dropped=[], msg="already reverted"
            )
        if rec.get("state") != "restored" or not rec.get("pre_rollback_db"):
            self.fail_early(
                "no restore of %s is recorded in %s, so there is nothing to revert; nothing was changed"
                % (self.db, self.state_path)
            )
        pre = rec["pre_rollback_db"]
        fields = {"from_": rec.get("snapshot_id"), "to": pre}
        conn = self.pg.maintenance()
        try:
            info = self.pg.database_info(pre, conn)
            if info is None:
                self.fail_early("the pre-rollback database %s is gone; nothing was changed" % pre)
            keep_as = self.stamp(conn, ("reverted",))[0]
            diff = dict(
                before={"database": self.db, "oid": live["oid"], "snapshot": rec.get("snapshot_id")},
                after={"database": self.db, "oid": info["oid"], "snapshot": None, "kept_as": keep_as},
            )
            if self.module.check_mode:
                self.module.exit_json(changed=True, live_oid=live["oid"], pre_rollback_db=pre, dropped=[], diff=diff)
            terminated = self.pg.swap(self.db, pre, keep_as, attempts=self.p["swap_attempts"])
            self.recorded = {
                "state": "reverted",
                "live_oid": info["oid"],
                "reverted_db": keep_as,
                "reverted_snapshot_id": rec.get("snapshot_id"),
                "reverted_at": _pg.iso(time.time()),
            }
            _pg.write_restore_state(self.state_path, self.recorded)
            self.apply_retention(conn, "reverted")
        except (_pg.PgError, _pg.psycopg.Error, OSError) as err:
            step.fail(
                "pg_restore_safe: cannot swap %s back in as %s: %s; nothing was renamed" % (pre, self.db, err),
                journal_fields=fields,
            )
        finally:
            conn.close()
        step.exit(
            True,
            message="%s is live again as %s; the restored database is kept as %s" % (pre, self.db, keep_as),
            journal_fields=dict(fields, kept_as=keep_as, terminated_sessions=terminated),
            live_oid=info["oid"],
            pre_rollback_db=pre,
            reverted_db=keep_as,
            terminated_sessions=terminated,
            dropped=self.dropped,
            diff=diff,
        )


def main():
    spec = _pg.connection_argument_spec()
    spec.update(
        state=dict(type="str", choices=["present", "reverted"], default="present"),
        snapshot=dict(type="str", default="latest"),
        jobs=dict(type="int", default=2),
        keep_pre_rollback=dict(type="int", default=2),
        confirm_data_loss=dict(type="bool", default=False),
        data_loss_tables=dict(
            type="list",
            elements="dict",
            default=[],
            options=_pg.DATA_LOSS_TABLE_OPTIONS,
        ),
        checks=dict(type="list", elements="str", default=[]),
        no_owner=dict(type="bool", default=False),
        swap_attempts=dict(type="int", default=5),
    )
    module = AnsibleModule(argument_spec=with_common(spec), supports_check_mode=True)
    if not _pg.HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg"), exception=str(_pg.PSYCOPG_IMPORT_ERROR))
    p = module.params
    if p["jobs"] < 1 or p["keep_pre_rollback"] < 0 or p["swap_attempts"] < 1:
        module.fail_json(msg="pg_restore_safe: jobs and swap_attempts must be 1 or more, keep_pre_rollback 0 or more")
    try:
        _pg.find_bin_dir(p["bin_dir"], "pg_restore")
    except _pg.PgError as err:
        module.fail_json(msg="pg_restore_safe: %s; nothing was changed" % err)
    runner = SafeRestore(module)
    if p["state"] == "reverted":
        runner.reverted()
    runner.present()


if __name__ == "__main__":
    main()
