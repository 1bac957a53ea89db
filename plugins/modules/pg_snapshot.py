#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_snapshot
short_description: Take and verify PostgreSQL snapshots (pg_dump custom format, checksum, row counts)
version_added: 0.1.0
description:
  - With O(state=present), dumps the database with C(pg_dump --format=custom) into the snapshot
    store (C(<state_dir>/snapshots/database/<id>/)). The metadata records the database, server
    version, sha256, size, creation time, the exact row count of every table and the Alembic
    revision when an C(alembic_version) table exists.
  - Row counts and revision are read in the very transaction snapshot the dump is taken from
    (C(pg_export_snapshot) + C(pg_dump --snapshot)), so they match the dump even while the
    application writes.
  - With O(state=verified), checks the dump's checksum, reads its table of contents, restores it
    into a scratch database C(<db>_verify_<timestamp>), compares the row counts with the metadata
    and drops the scratch database. A truncated or altered dump is reported with the reason.
    The live database is only read.
  - Verification is a state of this module rather than a separate C(pg_snapshot_verify) module
    because it needs the very same options (connection, store, snapshot name) and the role
    runs it right after taking the snapshot; one module keeps one place for the snapshot's lifecycle.
  - Idempotence. With an explicit O(name), a snapshot that already exists and whose checksum
    verifies is left alone (C(changed=false)); an existing snapshot that fails its checksum is an
    error (it is never silently replaced). Without O(name), every run takes a new snapshot named
    C(<db>-<UTC timestamp>-<random>) and reports C(changed=true); that is what you want before each
    rollback.
  - Retention keeps the newest O(keep) snapshots of this database (other databases' snapshots in the
    same store are not counted nor touched); the one just taken or named is never pruned.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback.common
  - emergency.rollback.postgres
attributes:
  check_mode:
    support: full
    description:
      - O(state=present) connects and reports the snapshot it would take (id, tables, database size,
        free space in the store) and the snapshots retention would prune.
      - O(state=verified) checks the checksum and the archive's table of contents but skips the test
        restore, which would create a database.
  diff_mode:
    support: full
    description: Shows the snapshot ids of the database before and after.
options:
  state:
    description:
      - V(present) takes a snapshot (or finds the named one), V(verified) verifies one.
    type: str
    choices: [present, verified]
    default: present
  name:
    description:
      - Snapshot id. With O(state=present) the id of the snapshot to take (letters, digits and
        C(._@+-)); with O(state=verified) the id to verify, or V(latest) / V(previous) of this database.
      - Defaults to a new timestamped id for O(state=present) and to V(latest) for O(state=verified).
    type: str
  keep:
    description:
      - How many snapshots of this database to keep after taking one. V(0) keeps all.
    type: int
    default: 5
  jobs:
    description:
      - Parallel jobs of the test restore (C(pg_restore --jobs)).
    type: int
    default: 2
  no_owner:
    description:
      - Restore the test copy with C(--no-owner), for a login role that may not own the dumped objects' roles.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Snapshot the shop database before the rollback
  emergency.rollback.pg_snapshot:
    db: shop
    login_host: db1.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
  register: database_snapshot

- name: Prove the snapshot restores (checksum + test restore + row counts)
  emergency.rollback.pg_snapshot:
    db: shop
    login_host: db1.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    state: verified
    name: "{{ database_snapshot.snapshot_id }}"

- name: A named snapshot is taken once (idempotent)
  emergency.rollback.pg_snapshot:
    db: shop
    name: before-release-42
    keep: 10
"""

RETURN = r"""
snapshot_id:
  description: Id of the snapshot taken, found or verified (in check mode, the one that would be taken).
  returned: always
  type: str
  sample: shop-20261123T184501.123456Z-1a2b3c
path:
  description: Directory of the snapshot in the store.
  returned: when the snapshot exists
  type: str
dump_path:
  description: Path of the custom-format dump.
  returned: when the snapshot exists
  type: str
snapshot:
  description: The snapshot's metadata (id, created, sha256, size, files, metadata with row_counts,
    alembic_revision, server_version, snapshot_time).
  returned: when the snapshot exists
  type: dict
row_counts:
  description: Rows per table (C(schema.table), public tables unqualified) in the snapshot, or in the live
    database in check mode.
  returned: success
  type: dict
  sample: {orders: 1200, users: 310}
alembic_revision:
  description: Alembic revision recorded in the snapshot, null without an alembic_version table.
  returned: success
  type: str
