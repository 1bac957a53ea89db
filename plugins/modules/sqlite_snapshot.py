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
  - V(present) copies the database with SQLite's online backup API into the snapshot store
    (C(<state_dir>/snapshots/database/<id>/)); the copy is consistent even while the application
    writes. The copy must pass C(PRAGMA integrity_check); its sha256, row counts and a digest of its
    logical content are recorded.
  - V(restored) verifies the snapshot (sha256, C(integrity_check)) before touching anything, snapshots
    the live database first (the rollback of the rollback), then writes the snapshot into the live
    database through the backup API in one step under SQLite's own lock, so connections see either the
    old or the new content, never a mix. The result must pass C(integrity_check) and match the
    snapshot's content digest.
  - Idempotence. With an explicit O(name), an existing snapshot whose checksum verifies is left alone.
    Without O(name), every run of V(present) takes a new snapshot (C(changed=true)). V(restored) changes
    nothing when the live content already equals the snapshot's (same logical digest).
  - Snapshots of several files share the store; V(latest), V(previous) and O(keep) apply per O(path).
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback.common
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
      - V(present) takes a snapshot, V(restored) makes a snapshot's content live.
    type: str
    choices: [present, restored]
    default: present
  name:
    description:
      - Snapshot id to take (V(present)), or to restore (an id, V(latest) or V(previous); default V(latest)).
    type: str
  keep:
    description:
      - How many snapshots of this file to keep after taking one (including the pre-restore one). V(0) keeps all.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Snapshot the app's SQLite database while it runs
  emergency.rollback.sqlite_snapshot:
    path: /srv/blog/shared/blog.sqlite3
    name: before-release-42

- name: Put it back
  emergency.rollback.sqlite_snapshot:
    path: /srv/blog/shared/blog.sqlite3
    state: restored
    name: before-release-42
"""

RETURN = r"""
snapshot_id:
  description: The snapshot taken, found or restored.
  returned: success
  type: str
pre_restore_snapshot_id:
  description: Snapshot of the live database taken just before a restore.
  returned: when a restore ran
  type: str
row_counts:
  description: Rows per table of the snapshot (or of the live database after a restore).
  returned: success
  type: dict
content_sha256:
  description: Digest of the logical content (the SQL dump) of the snapshot.
  returned: success
  type: str
pruned:
  description: Snapshot ids deleted by retention.
  returned: when a snapshot was taken
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils import _sqlite
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._pg import DbSnapshots
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import (
    SnapshotCorrupt,
    SnapshotError,
    validate_id,
)


