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
  - With O(state=restored) the snapshot (an id, V(latest) or V(previous) of O(database)) is checked
    (sha256 and the archive's table of contents) and restored with C(pg_restore --jobs --exit-on-error)
    into a new database C(<database>_restore_<UTC timestamp>), created like the live one (owner, encoding,
    collation; database-level grants and settings are copied). Its row counts must equal those recorded
    in the snapshot and every O(checks) query must hold. Only then are the live database's sessions
    terminated (new connections are refused meanwhile) and two renames, committed in ONE transaction,
    swap C(<database>) -> C(<database>_pre_rollback_<timestamp>) and the restored database -> C(<database>).
    Clients can reconnect at once and find the restored data under the usual name.
  - Before the swap, unless O(safety_snapshot=false), the live database is dumped into the snapshot store
    as a safety copy (returned as RV(snapshot)). Safety copies are never V(latest) nor V(previous); they
    are restored only when named by id.
  - After the swap the O(checks) run again on the live database and no table may have fewer rows than
    the snapshot; if either fails, the swap is undone at once and the task fails.
  - A corrupt or truncated snapshot, a failed pg_restore, different row counts or a failing check
    stop the task before the live database is touched; the scratch database is dropped.
    Scratch databases left by an interrupted earlier run (C(<database>_restore_*)) are dropped first.
  - If O(data_loss_tables) is given, rows of the live database newer than the snapshot are counted
    first (see M(emergency.rollback.data_loss_report)); when there are any, the task refuses to run
    unless O(confirm_data_loss=true), and says how many rows would be lost.
  - V(latest) and V(previous) are resolved once, when the rollback starts, and recorded with the state
    it started in (the live database's oid and the newest snapshot) in
    C(<state_dir>/database/targets-<hash>.json). A retry of the same rollback (same word, starting from
    that state or finding the database that rollback swapped in) lands on the same snapshot.
  - Idempotent. The checksum of the restored snapshot and the identity (oid) of the database swapped
    in are recorded in C(<state_dir>/database/restore-<host>_<port>_<database>.json); restoring the
    snapshot that is already live changes nothing and takes no dump.
  - O(state=reverted) is the rollback of the rollback, it swaps the kept pre-rollback database back in
    (the restored one is kept as C(<database>_reverted_<timestamp>)). It is what the C(database) role does
    when verification fails.
  - Retention keeps the newest O(keep) C(<database>_pre_rollback_*) (and C(<database>_reverted_*))
    databases and as many safety copies, and drops older ones.
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
      databases it would create, rename and drop, without creating or renaming any nor taking a dump.
  diff_mode:
    support: full
    description: Shows which snapshot (and database oid) is live before and after.
options:
  state:
    description:
      - V(restored) makes the snapshot's content live; V(reverted) swaps the pre-rollback database back.
    type: str
    choices: [restored, reverted]
    default: restored
  snapshot:
    description:
      - Snapshot id, or V(latest) (the newest snapshot taken with
        O(emergency.rollback.pg_snapshot#module:state=snapshot)) or V(previous) (the one before it) among
        the snapshots of O(database). Safety copies are only reached by id.
    type: str
    default: latest
  snapshot_id:
    description:
      - Id of the safety copy this run takes of the live database (letters, digits and C(._@+-)).
      - Defaults to C(<database>-<UTC timestamp>-<random>). A snapshot of O(database) that already has
        this id (left by an earlier attempt that failed later) is kept and returned, not replaced.
    type: str
  safety_snapshot:
    description:
      - Dump the live database into the snapshot store before swapping it out. The pre-rollback database
        is kept either way.
    type: bool
    default: true
  jobs:
    description:
      - Parallel jobs of C(pg_restore).
    type: int
    default: 2
  keep:
    description:
      - How many C(<database>_pre_rollback_*) databases (and as many C(<database>_reverted_*) and safety
        copies) to keep. V(0) keeps all.
    type: int
    default: 2
  confirm_data_loss:
    description:
      - Restore even though the data-loss count found rows newer than the snapshot.
    type: bool
    default: false
  force:
    description:
      - Restore even when the snapshot is recorded as live in O(database) (same checksum, oid and
        schema). For a database changed in place since in a way those cannot tell, such as a deploy's
        migration that an Alembic downgrade in the same rollback has just undone; the C(database) role
        sets it when its downgrade changed the schema.
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
    database: shop
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
    database: shop
    state: reverted
"""

RETURN = r"""
restored_from:
  description: The snapshot now live (or that would be); C(null) with O(state=reverted).
  returned: success
  type: dict
  sample: &restored_sample
    id: shop-20261123T184501.123456Z-1a2b3c
    path: /var/lib/emergency-rollback/snapshots/database/shop-20261123T184501.123456Z-1a2b3c
  contains: &snapshot_ref
    id:
      description: Snapshot id (what O(snapshot) takes to put this snapshot back).
      type: str
      sample: shop-20261123T184501.123456Z-1a2b3c
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/database/shop-20261123T184501.123456Z-1a2b3c
snapshot:
  description: The safety copy this run took of the database it replaced; C(null) when none was taken
    (already in place, check mode, O(safety_snapshot=false), O(state=reverted)).
  returned: success
  type: dict
  sample: *restored_sample
  contains: *snapshot_ref
live_oid:
  description: Oid of the database now named O(database).
  returned: success
  type: int
  sample: 16412
pre_rollback_db:
  description: Name the replaced live database is kept under.
  returned: when a swap happened or would happen
  type: str
  sample: shop_pre_rollback_20261123184512
restored_db:
  description: Name of the scratch database that became live.
  returned: when a swap happened or would happen
  type: str
  sample: shop_restore_20261123184512
row_counts:
  description: Rows per table of the restored database (equal to the snapshot's).
  returned: when a restore ran
  type: dict
  sample: {orders: 1200, users: 310}
data_loss:
  description: Rows newer than the snapshot per table (see O(data_loss_tables)).
  returned: when O(data_loss_tables) is given and the snapshot is not already live
  type: list
  elements: dict
  sample: [{table: orders, column: created_at, rows: 7, amount_column: total, amount: "73.50"}]
rows_lost:
  description: Sum of the rows in RV(data_loss).
  returned: when O(data_loss_tables) is given and the snapshot is not already live
  type: int
  sample: 7
reverted_db:
  description: Name the restored database is kept under after it was swapped out again (O(state=reverted),
    or a check that failed after the swap).
  returned: when it was swapped out again
  type: str
  sample: shop_reverted_20261123190002
terminated_sessions:
  description: Sessions of the live database that were terminated for the swap.
  returned: when a swap happened
  type: int
  sample: 3
dropped:
  description: Databases dropped (stale scratch databases, retention); in check mode those that would be.
  returned: success
  type: list
  elements: str
  sample: [shop_pre_rollback_20261120101500]
timings:
  description: Seconds spent per phase (check, snapshot, restore with its verification, swap).
  returned: when a restore ran
  type: dict
  sample: {check: 0.4, snapshot: 2.1, restore: 8.2, swap: 0.3}
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _pg
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotError, validate_id

RELATIVE = ("latest", "previous")


class SafeRestore:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.db = self.p["database"]
        self.pg = _pg.Pg(self.p, run_command=module.run_command)
        self.snaps = _pg.PgSnapshots(self.p["state_dir"], _pg.ENGINE, self.db)
        self.state_path = _pg.restore_state_path(self.p["state_dir"], self.p)
        self.recorded = _pg.read_restore_state(self.state_path)
        self.targets = _pg.targets(self.p["state_dir"], self.p)
        self.dropped = []
        self.timings = {}
        self.result = {"restored_from": None, "snapshot": None, "dropped": self.dropped}

    def fail_early(self, msg, **extra):
        self.module.fail_json(msg="pg_restore_safe: %s" % msg, **dict(self.result, **extra))

    def timed(self, phase, started):
        self.timings[phase] = round(time.monotonic() - started, 3)

    def live_info(self):
        try:
            info = self.pg.database_info(self.db)
        except _pg.PgError as err:
            self.fail_early("cannot reach the server: %s; nothing was changed" % err)
        if info is None:
            self.fail_early("live database %s does not exist; nothing was changed" % self.db)
        if not info["allow_connections"] and not self.module.check_mode:
            # a swap killed between "refuse new connections" and its cleanup leaves the database closed
            self.module.warn(
                "pg_restore_safe: %s refused connections (ALLOW_CONNECTIONS false, left by an interrupted swap?); "
                "allowing them again" % self.db
            )
            try:
                self.pg.allow_connections(self.db)
            except _pg.PgError as err:
                self.fail_early("cannot allow connections to %s again: %s" % (self.db, err))
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
        keep = self.p["keep"]
        if not keep:
            return []
        kept = self.pg.kept_databases(self.db, kind, conn) + ([adding] if adding else [])
        return [n for n in kept[: max(0, len(kept) - keep)] if n != adding]

    def apply_retention(self, conn, kind, adding=None):
        for name in self.plan_retention(conn, kind, adding):
            try:
                self.pg.drop(name, conn)
                self.dropped.append(name)
            except _pg.PgError as err:
                self.module.warn("pg_restore_safe: retention could not drop %s: %s" % (name, err))

    # --- state=restored, in named steps --------------------------------------------------

    def restored(self):
        step = Step(self.module, "database", "restore")
        started = time.monotonic()
        meta, start, live = self.resolve()
        self.result["restored_from"] = self.snaps.ref(meta)
        if self.in_place(meta, live):
            self.module.exit_json(
                changed=False,
                live_oid=live["oid"],
                pre_rollback_db=self.recorded.get("pre_rollback_db"),
                msg="snapshot %s is already live in %s" % (meta["id"], self.db),
                **self.result,
            )
        fields = {"to": meta["id"], "snapshot": self.snaps.dir_of(meta), "from_": self.recorded.get("snapshot_id")}
        self.check_snapshot(meta, step, fields)
        self.count_data_loss(meta, step, fields)
        self.timed("check", started)
        plan = self.plan(meta, live)
        if start is not None:
            # fixed before anything changes: a retry after a failure lands on the same snapshot
            self.targets.record(self.p["snapshot"], start, meta["id"], run_id=self.p["run_id"])
        self.swap_and_verify(meta, live, plan, step, fields)

    def resolve(self):
        """The snapshot to put back, the state a relative word was resolved in (None for an id), live info."""
        word = self.p["snapshot"]
        try:
            # fails before connecting when there is no such snapshot
            fresh = self.snaps.get(word)
            live = self.live_info()
            if word not in RELATIVE:
                return fresh, None, live
            start = {"oid": live["oid"], "newest": self.snaps.newest_id()}
            entry = self.targets.find(word, start)
            return (self.snaps.get(entry["target"]) if entry else fresh), start, live
        except SnapshotError as err:
            self.fail_early("%s; nothing was changed" % err)

    def in_place(self, meta, live):
        rec = self.recorded
        if self.p["force"]:
            return False
        same = rec.get("sha256") == meta["sha256"] and rec.get("live_oid") == live["oid"]
        if rec.get("state") != "restored" or not same:
            return False
        # a deploy that migrated the restored database in place leaves its oid: the schema tells
        return rec.get("schema") in (None, self.pg.schema_fingerprint(self.db))

    def check_snapshot(self, meta, step, fields):
        try:
            _pg.check_snapshot(self.pg, self.snaps, meta)
        except (SnapshotError, _pg.PgError) as err:
            step.fail(
                "pg_restore_safe: refusing snapshot %s: %s; live database %s untouched" % (meta["id"], err, self.db),
                journal_fields=fields,
                **self.result,
            )

    def count_data_loss(self, meta, step, fields):
        if not self.p["data_loss_tables"]:
            return
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
        self.result.update(data_loss=report, rows_lost=lost)
        if lost and not self.p["confirm_data_loss"]:
            detail = ", ".join("%s: %d" % (r["table"], r["rows"]) for r in report if r["rows"])
            # journaled: the refusal and the rows at stake belong in the incident report
            step.fail(
                "pg_restore_safe: %d rows written after snapshot %s (%s) would be lost (%s); set "
                "confirm_data_loss=true to restore anyway; nothing was changed"
                % (lost, meta["id"], meta["metadata"].get("snapshot_time"), detail),
                journal_fields=dict(fields, rows_lost=lost),
                **self.result,
            )

    def plan(self, meta, live):
        """Names of the scratch and kept databases, what would be dropped; check mode ends here."""
        try:
            conn = self.pg.maintenance()
            try:
                stale = self.pg.kept_databases(self.db, "restore", conn)
                scratch, pre = self.stamp(conn, ("restore", "pre_rollback"))
                doomed = stale + self.plan_retention(conn, "pre_rollback", pre)
            finally:
                conn.close()
        except _pg.PgError as err:
            self.fail_early("cannot plan the restore of %s: %s; nothing was changed" % (self.db, err))
        plan = {"stale": stale, "scratch": scratch, "pre": pre}
        if self.module.check_mode:
            self.module.exit_json(
                changed=True,
                live_oid=live["oid"],
                pre_rollback_db=pre,
                restored_db=scratch,
                diff=dict(
                    before={"database": self.db, "oid": live["oid"], "snapshot": self.recorded.get("snapshot_id")},
                    after={"database": self.db, "snapshot": meta["id"], "kept_as": pre},
                ),
                **dict(self.result, dropped=doomed),
            )
        return plan

    def take_safety_snapshot(self, meta, step, fields):
        if not self.p["safety_snapshot"]:
            return
        started = time.monotonic()
        snapshot_id = self.p["snapshot_id"] or _pg.snapshot_id_for(self.db)
        try:
            if self.snaps.store.exists(snapshot_id):
                # a named copy taken by an earlier, failed attempt of this restore: kept, not replaced
                safety = self.snaps.get(snapshot_id)
                if safety["metadata"].get("database") != self.db:
                    raise SnapshotError("snapshot %s exists and is of another database" % snapshot_id)
            else:
                safety = _pg.take_snapshot(self.pg, self.snaps, snapshot_id, safety_for=meta["id"])
        except (_pg.PgError, SnapshotError, OSError) as err:
            step.fail(
                "pg_restore_safe: cannot take the safety snapshot of %s: %s; live database untouched" % (self.db, err),
                journal_fields=fields,
                **self.result,
            )
        self.result["snapshot"] = self.snaps.ref(safety)
        try:
            self.snaps.prune(self.p["keep"], protect=(safety["id"],), safety=True)
        except (SnapshotError, OSError) as err:
            self.module.warn("pg_restore_safe: retention could not prune old safety snapshots: %s" % err)
        self.timed("snapshot", started)

    def swap_and_verify(self, meta, live, plan, step, fields):
        """Scratch restore and its check, swap, checks on live, record; each failure says what it left."""
        counts = self.build_scratch(meta, live, plan, step, fields)
        terminated = self.swap_in(meta, plan, step, fields)
        new_live = self.verify_live(meta, plan, step, fields)
        self.record(meta, live, new_live, plan)
        self.result.update(
            live_oid=new_live["oid"],
            pre_rollback_db=plan["pre"],
            restored_db=plan["scratch"],
            row_counts=counts,
            terminated_sessions=terminated,
            timings=self.timings,
        )
        step.exit(
            True,
            message="snapshot %s is live in %s; the previous database is kept as %s"
            % (meta["id"], self.db, plan["pre"]),
            journal_fields=dict(
                fields,
                pre_rollback_db=plan["pre"],
                safety_snapshot=(self.result["snapshot"] or {}).get("id"),
                rows=sum(counts.values()),
                terminated_sessions=terminated,
                rows_lost=self.result.get("rows_lost"),
                dropped=self.dropped,
            ),
            diff=dict(
                before={"database": self.db, "oid": live["oid"], "snapshot": fields["from_"]},
                after={"database": self.db, "oid": new_live["oid"], "snapshot": meta["id"]},
            ),
            **self.result,
        )

    def build_scratch(self, meta, live, plan, step, fields):
        """Drop stale scratch databases, take the safety copy, restore and check the scratch one."""
        try:
            for name in plan["stale"]:
                self.pg.drop_now(name)
                self.dropped.append(name)
            self.take_safety_snapshot(meta, step, fields)
            started = time.monotonic()
            counts, problems = self.pg.restore_scratch(
                self.snaps.file_of(meta),
                plan["scratch"],
                meta["metadata"].get("row_counts", {}),
                like=live,
                settings_from=self.db,
                checks=self.p["checks"],
                jobs=self.p["jobs"],
                no_owner=self.p["no_owner"],
            )
            self.timed("restore", started)
        except (_pg.PgError, OSError) as err:
            problems = [str(err)]
        if problems:
            step.fail(
                "pg_restore_safe: snapshot %s did not restore cleanly into %s (%s); scratch dropped, live "
                "database %s untouched" % (meta["id"], plan["scratch"], "; ".join(problems), self.db),
                journal_fields=fields,
                **self.result,
            )
        return counts

    def swap_in(self, meta, plan, step, fields):
        started = time.monotonic()
        try:
            terminated = self.pg.swap(self.db, plan["scratch"], plan["pre"], attempts=self.p["swap_attempts"])
        except _pg.PgError as err:
            try:
                self.pg.drop_now(plan["scratch"])
                self.dropped.append(plan["scratch"])
            except _pg.PgError as drop_err:
                self.module.warn("pg_restore_safe: could not drop %s: %s" % (plan["scratch"], drop_err))
            step.fail(
                "pg_restore_safe: cannot swap snapshot %s in as %s: %s; nothing was renamed, live database untouched"
                % (meta["id"], self.db, err),
                journal_fields=fields,
                **self.result,
            )
        self.timed("swap", started)
        return terminated

    def verify_live(self, meta, plan, step, fields):
        """Checks and row counts on the database now live; swap back at once when one fails."""
        try:
            new_live = self.pg.database_info(self.db)
            failed = self.pg.run_checks(self.db, self.p["checks"]) if self.p["checks"] else []
            failed += _pg.fewer_rows(meta["metadata"].get("row_counts", {}), self.pg.counts_of(self.db))
        except _pg.PgError as err:
            failed = [str(err)]
        if not failed:
            return new_live
        try:
            conn = self.pg.maintenance()
            try:
                reverted = self.stamp(conn, ("reverted",))[0]
            finally:
                conn.close()
            self.pg.swap(self.db, plan["pre"], reverted, attempts=self.p["swap_attempts"])
        except _pg.PgError as err:
            step.fail(
                "pg_restore_safe: checks failed on %s after the swap (%s) and swapping back failed: %s; the "
                "restored copy is live, the pre-rollback database is kept as %s"
                % (self.db, "; ".join(failed), err, plan["pre"]),
                journal_fields=fields,
                pre_rollback_db=plan["pre"],
                **self.result,
            )
        step.fail(
            "pg_restore_safe: checks failed on %s after the swap (%s); swapped back, the pre-rollback "
            "database is live again and the restored one is kept as %s" % (self.db, "; ".join(failed), reverted),
            journal_fields=dict(fields, kept_as=reverted),
            result="reverted",
            reverted_db=reverted,
            **self.result,
        )

    def record(self, meta, live, new_live, plan):
        """What is live now (for idempotence and state=reverted), then retention."""
        self.recorded = {
            "state": "restored",
            "snapshot_id": meta["id"],
            "sha256": meta["sha256"],
            "live_oid": new_live["oid"],
            "pre_rollback_db": plan["pre"],
            "pre_rollback_oid": live["oid"],
            "restored_at": _pg.iso(time.time()),
        }
        try:
            self.recorded["schema"] = self.pg.schema_fingerprint(self.db)
        except _pg.PgError as err:
            self.module.warn("pg_restore_safe: the schema of %s could not be read (%s)" % (self.db, err))
        try:
            _pg.write_restore_state(self.state_path, self.recorded)
            if self.p["snapshot"] in RELATIVE:
                self.targets.landed(self.p["snapshot"], {"oid": new_live["oid"], "newest": self.snaps.newest_id()})
        except OSError as err:
            self.module.warn(
                "pg_restore_safe: the restore is done but could not be recorded in %s (%s); a re-run will not "
                "know it is in place, and state=reverted cannot find %s" % (self.state_path, err, plan["pre"])
            )
        try:
            conn = self.pg.maintenance()
            try:
                self.apply_retention(conn, "pre_rollback")
            finally:
                conn.close()
        except _pg.PgError as err:
            self.module.warn("pg_restore_safe: retention skipped: %s" % err)

    # --- state=reverted --------------------------------------------------------------------

    def reverted(self):
        step = Step(self.module, "database", "revert_restore")
        live = self.live_info()
        rec = self.recorded
        if rec.get("state") == "reverted" and rec.get("live_oid") == live["oid"]:
            self.module.exit_json(changed=False, live_oid=live["oid"], msg="already reverted", **self.result)
        if rec.get("state") == "restored" and rec.get("pre_rollback_oid") == live["oid"]:
            # swapped back by a run that could not record it (its state dir was full)
            self.module.exit_json(
                changed=False,
                live_oid=live["oid"],
                msg="already reverted: the pre-rollback database is live (not recorded by the run that swapped it)",
                **self.result,
            )
        if rec.get("state") != "restored" or not rec.get("pre_rollback_db"):
            self.fail_early(
                "no restore of %s is recorded in %s, so there is nothing to revert; nothing was changed"
                % (self.db, self.state_path)
            )
        pre = rec["pre_rollback_db"]
        fields = {"from_": rec.get("snapshot_id"), "to": pre}
        conn = None
        try:
            conn = self.pg.maintenance()
            info = self.pg.database_info(pre, conn)
            if info is None:
                self.fail_early("the pre-rollback database %s is gone; nothing was changed" % pre)
            keep_as = self.stamp(conn, ("reverted",))[0]
            diff = dict(
                before={"database": self.db, "oid": live["oid"], "snapshot": rec.get("snapshot_id")},
                after={"database": self.db, "oid": info["oid"], "snapshot": None, "kept_as": keep_as},
            )
            if self.module.check_mode:
                self.module.exit_json(changed=True, live_oid=live["oid"], pre_rollback_db=pre, diff=diff, **self.result)
            terminated = self.pg.swap(self.db, pre, keep_as, attempts=self.p["swap_attempts"])
        except _pg.PgError as err:
            if conn is not None:
                conn.close()
            step.fail(
                "pg_restore_safe: cannot swap %s back in as %s: %s; nothing was renamed" % (pre, self.db, err),
                journal_fields=fields,
                **self.result,
            )
        # The swap is done: what follows cannot undo it, so a failure here is a warning, not "nothing renamed".
        try:
            self.recorded = {
                "state": "reverted",
                "live_oid": info["oid"],
                "reverted_db": keep_as,
                "reverted_snapshot_id": rec.get("snapshot_id"),
                "reverted_at": _pg.iso(time.time()),
            }
            _pg.write_restore_state(self.state_path, self.recorded)
            self.apply_retention(conn, "reverted")
        except (_pg.PgError, OSError) as err:
            self.module.warn(
                "pg_restore_safe: %s is live again as %s, but this could not be recorded in %s (%s); a re-run "
                "sees the pre-rollback database live and changes nothing" % (pre, self.db, self.state_path, err)
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
            diff=diff,
            **self.result,
        )


def main():
    spec = _pg.connection_argument_spec()
    spec.update(
        state=dict(type="str", choices=["restored", "reverted"], default="restored"),
        snapshot=dict(type="str", default="latest"),
        snapshot_id=dict(type="str"),
        safety_snapshot=dict(type="bool", default=True),
        jobs=dict(type="int", default=2),
        keep=dict(type="int", default=2),
        confirm_data_loss=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
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
        module.fail_json(msg=missing_required_lib(_pg.PSYCOPG_LIBRARY), exception=str(_pg.PSYCOPG_IMPORT_ERROR))
    p = module.params
    if p["jobs"] < 1 or p["keep"] < 0 or p["swap_attempts"] < 1:
        module.fail_json(msg="pg_restore_safe: jobs and swap_attempts must be 1 or more, keep 0 or more")
    try:
        if p["snapshot_id"]:
            validate_id(p["snapshot_id"])
        _pg.find_bin_dir(p["bin_dir"], "pg_restore")
    except (SnapshotError, _pg.PgError) as err:
        module.fail_json(msg="pg_restore_safe: %s; nothing was changed" % err)
    runner = SafeRestore(module)
    if p["state"] == "reverted":
        runner.reverted()
    else:
        runner.restored()


if __name__ == "__main__":
    main()
