#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release
short_description: Make a release live again (ansistrano layout) or restore a deployment backup directory
version_added: 0.1.0
description:
  - With O(root), switches the C(current) symlink of an ansistrano / Capistrano / Deployer layout
    (C(<root>/releases/<id>), C(<root>/current)) to the release O(to) names, in one atomic rename.
  - O(to) is resolved once, to a concrete release id that is returned. V(previous) is the newest
    release deployed before the newest deploy that is not marked bad; V(-N) is N deploys back;
    anything else is a release id. The live release is read from the symlink, never from mtime or
    name order.
  - A release is any directory in C(<root>/releases/) (or a symlink to a directory inside the root),
    whatever its name, spaces and non-ASCII letters included; ids are returned exactly as on disk.
  - Deploy history is kept in C(<root>/.rollback/history.json). Without it, the releases up to the
    live one are the history, in release order, natural sort order when every id starts with a digit
    or V(v) and a digit (timestamps, dates, versions), otherwise the directories' modification time.
    Counting back from the newest deploy, not from the live release, makes a second run a no-op.
  - Paths are compared after resolving symlinks, so an application root reached through a symlink
    with an absolute C(current) (as Capistrano writes it) is understood; the link keeps its form.
  - The release it moves away from is marked bad (who, when, why) in C(<root>/.rollback/bad.json)
    instead of being deleted; a release marked bad is refused as a target unless O(force=true).
  - With O(live_path) and O(backup_path), restores a deployment backup directory into the live
    path instead. The backup is copied next to the live path and the two are exchanged with one
    C(renameat2(RENAME_EXCHANGE)); the replaced directory is moved into the snapshot store
    (component C(app)), never copied over.
  - Already live (or the live directory already equals the backup) means no change.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback.common
attributes:
  check_mode:
    support: full
    description: Resolves the target and reports the switch it would make, changing nothing.
  diff_mode:
    support: full
    description: Shows the C(current) link target (or the live directory digest) before and after.
options:
  root:
    description:
      - Application root holding C(releases/) and the C(current) symlink.
      - Mutually exclusive with O(live_path).
    type: path
  to:
    description:
      - Which release to make live. V(previous), a release id, or V(-N) (N deploys back).
    type: str
    default: previous
  force:
    description:
      - Switch to a release marked bad, or repair a dangling C(current) link with an explicit id.
    type: bool
    default: false
  mark_bad:
    description:
      - Mark the release it moves away from as bad.
    type: bool
    default: true
  reason:
    description:
      - Why the release moved away from is bad; stored in its bad mark.
    type: str
    default: rolled back
  by:
    description:
      - Who marks the release bad (a person or a team). Defaults to the remote user; the O(run_id) is kept
        in the mark as well.
    type: str
  link_style:
    description:
      - Write the new link target V(relative) to the link, V(absolute), or V(auto) (as the link was).
    type: str
    choices: [auto, relative, absolute]
    default: auto
  keep_releases:
    description:
      - Delete the oldest releases beyond this many. Never deletes the live release, the newest
        good one before it, or a release marked bad less than O(bad_retention_days) ago.
      - V(0) keeps everything.
    type: int
    default: 0
  bad_retention_days:
    description:
      - Days a release marked bad is kept from pruning, for debugging.
    type: int
    default: 7
  live_path:
    description:
      - Live directory to restore O(backup_path) into (directory strategy).
    type: path
  backup_path:
    description:
      - Deployment backup directory (for example C(/var/backups/deployments/1.4.2)) to restore.
    type: path
notes:
  - Users switching from ansistrano or Capistrano keep their layout; nothing in a release directory is
    written to. This module only adds C(<root>/.rollback/).
seealso:
  - module: emergency.rollback.release_info
"""

EXAMPLES = r"""
- name: Roll back to the previous good release
  emergency.rollback.release:
    root: /srv/shop
    to: previous
    reason: "checkout 500s after 2026-11-23 deploy"
  register: rollback

- name: Say which release is live now
  ansible.builtin.debug:
    msg: "{{ rollback.from }} -> {{ rollback.to }}"

- name: Go two deploys back, keeping at most five releases
  emergency.rollback.release:
    root: /srv/shop
    to: "-2"
    keep_releases: 5

