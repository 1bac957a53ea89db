#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: config_snapshot
short_description: Snapshot and restore env files, compose files or any config files; set env keys
version_added: 0.1.0
description:
  - V(snapshot) keeps timestamped copies of O(paths) (content, owner, mode, sha256) in the snapshot
    store C(<state_dir>/snapshots/<component>/). When the latest snapshot of the same files already
    matches them, nothing is taken again.
  - V(restore) puts back the files of a snapshot (V(latest), V(previous) or an id), verified against
    their checksums first, with their recorded owner and mode. It snapshots the current files first
    (a C(pre-restore) snapshot), so a restore can itself be undone by naming that snapshot.
    V(latest) and V(previous) count only snapshots taken with O(state=snapshot).
  - V(set) sets individual keys of one env file (feature flags such as C(ENABLE_NEW_PAYMENT_FLOW=false)),
    keeping comments, order and the other lines, after a C(pre-set) snapshot of the file.
  - With C(--diff) the change is shown with the values of secret-looking keys (PASSWORD, SECRET,
    TOKEN, KEY, ...) and URL passwords masked. File contents are never returned otherwise.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback.common
attributes:
  check_mode:
    support: full
    description: Reports what would be snapshotted, restored or set, with the diff, changing nothing.
  diff_mode:
    support: full
    description: Shows each file before and after, secret values masked.
options:
  state:
    description:
      - V(snapshot) copies the files into the store, V(restore) puts a snapshot back, V(set) sets env keys.
    type: str
    choices: [snapshot, restore, set]
    default: snapshot
  paths:
    description:
      - Files to snapshot; with V(restore), the subset of the snapshot's files to restore (default all);
        with V(set), the one env file to change.
    type: list
    elements: path
    default: []
  snapshot:
    description:
      - With O(state=restore), which snapshot to restore, V(latest), V(previous) or a snapshot id.
    type: str
    default: latest
  snapshot_id:
    description:
      - With O(state=snapshot), the id to give the new snapshot (letters, digits, C(._@+-)); default a UTC timestamp.
    type: str
  env:
    description:
      - With O(state=set), the keys to set and their values. Booleans are written C(true) / C(false).
    type: dict
    default: {}
  component:
    description:
      - Snapshot store component the snapshots belong to.
    type: str
    default: config
"""

EXAMPLES = r"""
- name: Keep the env and compose files before the rollback
  emergency.rollback.config_snapshot:
    paths:
      - /srv/shop/shared/.env
      - /srv/shop/docker-compose.yml
  register: config_before

- name: Turn the new payment flow off
  emergency.rollback.config_snapshot:
    state: set
    paths: [/srv/shop/shared/.env]
    env:
      ENABLE_NEW_PAYMENT_FLOW: false

- name: Put the files of that snapshot back
  emergency.rollback.config_snapshot:
    state: restore
    snapshot: "{{ config_before.snapshot }}"
"""

RETURN = r"""
snapshot:
  description: Id of the snapshot taken (V(snapshot)), restored (V(restore)), or matching the files already.
  returned: success
  type: str
  sample: 20261123T184501.123456Z-1a2b3c
safety_snapshot:
  description: Id of the snapshot of the current files taken before a V(restore) or V(set) changed them.
  returned: when files were changed
  type: str
files:
  description: Files handled, with whether each changed.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    changed:
      description: Whether it was (or would be) written or copied.
      type: bool
    sha256:
      description: Checksum of the file after the task.
      type: str
changed_keys:
  description: With V(set), the keys whose value changed (values are not returned).
  returned: when O(state=set)
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._envfile import KEY_RE, mask_text, set_keys
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import (
    SnapshotError,
    SnapshotStore,
    sha256_file,
    validate_id,
)

USER_KINDS = ("snapshot",)


def store_name(path):
    return os.path.abspath(path).lstrip("/")


def file_state(path):
    if not os.path.isfile(path):
        return None
    st = os.stat(path)
    return {"sha256": sha256_file(path), "mode": "%04o" % (st.st_mode & 0o7777), "uid": st.st_uid, "gid": st.st_gid}


