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
  - With O(state=snapshot), dumps the database with C(pg_dump --format=custom) into the snapshot
    store (C(<state_dir>/snapshots/database/<id>/)). The metadata records the database, server
    version, sha256, size, creation time, the exact row count of every table and the Alembic
    revision when an C(alembic_version) table exists.
  - Row counts and revision are read in the very transaction snapshot the dump is taken from
    (C(pg_export_snapshot) + C(pg_dump --snapshot)), so they match the dump even while the
    application writes.
  - With O(state=verified), checks the dump's checksum, reads its table of contents, restores it
    into a scratch database C(<database>_verify_<timestamp>), compares the row counts with the metadata
    and drops the scratch database. A truncated or altered dump is reported with the reason.
    The live database is only read.
  - Verification is a state of this module rather than a separate C(pg_snapshot_verify) module
    because it needs the very same options (connection, store, snapshot name) and the role
    runs it right after taking the snapshot; one module keeps one place for the snapshot's lifecycle.
  - Idempotence. With an explicit O(snapshot_id), a snapshot that already exists and whose checksum
    verifies is left alone (C(changed=false)); an existing snapshot that fails its checksum is an
    error (it is never silently replaced). Without O(snapshot_id), every run takes a new snapshot named
    C(<database>-<UTC timestamp>-<random>) and reports C(changed=true).
  - Snapshots taken here are the candidates for V(latest) (the newest) and V(previous) (the one before it).
    Safety copies that M(emergency.rollback.pg_restore_safe) takes of the database it replaces are not;
    they are reached by id only, and neither counted nor pruned by O(keep) here.
  - Retention keeps the newest O(keep) snapshots of this database (other databases' snapshots in the
    same store are not counted nor touched); the one just taken or named is never pruned.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback.postgres
attributes:
  check_mode:
    support: full
    description:
      - O(state=snapshot) connects and reports the snapshot it would take (id, tables, database size,
        free space in the store) and the snapshots retention would prune.
      - O(state=verified) checks the checksum and the archive's table of contents but skips the test
        restore, which would create a database.
  diff_mode:
    support: full
    description: Shows the snapshot ids of the database before and after.
options:
  state:
    description:
      - V(snapshot) takes a snapshot (or finds the named one), V(verified) verifies one.
    type: str
    choices: [snapshot, verified]
    default: snapshot
  snapshot_id:
    description:
      - Snapshot id. With O(state=snapshot) the id of the snapshot to take (letters, digits and
        C(._@+-)); with O(state=verified) the id to verify, or V(latest) / V(previous) of this database.
      - Defaults to a new timestamped id for O(state=snapshot) and to V(latest) for O(state=verified).
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
    database: shop
    login_host: db1.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
  register: database_snapshot

- name: Prove the snapshot restores (checksum + test restore + row counts)
  emergency.rollback.pg_snapshot:
    database: shop
    login_host: db1.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    state: verified
    snapshot_id: "{{ database_snapshot.snapshot.id }}"

- name: A named snapshot is taken once (idempotent)
  emergency.rollback.pg_snapshot:
    database: shop
    snapshot_id: before-release-42
    keep: 10
