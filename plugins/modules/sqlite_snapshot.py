#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sqlite_snapshot
short_description: Snapshot and restore an SQLite database with the online backup API
version_added: 0.1.0
description:
  - V(snapshot) copies the database with SQLite's online backup API into the snapshot store
    (C(<state_dir>/snapshots/database/<id>/)); the copy is consistent even while the application
    writes. The copy must pass C(PRAGMA integrity_check); its sha256, row counts and a digest of its
    logical content are recorded.
  - V(restored) verifies the snapshot (sha256, C(integrity_check)) before touching anything, snapshots
    the live database first (a safety copy, the rollback of the rollback), then writes the snapshot into
    the live database through the backup API in one step under SQLite's own lock, so connections see
    either the old or the new content, never a mix. The result must pass C(integrity_check) and match the
    snapshot's content digest.
  - Idempotence. With an explicit O(snapshot_id), an existing snapshot whose checksum verifies is left
    alone. Without it, every run of V(snapshot) takes a new snapshot (C(changed=true)). V(restored)
    changes nothing when the live content already equals the snapshot's (same logical digest).
  - Snapshots of several files share the store; V(latest), V(previous) and O(keep) apply per O(path).
    V(latest) and V(previous) count only snapshots taken with O(state=snapshot), never the safety
    copies a restore takes.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Reports the snapshot it would take, or verifies the snapshot and reports whether the restore
      would change the live content, without writing.
  diff_mode:
    support: full
    description: Shows the snapshot ids, or the content digest and row counts before and after a restore.
options:
  path:
    description:
      - The SQLite database file.
    type: path
    required: true
  state:
    description:
      - V(snapshot) takes a snapshot, V(restored) makes a snapshot's content live.
    type: str
    choices: [snapshot, restored]
    default: snapshot
  snapshot_id:
    description:
      - With O(state=snapshot), the id to give the new snapshot (letters, digits, C(._@+-)); default
        C(sqlite-<file name>-<UTC timestamp>).
    type: str
  snapshot:
    description:
      - With O(state=restored), which snapshot to restore, V(latest), V(previous) or a snapshot id.
    type: str
    default: latest
  keep:
    description:
      - How many snapshots of this file to keep after taking one (including the safety copy a restore takes).
        V(0) keeps all.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Snapshot the app's SQLite database while it runs
  emergency.rollback.sqlite_snapshot:
    path: /srv/blog/shared/blog.sqlite3
    snapshot_id: before-release-42

- name: Put it back
  emergency.rollback.sqlite_snapshot:
    path: /srv/blog/shared/blog.sqlite3
    state: restored
    snapshot: before-release-42
"""

RETURN = r"""
snapshot:
  description:
    - The snapshot this run took, C(null) when it took none (or in check mode).
    - With V(snapshot), the snapshot taken, or the existing one named by O(snapshot_id).
    - With V(restored), the safety copy of the live database taken just before the restore.
  returned: always
  type: dict
  sample: &snapshot_sample
    id: before-release-42
    path: /var/lib/emergency-rollback/snapshots/database/before-release-42
  contains: &snapshot_ref
    id:
      description: Snapshot id.
      type: str
      sample: before-release-42
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/database/before-release-42
restored_from:
  description: With V(restored), the snapshot put back (or that would be); C(null) otherwise.
  returned: always
  type: dict
  sample: *snapshot_sample
  contains: *snapshot_ref
row_counts:
  description: Rows per table of the snapshot (or of the live database after a restore).
  returned: success, except for a snapshot only planned in check mode
  type: dict
  sample: {"posts": 100, "users": 12}
content_sha256:
  description: Digest of the logical content (the SQL dump) of the snapshot.
  returned: success, except for a snapshot only planned in check mode
  type: str
  sample: 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b
pruned:
  description: Snapshot ids deleted by retention.
  returned: success
  type: list
  elements: str
  sample: [sqlite-blog.sqlite3-20261101T120000Z]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils import _sqlite
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._pg import DbSnapshots
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import (
    SnapshotCorrupt,
    SnapshotError,
    SnapshotNotFound,
    snapshot_ref,
    validate_id,
)