- name: Restore a deployment backup directory into the live path
  emergency.rollback.release:
    live_path: /var/www/shop
    backup_path: /var/backups/deployments/1.4.2
"""

RETURN = r"""
from:
  description: Release live before the task (symlink strategy).
  returned: success
  type: str
  sample: "20261123181500"
to:
  description: The concrete release the target resolved to and that is live afterwards.
  returned: success
  type: str
  sample: "20261120093000"
current_target:
  description: Link target of C(current) afterwards, as written.
  returned: success
  type: str
  sample: releases/20261120093000
marked_bad:
  description: Release marked bad by this task, if any.
  returned: success
  type: str
pruned:
  description: Release ids deleted (or that would be deleted in check mode) by O(keep_releases).
  returned: success
  type: list
  elements: str
snapshot:
  description: Snapshot id holding the replaced live directory (directory strategy).
  returned: when a directory was restored
  type: str
snapshot_path:
  description:
    - Path of the replaced live directory inside the snapshot store.
    - A later restore can use it as O(backup_path).
  returned: when a directory was restored
  type: str
"""

import getpass
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._release import (
    RELATIVE_RE,
    Layout,
    ReleaseError,
    stage_copy,
    tree_digest,
    utc_iso,
)
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotError, SnapshotStore


def _who(params):
    if params["by"]:
        return params["by"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def run_symlink(module, step):
    p = module.params
    layout = Layout(p["root"])
    explicit = p["to"] not in ("", "previous") and not RELATIVE_RE.match(p["to"])
    try:
        layout.check()
        try:
            live, current_target = layout.live()
        except ReleaseError as err:
            if not (p["force"] and explicit):
                raise ReleaseError("%s (an explicit release id with force=true repairs it)" % err) from err
            live, current_target = None, _atomic.read_link(layout.current)
            module.warn("repairing: %s" % err)
        ids = layout.release_ids()
        bad = layout.bad_marks()
        history = layout.history()
        deploys = layout.deploys(ids, live, history)
        target = layout.resolve(p["to"], live, ids, bad, deploys)
    except (ReleaseError, OSError) as err:
        module.fail_json(msg="release: cannot roll back %s: %s; nothing was changed" % (p["root"], err))

    result = {"from": live, "to": target, "resolved_from": p["to"], "marked_bad": None, "pruned": []}
    switch = target != live
    if switch and target in bad and not p["force"]:
        mark = bad[target]
        module.fail_json(
            msg="release: refusing %s: it is marked bad (by %s at %s: %s); use force=true to switch anyway; "
            "nothing was changed" % (target, mark.get("by"), mark.get("at"), mark.get("reason")),
            **result,
        )
    new_target = layout.link_target(target, p["link_style"], current_target) if switch else current_target
    now = time.time()
    bad_after = dict(bad)
    mark = None
    if switch and live and p["mark_bad"] and live not in bad:
        mark = {
            "by": _who(p),
            "at": utc_iso(now),
            "at_ts": now,
            "reason": p["reason"],
            "run_id": p["run_id"],
            "switched_to": target,
        }
        bad_after[live] = mark
        result["marked_bad"] = live
    previous_good = next(
        (r for r in reversed(deploys) if r != target and r in ids and r not in bad_after and r != live),
        None,
    )
    pruned = layout.plan_prune(
        p["keep_releases"], target, previous_good, bad_after, p["bad_retention_days"] * 86400, now
    )
    result["pruned"] = pruned
    result["current_target"] = new_target
    changed = switch or bool(pruned)
    diff = {
        "before": "current -> %s\n" % current_target,
        "after": "current -> %s\n" % new_target,
        "before_header": layout.current,
        "after_header": layout.current,
    }
    if pruned:
        diff["before"] += "".join("release %s\n" % r for r in pruned)
    if not changed:
        module.exit_json(changed=False, **result)
    if module.check_mode:
        module.exit_json(changed=True, diff=diff, **result)

    try:
        if switch:
            if mark:
                layout.mark_bad(live, mark, module=module)
            _atomic.switch_symlink(layout.current, new_target)
            kind = layout.switch_kind(target, deploys, ids)
            layout.record(
                [{"id": target, "kind": kind, "at": utc_iso(now), "by": _who(p), "run_id": p["run_id"], "from": live}],
                module=module,
                materialize=deploys,
            )
        for rid in pruned:
            layout.delete_release(rid)
    except (OSError, ReleaseError, _atomic.AtomicError) as err:
        step.fail(
            "release: switching %s from %s to %s failed: %s; current points to %s"
            % (layout.current, live, target, err, _atomic.read_link(layout.current)),
            journal_fields={"from_": live, "to": target},
            **result,
        )
    message = "%s -> %s" % (live, target) if switch else "pruned %s" % ", ".join(pruned)
    step.exit(
        True,
        message=message,
        journal_fields={"from_": live, "to": target, "marked_bad": result["marked_bad"], "pruned": len(pruned)},
        diff=diff,
        **result,
    )


def run_directory(module, step):
    p = module.params
    live_path, backup_path = os.path.abspath(p["live_path"]), os.path.abspath(p["backup_path"])
    if not os.path.isdir(backup_path):
        module.fail_json(
            msg="release: backup directory %s does not exist; %s was left untouched" % (backup_path, live_path)
        )
    if not os.path.isdir(live_path) or os.path.islink(live_path):
        module.fail_json(
            msg="release: live path %s is not a directory (a symlink layout wants root=); nothing was changed"
            % live_path
        )
    try:
        before, after = tree_digest(live_path), tree_digest(backup_path)
    except OSError as err:
        module.fail_json(msg="release: cannot read %s or %s: %s; nothing was changed" % (live_path, backup_path, err))
    result = {
        "from": "sha256:%s" % before,
        "to": "sha256:%s" % after,
        "live_path": live_path,
        "backup_path": backup_path,
    }
    if before == after:
        module.exit_json(changed=False, **result)
    diff = {
        "before": "%s tree sha256 %s\n" % (live_path, before),
        "after": "%s tree sha256 %s (from %s)\n" % (live_path, after, backup_path),
    }
    if module.check_mode:
        module.exit_json(changed=True, diff=diff, **result)
    store = SnapshotStore.in_state_dir(p["state_dir"], "app")
    staging = None
    try:
        staging = stage_copy(backup_path, live_path)
        atomic = _atomic.exchange(staging, live_path)
        name = os.path.basename(live_path)
        with store.staging(
            source=live_path, metadata={"kind": "directory", "replaced_by": backup_path, "tree_sha256": before}
        ) as stage:
            stage.adopt(staging, name)
        staging = None
    except (OSError, SnapshotError) as err:
        if staging and os.path.exists(staging):
            module.warn("the replaced directory is kept at %s" % staging)
        step.fail(
            "release: restoring %s into %s failed: %s" % (backup_path, live_path, err),
            journal_fields={"from_": result["from"], "to": backup_path},
            **result,
        )
    result.update(snapshot=stage.meta["id"], snapshot_path=store.file_path(stage.meta, name), atomic_exchange=atomic)
    step.exit(
        True,
        message="restored %s into %s" % (backup_path, live_path),
        journal_fields={"from_": result["from"], "to": backup_path, "snapshot": stage.path},
        diff=diff,
        **result,
    )


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                root=dict(type="path"),
                to=dict(type="str", default="previous"),
                force=dict(type="bool", default=False),
                mark_bad=dict(type="bool", default=True),
                reason=dict(type="str", default="rolled back"),
                by=dict(type="str"),
                link_style=dict(type="str", choices=["auto", "relative", "absolute"], default="auto"),
                keep_releases=dict(type="int", default=0),
                bad_retention_days=dict(type="int", default=7),
                live_path=dict(type="path"),
                backup_path=dict(type="path"),
            )
        ),
        mutually_exclusive=[("root", "live_path")],
        required_one_of=[("root", "live_path")],
        required_together=[("live_path", "backup_path")],
        supports_check_mode=True,
    )
    if module.params["keep_releases"] < 0 or module.params["bad_retention_days"] < 0:
        module.fail_json(msg="release: keep_releases and bad_retention_days must be 0 or more")
    if module.params["root"]:
        run_symlink(module, Step(module, "app", "release"))
    run_directory(module, Step(module, "app", "restore_directory"))


if __name__ == "__main__":
    main()