def same(item, state):
    return state is not None and all(item.get(k) == state[k] for k in ("sha256", "mode", "uid", "gid"))


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def masked_diff(path, before, after):
    return {"before_header": path, "after_header": path, "before": mask_text(before), "after": mask_text(after)}


class ConfigSnapshot:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        try:
            self.store = SnapshotStore.in_state_dir(self.p["state_dir"], self.p["component"])
        except SnapshotError as err:
            module.fail_json(msg="config_snapshot: %s" % err)
        self.step = Step(module, self.p["component"], self.p["state"])

    def fail(self, msg):
        self.module.fail_json(msg="config_snapshot: %s" % msg)

    def take(self, paths, kind, extra=None, snapshot_id=None):
        meta = dict(extra or {}, kind=kind, paths=paths)
        with self.store.staging(snapshot_id, source=", ".join(paths), metadata=meta) as stage:
            for path in paths:
                if os.path.isfile(path):
                    stage.add_file(path, store_name(path))
        return stage

    def snapshot(self):
        paths = [os.path.abspath(p) for p in self.p["paths"]]
        if not paths:
            self.fail("state=snapshot needs at least one file in paths")
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            self.fail("config file %s is missing or not a regular file; no snapshot was taken" % ", ".join(missing))
        if self.p["snapshot_id"]:
            try:
                validate_id(self.p["snapshot_id"])
            except SnapshotError as err:
                self.fail(str(err))
        states = {p: file_state(p) for p in paths}
        files = [{"path": p, "changed": True, "sha256": states[p]["sha256"]} for p in paths]
        for meta in reversed(self.store.list()):
            if sorted(meta.get("metadata", {}).get("paths", [])) != sorted(paths):
                continue
            recorded = {f["name"]: f for f in meta["files"]}
            if all(same(recorded.get(store_name(p), {}), states[p]) for p in paths):
                if not self.p["snapshot_id"] or self.p["snapshot_id"] == meta["id"]:
                    for item in files:
                        item["changed"] = False
                    self.module.exit_json(changed=False, snapshot=meta["id"], files=files)
            break
        if self.p["snapshot_id"] and self.store.exists(self.p["snapshot_id"]):
            self.fail("snapshot %s already exists with other content; nothing was taken" % self.p["snapshot_id"])
        if self.module.check_mode:
            self.module.exit_json(changed=True, snapshot=self.p["snapshot_id"], files=files)
        try:
            stage = self.take(paths, "snapshot", snapshot_id=self.p["snapshot_id"])
        except (OSError, SnapshotError) as err:
            self.step.fail("cannot snapshot %s: %s" % (", ".join(paths), err))
        self.step.exit(
            True,
            message="snapshot of %d file(s)" % len(paths),
            journal_fields={"to": stage.meta["id"], "snapshot": stage.path, "files": len(paths)},
            snapshot=stage.meta["id"],
            files=files,
        )

    def resolve(self, ref):
        snapshots = [m for m in self.store.list() if m.get("metadata", {}).get("kind", "snapshot") in USER_KINDS]
        if ref in ("latest", "previous"):
            index = -1 if ref == "latest" else -2
            if len(snapshots) < -index:
                self.fail(
                    "no %s %s snapshot in %s (%d taken with state=snapshot); nothing was restored"
                    % (ref, self.p["component"], self.store.dir, len(snapshots))
                )
            return snapshots[index]
        try:
            return self.store.get(ref)
        except SnapshotError as err:
            self.fail("%s; nothing was restored" % err)

    def restore(self):
        meta = self.resolve(self.p["snapshot"])
        try:
            self.store.verify(meta)
        except (OSError, SnapshotError) as err:
            self.fail("snapshot %s failed verification: %s; nothing was restored" % (meta["id"], err))
        recorded = {f["name"]: f for f in meta["files"]}
        paths = [os.path.abspath(p) for p in self.p["paths"]] or list(meta.get("metadata", {}).get("paths", []))
        unknown = [p for p in paths if store_name(p) not in recorded]
        if unknown:
            self.fail("snapshot %s has no copy of %s; nothing was restored" % (meta["id"], ", ".join(unknown)))
        missing_dirs = [p for p in paths if not os.path.isdir(os.path.dirname(p))]
        if missing_dirs:
            self.fail("directory of %s is missing; nothing was restored" % ", ".join(missing_dirs))
        files, diffs, todo = [], [], []
        for path in paths:
            item = recorded[store_name(path)]
            change = not same(item, file_state(path))
            files.append({"path": path, "changed": change, "sha256": item["sha256"]})
            if change:
                todo.append(path)
                with open(self.store.file_path(meta, store_name(path)), "rb") as handle:
                    after = handle.read().decode("utf-8", errors="replace")
                diffs.append(masked_diff(path, read_text(path), after))
        result = {"snapshot": meta["id"], "files": files}
        if not todo:
            self.module.exit_json(changed=False, **result)
        if self.module.check_mode:
            self.module.exit_json(changed=True, diff=diffs, **result)
        try:
            safety = self.take(todo, "pre-restore", {"restoring": meta["id"]})
            result["safety_snapshot"] = safety.meta["id"]
            for path in todo:
                self.store.restore_file(meta, store_name(path), path)
        except (OSError, SnapshotError) as err:
            self.step.fail(
                "restoring snapshot %s failed: %s; files restored before the error: see the journal"
                % (meta["id"], err),
                journal_fields={"to": meta["id"]},
                **result,
            )
        self.step.exit(
            True,
            message="restored %d file(s) from %s" % (len(todo), meta["id"]),
            journal_fields={"to": meta["id"], "from_": safety.meta["id"], "snapshot": safety.path, "files": len(todo)},
            diff=diffs,
            **result,
        )

    def set(self):
        if len(self.p["paths"]) != 1:
            self.fail("state=set changes exactly one env file; paths has %d" % len(self.p["paths"]))
        if not self.p["env"]:
            self.fail("state=set needs env, the keys to set")
        bad = [k for k in self.p["env"] if not KEY_RE.match(str(k))]
        if bad:
            self.fail("invalid env key(s) %s; nothing was changed" % ", ".join(map(str, bad)))
        path = os.path.abspath(self.p["paths"][0])
        if not os.path.isfile(path):
            self.fail("config file %s is missing or not a regular file; nothing was changed" % path)
        before = read_text(path)
        after, keys = set_keys(before, self.p["env"])
        result = {"changed_keys": keys, "files": [{"path": path, "changed": bool(keys), "sha256": None}]}
        if not keys:
            result["files"][0]["sha256"] = sha256_file(path)
            self.module.exit_json(changed=False, **result)
        diff = masked_diff(path, before, after)
        if self.module.check_mode:
            self.module.exit_json(changed=True, diff=diff, **result)
        try:
            safety = self.take([path], "pre-set", {"keys": keys})
            _atomic.write_file(path, after.encode("utf-8"), module=self.module)
        except (OSError, SnapshotError) as err:
            self.step.fail("cannot set %s in %s: %s; the file is unchanged" % (", ".join(keys), path, err))
        result["safety_snapshot"] = safety.meta["id"]
        result["files"][0]["sha256"] = sha256_file(path)
        self.step.exit(
            True,
            message="set %s in %s" % (", ".join(keys), path),
            journal_fields={"from_": safety.meta["id"], "to": path, "snapshot": safety.path, "keys": keys},
            diff=diff,
            **result,
        )


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                state=dict(type="str", choices=["snapshot", "restore", "set"], default="snapshot"),
                paths=dict(type="list", elements="path", default=[]),
                snapshot=dict(type="str", default="latest"),
                snapshot_id=dict(type="str"),
                env=dict(type="dict", default={}),
                component=dict(type="str", default="config"),
            )
        ),
        supports_check_mode=True,
    )
    handler = ConfigSnapshot(module)
    getattr(handler, module.params["state"])()


if __name__ == "__main__":
    main()