"""

RETURN = r"""
snapshot:
  description: The snapshot taken, found or verified (in check mode with O(state=snapshot), the id it would
    take and a null path).
  returned: always
  type: dict
  sample:
    id: shop-20261123T184501.123456Z-1a2b3c
    path: /var/lib/emergency-rollback/snapshots/database/shop-20261123T184501.123456Z-1a2b3c
  contains:
    id:
      description: Snapshot id (what O(emergency.rollback.pg_restore_safe#module:snapshot) takes to restore it).
      type: str
      sample: shop-20261123T184501.123456Z-1a2b3c
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/database/shop-20261123T184501.123456Z-1a2b3c
dump_path:
  description: Path of the custom-format dump.
  returned: when the snapshot exists
  type: str
  sample: /var/lib/emergency-rollback/snapshots/database/shop-20261123T184501.123456Z-1a2b3c/files/dump.pgc
snapshot_meta:
  description: The snapshot's metadata (id, created, sha256, size, files, metadata with row_counts,
    alembic_revision, server_version, pg_dump_version, snapshot_time).
  returned: when the snapshot exists
  type: dict
  sample:
    id: shop-20261123T184501.123456Z-1a2b3c
    sha256: 9f2c6d...
    size: 48213
    metadata: {database: shop, rows_total: 1510}
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
  sample: 0003_audit
database_size:
  description: Size of the live database in bytes (pg_database_size; a custom-format dump is usually smaller).
  returned: O(state=snapshot), unless the named snapshot already existed
  type: int
  sample: 8413315
database_oid:
  description: Oid of the live database (its identity; it changes when pg_restore_safe swaps a copy in).
  returned: O(state=snapshot), unless the named snapshot already existed
  type: int
  sample: 16412
free_bytes:
  description: Free bytes on the filesystem of the snapshot store.
  returned: O(state=snapshot), unless the named snapshot already existed
  type: int
  sample: 20480000000
pruned:
  description: Snapshot ids deleted by retention (in check mode, those that would be).
  returned: O(state=snapshot)
  type: list
  elements: str
  sample: [shop-20261101T120000.000000Z-aa11bb]
verification:
  description: What O(state=verified) checked; C(test_restore) is false in check mode.
  returned: O(state=verified)
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
        self.db = self.p["database"]
        self.pg = _pg.Pg(self.p, run_command=module.run_command)
        self.snaps = _pg.PgSnapshots(self.p["state_dir"], _pg.ENGINE, self.db)

    def ids(self):
        return [m["id"] for m in self.snaps.list(safety=False)]

    def existing(self, snapshot_id):
        """Leave a named snapshot that already exists alone (it must be sound and of this database)."""
        step = Step(self.module, "database", "snapshot")
        try:
            meta = self.snaps.store.verify(snapshot_id)
        except SnapshotCorrupt as err:
            step.fail(
                "pg_snapshot: snapshot %s exists but is corrupt (%s); not replacing it, delete it or choose "
                "another snapshot_id" % (snapshot_id, err),
                journal_fields={"snapshot": self.snaps.store.path(snapshot_id)},
            )
        if meta["metadata"].get("database") != self.db:
            self.module.fail_json(
                msg="pg_snapshot: snapshot %s exists but is of database %s, not %s; nothing changed"
                % (snapshot_id, meta["metadata"].get("database"), self.db)
            )
        self.module.exit_json(changed=False, pruned=[], **self.described(meta))

    def snapshot(self):
        snapshot_id = self.p["snapshot_id"]
        if snapshot_id and self.snaps.store.exists(snapshot_id):
            self.existing(snapshot_id)
        snapshot_id = snapshot_id or _pg.snapshot_id_for(self.db)
        before = self.ids()
        try:
            live = self.pg.live_summary() if self.module.check_mode else self.pg.database_info(self.db)
        except _pg.PgError as err:
            self.module.fail_json(msg="pg_snapshot: %s; nothing was dumped" % err)
        free = shutil.disk_usage(existing_parent(self.snaps.store.dir)).free
        sizes = dict(database_size=live["size"], database_oid=live["oid"], free_bytes=free)
        if self.module.check_mode:
            self.module.exit_json(
                changed=True,
                snapshot={"id": snapshot_id, "path": None},
                row_counts=live["row_counts"],
                alembic_revision=live["alembic_revision"],
                pruned=before[: max(0, len(before) + 1 - self.p["keep"])] if self.p["keep"] else [],
                diff=dict(before={"snapshots": before}, after={"snapshots": before + [snapshot_id]}),
                **sizes,
            )
        step = Step(self.module, "database", "snapshot")
        try:
            meta = _pg.take_snapshot(self.pg, self.snaps, snapshot_id)
        except (_pg.PgError, SnapshotError, OSError) as err:
            step.fail("pg_snapshot: cannot snapshot database %s: %s; nothing was kept" % (self.db, err))
        try:
            pruned = self.snaps.prune(self.p["keep"], protect=(snapshot_id,), safety=False)
        except (SnapshotError, OSError) as err:
            self.module.warn("pg_snapshot: retention could not prune old snapshots: %s" % err)
            pruned = []
        result = self.described(meta)
        step.exit(
            True,
            message="dumped %s: %d tables, %d rows, %d bytes"
            % (self.db, len(meta["metadata"]["row_counts"]), meta["metadata"]["rows_total"], meta["size"]),
            journal_fields={
                "to": snapshot_id,
                "snapshot": result["snapshot"]["path"],
                "database": self.db,
                "rows": meta["metadata"]["rows_total"],
                "bytes": meta["size"],
                "sha256": meta["sha256"],
                "alembic_revision": meta["metadata"].get("alembic_revision"),
                "pruned": pruned,
            },
            diff=dict(before={"snapshots": before}, after={"snapshots": self.ids()}),
            pruned=pruned,
            **dict(result, **sizes),
        )

    def described(self, meta):
        return dict(
            snapshot=self.snaps.ref(meta),
            dump_path=self.snaps.file_of(meta),
            snapshot_meta=meta,
            row_counts=meta["metadata"].get("row_counts", {}),
            alembic_revision=meta["metadata"].get("alembic_revision"),
        )

    def verified(self):
        step = Step(self.module, "database", "verify_snapshot")
        try:
            meta = self.snaps.get(self.p["snapshot_id"] or "latest")
        except SnapshotError as err:
            self.module.fail_json(msg="pg_snapshot: %s" % err)
        fields = {"snapshot": self.snaps.dir_of(meta), "to": meta["id"]}
        verification = {"checksum": False, "archive_entries": None, "test_restore": False, "row_counts_match": None}
        try:
            verification["archive_entries"] = _pg.check_snapshot(self.pg, self.snaps, meta)
            verification["checksum"] = True
        except (SnapshotError, _pg.PgError) as err:
            verification["checksum"] = not isinstance(err, SnapshotCorrupt)
            step.fail(
                "pg_snapshot: snapshot %s of %s is not usable: %s" % (meta["id"], self.db, err),
                journal_fields=fields,
                verification=verification,
            )
        result = self.described(meta)
        if self.module.check_mode:
            self.module.exit_json(changed=False, verification=verification, **result)
        try:
            # a verification killed earlier may have left its scratch database behind
            for stale in self.pg.kept_databases(self.db, "verify"):
                self.pg.drop_now(stale)
            scratch = _pg.scratch_name(self.db, "verify", _pg.utc_stamp())
            _counts, problems = self.pg.restore_scratch(
                self.snaps.file_of(meta),
                scratch,
                meta["metadata"].get("row_counts", {}),
                like=self.pg.database_info(self.db),
                jobs=self.p["jobs"],
                no_owner=self.p["no_owner"],
            )
            if not problems:
                self.pg.drop_now(scratch)
        except _pg.PgError as err:
            problems = [str(err)]
        verification["test_restore"] = verification["row_counts_match"] = not problems
        if problems:
            step.fail(
                "pg_snapshot: test restore of snapshot %s failed: %s; the live database was not touched"
                % (meta["id"], "; ".join(problems)),
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
        state=dict(type="str", choices=["snapshot", "verified"], default="snapshot"),
        snapshot_id=dict(type="str"),
        keep=dict(type="int", default=5),
        jobs=dict(type="int", default=2),
        no_owner=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=with_common(spec), supports_check_mode=True)
    if not _pg.HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib(_pg.PSYCOPG_LIBRARY), exception=str(_pg.PSYCOPG_IMPORT_ERROR))
    p = module.params
    if p["keep"] < 0:
        module.fail_json(msg="pg_snapshot: keep must be 0 (keep all) or more")
    try:
        if p["state"] == "snapshot" and p["snapshot_id"]:
            validate_id(p["snapshot_id"])
        _pg.find_bin_dir(p["bin_dir"])
    except (SnapshotError, _pg.PgError) as err:
        module.fail_json(msg="pg_snapshot: %s; nothing was dumped" % err)
    runner = PgSnapshotModule(module)
    if p["state"] == "snapshot":
        runner.snapshot()
    else:
        runner.verified()


if __name__ == "__main__":
    main()
