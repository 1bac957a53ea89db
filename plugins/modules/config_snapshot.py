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
  - V(restored) puts back the files of a snapshot (V(latest), V(previous) or an id), verified against
    their checksums first, with their recorded owner and mode. It snapshots the current files first
    (a C(pre-restore) safety snapshot, returned as RV(snapshot)), so a restore can itself be undone by
    naming that snapshot. V(latest) and V(previous) count only snapshots taken with O(state=snapshot).
  - V(set) sets individual keys of one env file (feature flags such as C(ENABLE_NEW_PAYMENT_FLOW=false)),
    keeping comments, order and the other lines, after a C(pre-set) snapshot of the file.
  - With C(--diff) the change is shown with the values of secret-looking keys (PASSWORD, SECRET,
    TOKEN, KEY, ...) and URL passwords masked. File contents are never returned otherwise.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
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
      - V(snapshot) copies the files into the store, V(restored) puts a snapshot back, V(set) sets env keys.
    type: str
    choices: [snapshot, restored, set]
    default: snapshot
  paths:
    description:
      - Files to snapshot; with V(restored), the subset of the snapshot's files to restore (default all);
        with V(set), the one env file to change.
      - Required with O(state=snapshot) and O(state=set).
    type: list
    elements: path
  snapshot:
    description:
      - With O(state=restored), which snapshot to restore, V(latest), V(previous) or a snapshot id.
    type: str
    default: latest
  snapshot_id:
    description:
      - With O(state=snapshot), the id to give the new snapshot (letters, digits, C(._@+-)); default a UTC timestamp.
    type: str
  env:
    description:
      - With O(state=set), the keys to set and their values (required). Booleans are written C(true) / C(false).
    type: dict
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
    state: restored
    snapshot: "{{ config_before.snapshot.id }}"
"""

RETURN = r"""
snapshot:
  description:
    - The snapshot this run took, C(null) when it took none (or in check mode).
    - With V(snapshot), the snapshot taken, or the latest one that already matches the files.
    - With V(restored) and V(set), the safety snapshot of the files as they were before this run changed them.
  returned: always
  type: dict
  sample: &snapshot_sample
    id: 20261123T184501.123456Z-1a2b3c
    path: /var/lib/emergency-rollback/snapshots/config/20261123T184501.123456Z-1a2b3c
  contains: &snapshot_ref
    id:
      description: Snapshot id, the value O(snapshot) takes to restore it.
      type: str
      sample: 20261123T184501.123456Z-1a2b3c
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/config/20261123T184501.123456Z-1a2b3c
restored_from:
  description: With V(restored), the snapshot put back (or that would be); C(null) otherwise.
  returned: always
  type: dict
  sample: *snapshot_sample
  contains: *snapshot_ref