# Snapshots a restore takes of the live database: never a candidate for latest or previous.
SAFETY_KIND = "pre-restore"


class SqliteSnapshots:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.path = os.path.abspath(self.p["path"])
        self.snaps = DbSnapshots(self.p["state_dir"], _sqlite.ENGINE, self.path)

    def ids(self):
        return [m["id"] for m in self.snaps.list()]

    def ref(self, meta):
        return snapshot_ref(meta["id"], self.snaps.dir_of(meta))

    def take(self, snapshot_id, kind="snapshot"):
        """Backup into a staged snapshot; integrity-checked before it is listed."""
        with self.snaps.store.staging(snapshot_id, source="sqlite:%s" % self.path) as stage:
            dest = stage.file(_sqlite.FILE_NAME)
            counts = _sqlite.backup(self.path, dest)
            check = _sqlite.integrity(dest)
            if check != "ok":
                raise SnapshotError("the copy of %s fails integrity_check: %s" % (self.path, check))
            stage.metadata.update(
                engine=_sqlite.ENGINE,
                database=self.path,
                kind=kind,
                row_counts=counts,
                content_sha256=_sqlite.content_sha256(dest),
                dump=_sqlite.FILE_NAME,
            )
        return stage.meta

    def resolve(self, ref):
        if ref not in ("latest", "previous"):
            return self.snaps.get(ref)
        taken = [m for m in self.snaps.list() if m["metadata"].get("kind", "snapshot") != SAFETY_KIND]
        index = -1 if ref == "latest" else -2
        if len(taken) < -index:
            raise SnapshotNotFound(
                "no %s snapshot of %s taken with state=snapshot (%d taken)" % (ref, self.path, len(taken))
            )
        return taken[index]

    def described(self, meta, **result):
        return dict(
            result,
            row_counts=meta["metadata"].get("row_counts", {}),
            content_sha256=meta["metadata"].get("content_sha256"),
        )

    def snapshot(self):
        step = Step(self.module, "database", "sqlite_snapshot")
        name = self.p["snapshot_id"]
        if name and self.snaps.store.exists(name):
            try:
                meta = self.snaps.store.verify(name)
            except SnapshotCorrupt as err:
                step.fail("sqlite_snapshot: snapshot %s exists but is corrupt (%s); not replacing it" % (name, err))
            self.module.exit_json(
                changed=False, **self.described(meta, snapshot=self.ref(meta), restored_from=None, pruned=[])
            )
        elif not os.path.isfile(self.path):
            self.module.fail_json(msg="sqlite_snapshot: %s does not exist; nothing was copied" % self.path)
        elif self.module.check_mode:
            before = self.ids()
            self.module.exit_json(
                changed=True,
                snapshot=None,
                restored_from=None,
                pruned=[],
                diff=dict(
                    before={"snapshots": before},
                    after={"snapshots": before + [name or _sqlite.snapshot_id_for(self.path)]},
                ),
            )
        else:
            self.take_and_prune(step, name or _sqlite.snapshot_id_for(self.path))

    def take_and_prune(self, step, snapshot_id):
        before = self.ids()
        try:
            meta = self.take(snapshot_id)
            pruned = self.snaps.prune(self.p["keep"], protect=(snapshot_id,))
        except (SnapshotError, _sqlite.SqliteError, _sqlite.sqlite3.Error, OSError) as err:
            step.fail("sqlite_snapshot: cannot snapshot %s: %s; nothing was kept" % (self.path, err))
        result = self.described(meta, snapshot=self.ref(meta), restored_from=None, pruned=pruned)
        step.exit(
            True,
            message="copied %s (%d rows)" % (self.path, sum(result["row_counts"].values())),
            journal_fields={"to": snapshot_id, "snapshot": self.snaps.dir_of(meta), "pruned": pruned},
            diff=dict(before={"snapshots": before}, after={"snapshots": self.ids()}),
            **result,
        )

    def restored(self):
        step = Step(self.module, "database", "sqlite_restore")
        try:
            meta = self.resolve(self.p["snapshot"])
        except SnapshotError as err:
            self.module.fail_json(msg="sqlite_snapshot: %s; nothing was changed" % err)
        fields = {"to": meta["id"], "snapshot": self.snaps.dir_of(meta)}
        try:
            self.snaps.store.verify(meta)
            check = _sqlite.integrity(self.snaps.file_of(meta))
            if check != "ok":
                raise SnapshotError("integrity_check: %s" % check)
        except (SnapshotError, _sqlite.SqliteError) as err:
            step.fail(
                "sqlite_snapshot: refusing snapshot %s: %s; %s untouched" % (meta["id"], err, self.path),
                journal_fields=fields,
            )
        result = self.described(meta, snapshot=None, restored_from=self.ref(meta), pruned=[])
        live_digest = _sqlite.content_sha256(self.path) if os.path.isfile(self.path) else None
        diff = dict(
            before={"path": self.path, "content_sha256": live_digest},
            after={"path": self.path, "content_sha256": result["content_sha256"], "snapshot": meta["id"]},
        )
        if live_digest == meta["metadata"].get("content_sha256"):
            self.module.exit_json(changed=False, **result)
        elif self.module.check_mode:
            self.module.exit_json(changed=True, diff=diff, **result)
        else:
            self.restore_live(step, meta, live_digest is not None, fields, diff, result)

    def restore_live(self, step, meta, live_exists, fields, diff, result):
        """Safety copy of the live file, then the snapshot into it, then check what is live."""
        pre = None
        try:
            if live_exists:
                pre = self.take(_sqlite.snapshot_id_for(self.path), kind=SAFETY_KIND)
                result["snapshot"] = self.ref(pre)
            counts = _sqlite.restore_into(self.snaps.file_of(meta), self.path)
            check = _sqlite.integrity(self.path)
            digest = _sqlite.content_sha256(self.path)
        except (SnapshotError, _sqlite.SqliteError, _sqlite.sqlite3.Error, OSError) as err:
            step.fail(
                "sqlite_snapshot: restore of %s into %s failed: %s (pre-restore snapshot: %s)"
                % (meta["id"], self.path, err, pre["id"] if pre else "none"),
                journal_fields=fields,
                **result,
            )
        pre_id = pre["id"] if pre else None
        meta_digest = result["content_sha256"]
        if check != "ok" or digest != meta_digest:
            step.fail(
                "sqlite_snapshot: %s after the restore of %s: integrity_check %s, content %s; restore the "
                "pre-restore snapshot %s"
                % (self.path, meta["id"], check, "matches" if digest == meta_digest else "differs", pre_id),
                journal_fields=fields,
                **result,
            )
        result["pruned"] = self.snaps.prune(self.p["keep"], protect=(meta["id"], pre_id))
        result["row_counts"] = counts
        step.exit(
            True,
            message="%s restored from %s; previous content kept as snapshot %s" % (self.path, meta["id"], pre_id),
            journal_fields=dict(fields, from_=pre_id),
            diff=diff,
            **result,
        )


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                path=dict(type="path", required=True),
                state=dict(type="str", choices=["snapshot", "restored"], default="snapshot"),
                snapshot_id=dict(type="str"),
                snapshot=dict(type="str", default="latest"),
                keep=dict(type="int", default=5),
            )
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["keep"] < 0:
        module.fail_json(msg="sqlite_snapshot: keep must be 0 (keep all) or more; nothing was changed")
    if p["snapshot_id"]:
        try:
            validate_id(p["snapshot_id"])
        except SnapshotError as err:
            module.fail_json(msg="sqlite_snapshot: %s; nothing was changed" % err)
    runner = SqliteSnapshots(module)
    if p["state"] == "snapshot":
        runner.snapshot()
    else:
        runner.restored()


if __name__ == "__main__":
    main()