database_size:
  description: Size of the live database in bytes (pg_database_size; a custom-format dump is usually smaller).
  returned: state=present
  type: int
database_oid:
  description: Oid of the live database (its identity; it changes when pg_restore_safe swaps a copy in).
  returned: state=present, unless the named snapshot already existed
  type: int
free_bytes:
  description: Free bytes on the filesystem of the snapshot store.
  returned: state=present
  type: int
pruned:
  description: Snapshot ids deleted by retention (in check mode, those that would be).
  returned: state=present
  type: list
  elements: str
verification:
  description: What O(state=verified) checked; C(test_restore) is false in check mode.
  returned: state=verified
  type: dict
  sample: {checksum: true, archive_entries: 42, test_restore: true, row_counts_match: true}
"""

import shutil
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _pg
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import (
    SnapshotCorrupt,
    SnapshotError,
    existing_parent,
    validate_id,
)


class PgSnapshotModule:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.db = self.p["db"]
        self.pg = _pg.Pg(self.p, run_command=module.run_command)
        self.snaps = _pg.PgSnapshots(self.p["state_dir"], _pg.ENGINE, self.db)

    def ids(self):
        return [m["id"] for m in self.snaps.list()]

    def present(self):
        step = Step(self.module, "database", "snapshot")
        name = self.p["name"]
        if name:
            try:
                validate_id(name)
            except SnapshotError as err:
                self.module.fail_json(msg="pg_snapshot: %s" % err)
            if self.snaps.store.exists(name):
                try:
                    meta = self.snaps.store.verify(name)
                except SnapshotCorrupt as err:
                    step.fail(
                        "pg_snapshot: snapshot %s exists but is corrupt (%s); not replacing it, delete it or choose "
                        "another name" % (name, err),
                        journal_fields={"snapshot": self.snaps.store.path(name)},
                    )
                if meta["metadata"].get("database") != self.db:
                    self.module.fail_json(
                        msg="pg_snapshot: snapshot %s exists but is of database %s, not %s; nothing changed"
                        % (name, meta["metadata"].get("database"), self.db)
                    )
                self.module.exit_json(changed=False, **self.described(meta, pruned=[]))
        snapshot_id = name or _pg.snapshot_id_for(self.db)
        before = self.ids()
        try:
            conn = self.pg.connect()
        except _pg.PgError as err:
            self.module.fail_json(msg="pg_snapshot: %s; nothing was dumped" % err)
        try:
            info = self.pg.database_info(self.db, conn)
            counts = _pg.table_counts(conn) if self.module.check_mode else None
            revision = _pg.alembic_revision(conn) if self.module.check_mode else None
        finally:
            conn.close()
        free = shutil.disk_usage(existing_parent(self.snaps.store.dir)).free
        if self.module.check_mode:
            excess = len(before) + 1 - self.p["keep"] if self.p["keep"] else 0
            doomed = before[: max(0, excess)]
            self.module.exit_json(
                changed=True,
                snapshot_id=snapshot_id,
                row_counts=counts,
                alembic_revision=revision,
                database_size=info["size"],
                database_oid=info["oid"],
                free_bytes=free,
                pruned=doomed,
                diff=dict(before={"snapshots": before}, after={"snapshots": before + [snapshot_id]}),
            )
        try:
            with self.snaps.store.staging(snapshot_id, source="postgresql:%s" % self.db) as stage:
                stage.metadata.update(self.pg.dump(stage.file(_pg.DUMP_NAME)))
            meta = stage.meta
        except (_pg.PgError, SnapshotError, OSError) as err:
            step.fail("pg_snapshot: cannot snapshot database %s: %s; nothing was kept" % (self.db, err))
        item = meta["files"][0]
        meta["metadata"]["dump_sha256"] = item["sha256"]
        try:
            pruned = self.snaps.prune(self.p["keep"], protect=(snapshot_id,))
        except (SnapshotError, OSError) as err:
            self.module.warn("pg_snapshot: retention could not prune old snapshots: %s" % err)
            pruned = []
        result = self.described(meta, pruned=pruned)
        result.update(database_size=info["size"], database_oid=info["oid"], free_bytes=free)
        step.exit(
            True,
            message="dumped %s: %d tables, %d rows, %d bytes"
            % (self.db, len(meta["metadata"]["row_counts"]), meta["metadata"]["rows_total"], meta["size"]),
            journal_fields={
                "to": snapshot_id,
                "snapshot": result["path"],
                "database": self.db,
                "rows": meta["metadata"]["rows_total"],
                "bytes": meta["size"],
                "sha256": meta["sha256"],
                "alembic_revision": meta["metadata"].get("alembic_revision"),
                "pruned": pruned,
            },
            diff=dict(before={"snapshots": before}, after={"snapshots": self.ids()}),
            **result,
        )

    def described(self, meta, pruned):
        return dict(
            snapshot_id=meta["id"],
            path=self.snaps.dir_of(meta),
            dump_path=self.snaps.file_of(meta),
            snapshot=meta,
            row_counts=meta["metadata"].get("row_counts", {}),
            alembic_revision=meta["metadata"].get("alembic_revision"),
            pruned=pruned,
        )

    def verified(self):
        step = Step(self.module, "database", "verify_snapshot")
        ref = self.p["name"] or "latest"
        try:
            meta = self.snaps.get(ref)
        except SnapshotError as err:
            self.module.fail_json(msg="pg_snapshot: %s" % err)
        dump = self.snaps.file_of(meta)
        fields = {"snapshot": self.snaps.dir_of(meta), "to": meta["id"]}
        verification = {"checksum": False, "archive_entries": None, "test_restore": False, "row_counts_match": None}
        try:
            self.snaps.store.verify(meta)
            verification["checksum"] = True
            verification["archive_entries"] = self.pg.check_archive(dump)
        except (SnapshotCorrupt, _pg.PgError) as err:
            step.fail(
                "pg_snapshot: snapshot %s of %s is not usable: %s" % (meta["id"], self.db, err),
                journal_fields=fields,
                verification=verification,
            )
        result = self.described(meta, pruned=[])
        result.pop("pruned")
        if self.module.check_mode:
            self.module.exit_json(changed=False, verification=verification, **result)
        problems = []
        scratch = None
        try:
            conn = self.pg.maintenance()
            try:
                # a verification killed earlier may have left its scratch database behind
                for stale in self.pg.kept_databases(self.db, "verify", conn):
                    self.pg.drop(stale, conn)
                scratch = _pg.scratch_name(self.db, "verify", _pg.utc_stamp())
                source = self.pg.database_info(self.db, conn) or {}
                if source:
                    self.pg.create_like(scratch, source, conn)
                else:
                    conn.execute(
                        _pg.sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(_pg.sql.Identifier(scratch))
                    )
                self.pg.restore_into(dump, scratch, jobs=self.p["jobs"], no_owner=self.p["no_owner"])
                verification["test_restore"] = True
                problems = _pg.compare_counts(meta["metadata"].get("row_counts", {}), self.pg.counts_of(scratch))
                verification["row_counts_match"] = not problems
            finally:
                try:
                    if scratch:
                        self.pg.drop(scratch, conn)
                finally:
                    conn.close()
        except (_pg.PgError, _pg.psycopg.Error) as err:
            step.fail(
                "pg_snapshot: test restore of snapshot %s failed: %s; the live database was not touched"
                % (meta["id"], _pg.one_line(err)),
                journal_fields=fields,
                verification=verification,
            )
        if problems:
            step.fail(
                "pg_snapshot: snapshot %s restores with different row counts: %s" % (meta["id"], "; ".join(problems)),
                journal_fields=fields,
                verification=verification,
            )
        self.snaps.mark_verified(meta, {"verified_at": _pg.iso(time.time()), **verification})
        step.exit(
            False,
            message="snapshot %s verified: checksum, %d archive entries, test restore, row counts"
            % (meta["id"], verification["archive_entries"]),
            journal_fields=fields,
            verification=verification,
            **result,
        )


def main():
    spec = _pg.connection_argument_spec()
    spec.update(
        state=dict(type="str", choices=["present", "verified"], default="present"),
        name=dict(type="str"),
        keep=dict(type="int", default=5),
        jobs=dict(type="int", default=2),
        no_owner=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=with_common(spec), supports_check_mode=True)
    if not _pg.HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg"), exception=str(_pg.PSYCOPG_IMPORT_ERROR))
    if module.params["keep"] < 0:
        module.fail_json(msg="pg_snapshot: keep must be 0 (keep all) or more")
    try:
        _pg.find_bin_dir(module.params["bin_dir"])
    except _pg.PgError as err:
        module.fail_json(msg="pg_snapshot: %s; nothing was dumped" % err)
    runner = PgSnapshotModule(module)
    if module.params["state"] == "present":
        runner.present()
    runner.verified()


if __name__ == "__main__":
    main()