class SqliteSnapshots:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.path = os.path.abspath(self.p["path"])
        self.snaps = DbSnapshots(self.p["state_dir"], _sqlite.ENGINE, self.path)

    def ids(self):
        return [m["id"] for m in self.snaps.list()]

    def take(self, snapshot_id):
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
                row_counts=counts,
                content_sha256=_sqlite.content_sha256(dest),
                dump=_sqlite.FILE_NAME,
            )
        return stage.meta

    def present(self):
        step = Step(self.module, "database", "sqlite_snapshot")
        name = self.p["name"]
        if name:
            try:
                validate_id(name)
            except SnapshotError as err:
                self.module.fail_json(msg="sqlite_snapshot: %s" % err)
            if self.snaps.store.exists(name):
                try:
                    meta = self.snaps.store.verify(name)
                except SnapshotCorrupt as err:
                    step.fail("sqlite_snapshot: snapshot %s exists but is corrupt (%s); not replacing it" % (name, err))
                self.module.exit_json(changed=False, pruned=[], **self.described(meta))
        if not os.path.isfile(self.path):
            self.module.fail_json(msg="sqlite_snapshot: %s does not exist; nothing was copied" % self.path)
        snapshot_id = name or _sqlite.snapshot_id_for(self.path)
        before = self.ids()
        if self.module.check_mode:
            self.module.exit_json(
                changed=True,
                snapshot_id=snapshot_id,
                diff=dict(before={"snapshots": before}, after={"snapshots": before + [snapshot_id]}),
            )
        try:
            meta = self.take(snapshot_id)
            pruned = self.snaps.prune(self.p["keep"], protect=(snapshot_id,))
        except (SnapshotError, _sqlite.SqliteError, _sqlite.sqlite3.Error, OSError) as err:
            step.fail("sqlite_snapshot: cannot snapshot %s: %s; nothing was kept" % (self.path, err))
        result = self.described(meta)
        step.exit(
            True,
            message="copied %s (%d rows)" % (self.path, sum(result["row_counts"].values())),
            journal_fields={"to": snapshot_id, "snapshot": self.snaps.dir_of(meta), "pruned": pruned},
            diff=dict(before={"snapshots": before}, after={"snapshots": self.ids()}),
            pruned=pruned,
            **result,
        )

    def described(self, meta):
        return dict(
            snapshot_id=meta["id"],
            row_counts=meta["metadata"].get("row_counts", {}),
            content_sha256=meta["metadata"].get("content_sha256"),
        )

    def restored(self):
        step = Step(self.module, "database", "sqlite_restore")
        try:
            meta = self.snaps.get(self.p["name"] or "latest")
        except SnapshotError as err:
            self.module.fail_json(msg="sqlite_snapshot: %s; nothing was changed" % err)
        snap_file = self.snaps.file_of(meta)
        fields = {"to": meta["id"], "snapshot": self.snaps.dir_of(meta)}
        try:
            self.snaps.store.verify(meta)
            check = _sqlite.integrity(snap_file)
            if check != "ok":
                raise SnapshotError("integrity_check: %s" % check)
        except (SnapshotError, _sqlite.SqliteError) as err:
            step.fail(
                "sqlite_snapshot: refusing snapshot %s: %s; %s untouched" % (meta["id"], err, self.path),
                journal_fields=fields,
            )
        result = self.described(meta)
        live_digest = _sqlite.content_sha256(self.path) if os.path.isfile(self.path) else None
        if live_digest == meta["metadata"].get("content_sha256"):
            self.module.exit_json(changed=False, **result)
        diff = dict(
            before={"path": self.path, "content_sha256": live_digest},
            after={"path": self.path, "content_sha256": result["content_sha256"], "snapshot": meta["id"]},
        )
        if self.module.check_mode:
            self.module.exit_json(changed=True, diff=diff, **result)
        pre_id = None
        try:
            if live_digest is not None:
                pre_id = self.take(_sqlite.snapshot_id_for(self.path)).get("id")
            counts = _sqlite.restore_into(snap_file, self.path)
            check = _sqlite.integrity(self.path)
            digest = _sqlite.content_sha256(self.path)
        except (SnapshotError, _sqlite.SqliteError, _sqlite.sqlite3.Error, OSError) as err:
            step.fail(
                "sqlite_snapshot: restore of %s into %s failed: %s (pre-restore snapshot: %s)"
                % (meta["id"], self.path, err, pre_id or "none"),
                journal_fields=fields,
            )
        if check != "ok" or digest != result["content_sha256"]:
            step.fail(
                "sqlite_snapshot: %s after the restore of %s: integrity_check %s, content %s; restore the "
                "pre-restore snapshot %s"
                % (
                    self.path,
                    meta["id"],
                    check,
                    "matches" if digest == result["content_sha256"] else "differs",
                    pre_id,
                ),
                journal_fields=fields,
            )
        self.snaps.prune(self.p["keep"], protect=(meta["id"], pre_id))
        result["row_counts"] = counts
        step.exit(
            True,
            message="%s restored from %s; previous content kept as snapshot %s" % (self.path, meta["id"], pre_id),
            journal_fields=dict(fields, from_=pre_id),
            pre_restore_snapshot_id=pre_id,
            diff=diff,
            **result,
        )


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                path=dict(type="path", required=True),
                state=dict(type="str", choices=["present", "restored"], default="present"),
                name=dict(type="str"),
                keep=dict(type="int", default=5),
            )
        ),
        supports_check_mode=True,
    )
    if module.params["keep"] < 0:
        module.fail_json(msg="sqlite_snapshot: keep must be 0 (keep all) or more")
    runner = SqliteSnapshots(module)
    if module.params["state"] == "present":
        runner.present()
    runner.restored()


if __name__ == "__main__":
    main()