files:
  description: Files handled, with whether each changed.
  returned: success
  type: list
  elements: dict
  sample:
    - path: /srv/shop/shared/.env
      changed: true
      sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  contains:
    path:
      description: The file.
      type: str
      sample: /srv/shop/shared/.env
    changed:
      description: Whether it was (or would be) written or copied.
      type: bool
      sample: true
    sha256:
      description: Checksum of the file after the task.
      type: str
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
changed_keys:
  description: With V(set), the keys whose value changed (values are not returned).
  returned: when O(state=set)
  type: list
  elements: str
  sample: [ENABLE_NEW_PAYMENT_FLOW]
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

    def matching(self, paths, states):
        """The latest snapshot of exactly these files when it still matches them, else None."""
        for meta in reversed(self.store.list()):
            if sorted(meta.get("metadata", {}).get("paths", [])) != sorted(paths):
                continue
            recorded = {f["name"]: f for f in meta["files"]}
            if all(same(recorded.get(store_name(p), {}), states[p]) for p in paths):
                return meta
            return None
        return None

    def snapshot(self):
        paths = [os.path.abspath(p) for p in self.p["paths"]]
        if not paths:
            self.fail("state=snapshot needs at least one file in paths; no snapshot was taken")
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            self.fail("config file %s is missing or not a regular file; no snapshot was taken" % ", ".join(missing))
        wanted_id = self.p["snapshot_id"]
        if wanted_id:
            try:
                validate_id(wanted_id)
            except SnapshotError as err:
                self.fail("%s; no snapshot was taken" % err)
        states = {p: file_state(p) for p in paths}
        files = [{"path": p, "changed": True, "sha256": states[p]["sha256"]} for p in paths]
        meta = self.matching(paths, states)
        if meta is not None and (not wanted_id or wanted_id == meta["id"]):
            for item in files:
                item["changed"] = False
            self.module.exit_json(changed=False, snapshot=self.store.ref(meta), restored_from=None, files=files)
        elif wanted_id and self.store.exists(wanted_id):
            self.fail("snapshot %s already exists with other content; nothing was taken" % wanted_id)
        elif self.module.check_mode:
            self.module.exit_json(changed=True, snapshot=None, restored_from=None, files=files)
        else:
            try:
                stage = self.take(paths, "snapshot", snapshot_id=wanted_id)
            except (OSError, SnapshotError) as err:
                self.step.fail("cannot snapshot %s: %s" % (", ".join(paths), err))
            self.step.exit(
                True,
                message="snapshot of %d file(s)" % len(paths),
                journal_fields={"to": stage.meta["id"], "snapshot": stage.path, "files": len(paths)},
                snapshot=self.store.ref(stage.meta),
                restored_from=None,
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

    def restored(self):
        meta = self.resolve(self.p["snapshot"])
        try:
            self.store.verify(meta)
        except (OSError, SnapshotError) as err:
            self.fail("snapshot %s failed verification: %s; nothing was restored" % (meta["id"], err))
        recorded = {f["name"]: f for f in meta["files"]}
        paths = [os.path.abspath(p) for p in self.p["paths"] or []] or list(meta.get("metadata", {}).get("paths", []))
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
        result = {"snapshot": None, "restored_from": self.store.ref(meta), "files": files}
        if not todo:
            self.module.exit_json(changed=False, **result)
        elif self.module.check_mode:
            self.module.exit_json(changed=True, diff=diffs, **result)
        else:
            self.apply_restore(meta, todo, diffs, result)

    def apply_restore(self, meta, todo, diffs, result):
        try:
            safety = self.take(todo, "pre-restore", {"restoring": meta["id"]})
            result["snapshot"] = self.store.ref(safety.meta)
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
            self.fail("state=set needs env, the keys to set; nothing was changed")
        bad = [k for k in self.p["env"] if not KEY_RE.match(str(k))]
        if bad:
            self.fail("invalid env key(s) %s; nothing was changed" % ", ".join(map(str, bad)))
        path = os.path.abspath(self.p["paths"][0])
        if not os.path.isfile(path):
            self.fail("config file %s is missing or not a regular file; nothing was changed" % path)
        before = read_text(path)
        after, keys = set_keys(before, self.p["env"])
        result = {
            "changed_keys": keys,
            "snapshot": None,
            "restored_from": None,
            "files": [{"path": path, "changed": bool(keys), "sha256": None}],
        }
        diff = masked_diff(path, before, after)
        if not keys:
            result["files"][0]["sha256"] = sha256_file(path)
            self.module.exit_json(changed=False, **result)
        elif self.module.check_mode:
            self.module.exit_json(changed=True, diff=diff, **result)
        else:
            self.apply_set(path, after, keys, diff, result)

    def apply_set(self, path, content, keys, diff, result):
        try:
            safety = self.take([path], "pre-set", {"keys": keys})
            _atomic.write_file(path, content.encode("utf-8"), module=self.module)
        except (OSError, SnapshotError) as err:
            self.step.fail("cannot set %s in %s: %s; the file is unchanged" % (", ".join(keys), path, err))
        result["snapshot"] = self.store.ref(safety.meta)
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
                state=dict(type="str", choices=["snapshot", "restored", "set"], default="snapshot"),
                paths=dict(type="list", elements="path"),
                snapshot=dict(type="str", default="latest"),
                snapshot_id=dict(type="str"),
                env=dict(type="dict"),
                component=dict(type="str", default="config"),
            )
        ),
        required_if=[("state", "snapshot", ("paths",)), ("state", "set", ("paths", "env"))],
        supports_check_mode=True,
    )
    handler = ConfigSnapshot(module)
    getattr(handler, module.params["state"])()


if __name__ == "__main__":
    main()
