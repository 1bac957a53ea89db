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
  - With O(root), a whole run of one host can be this one module run, when nothing has to happen
    between the switch and the verdict (no health check, no hook). O(lock) takes the host lock
    first, O(restart) restarts the app after the switch, O(verdict) journals the run's verdict after
    the switch and releases the lock. The journal holds the same lines, in the same order, as the
    lock, release, command, journal_record and lock modules run one after the other.
  - With O(verdict), the verdict's C(duration_s) is the time the run took before this task plus this
    task's own, and its C(details) gain C(live_before) and C(target) (the release live before, the
    one resolved) and C(phases), the durations of the phases this one process went through,
    C(preflight) (lock, read, resolve), C(snapshot) (nothing to keep but the live release, which the
    history records), C(rollback) (the switch) and C(verify) (nothing is checked, the caller's
    O(verdict.result) says so).
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback._run_lock.lock
  - emergency.rollback._run_lock.verdict
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
      - Who marks the release bad (a person or a team). Defaults to the effective user on the target;
        the O(run_id) is kept in the mark as well.
    type: str
  link_style:
    description:
      - Write the new link target V(relative) to the link, V(absolute), or V(auto) (as the link was).
    type: str
    choices: [auto, relative, absolute]
    default: auto
  trust_target:
    description:
      - The target is known good, as when an automatic revert returns to the release that was
        live before a failed rollback. A bad mark does not refuse it, and its bad mark is
        removed (the journal entry says so and why, from O(reason)), so a later V(previous) can
        land on it again.
    type: bool
    default: false
  keep:
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
  restart:
    description:
      - A command that restarts the app, run after a switch that changed something (not when the
        release was live already, not in check mode), in this process. Its journal entry
        (C(action=restart)) follows the switch's.
      - A command that cannot be found fails the task before anything changes. One that exits
        non-zero fails the task after the switch, journaled (C(result=failed)); the result says
        C(changed=true), C(phase=rollback) and, with O(lock), C(lock_kept=true); the lock stays
        held for the caller's revert, which must release it.
      - Mutually exclusive with O(live_path).
    type: dict
    suboptions:
      argv:
        description:
          - The command and its arguments, run without a shell (C([systemctl, restart, shop])).
        type: list
        elements: str
        required: true
      name:
        description:
          - What the restart's journal entry names as restarted (its C(to)).
          - Defaults to O(restart.argv) joined by spaces.
        type: str
      summary:
        description:
          - The restart's journal message.
        type: str
        default: restarted after the rollback
  live_path:
    description:
      - Live directory to restore O(backup_path) into (directory strategy).
      - Mutually exclusive with O(lock), O(verdict) and O(restart).
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
    keep: 5

- name: Lock, switch, journal the verdict and unlock in one module run on the host
  emergency.rollback.release:
    root: /srv/shop
    to: previous
    run_id: "{{ rollback_run_id }}"
    lock:
      owner: "{{ lookup('emergency.rollback.run_context', 'user') }}"
    verdict:
      component: app
      action: verify
      result: not_verified
      summary: "not verified: no health URLs given"

- name: Lock, switch and restart in one module run; the health check and the verdict come after it
  emergency.rollback.release:
    root: /srv/shop
    to: previous
    run_id: "{{ rollback_run_id }}"
    lock:
      owner: "{{ lookup('emergency.rollback.run_context', 'user') }}"
    restart:
      argv: [systemctl, restart, shop]
      name: shop
  register: switched

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
resolved_from:
  description: What O(to) asked for, before it was resolved.
  returned: success
  type: str
  sample: previous
marked_bad:
  description: Release marked bad by this task, if any.
  returned: success
  type: str
  sample: "20261123181500"
cleared_bad:
  description: Release whose bad mark this task removed (O(trust_target)), if any.
  returned: success
  type: str
  sample: "20261123181500"
pruned:
  description: Release ids deleted (or that would be deleted in check mode) by O(keep).
  returned: success
  type: list
  elements: str
  sample: ["20261001120000"]
snapshot:
  description:
    - The snapshot holding the replaced live directory (directory strategy), null otherwise.
    - Its C(path) can be given as O(backup_path) to undo the restore.
  returned: success
  type: dict
  contains:
    id:
      description: Snapshot id.
      type: str
      sample: 20261120T090000.000000Z-9f8e7d
    path:
      description: The replaced live directory, kept inside the snapshot.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/app/20261120T090000.000000Z-9f8e7d
  sample:
    id: 20261123T184500Z
    path: /var/lib/emergency-rollback/snapshots/app/20261123T184500Z/files/shop
live_path:
  description: The live directory (directory strategy).
  returned: when O(live_path) is given
  type: str
  sample: /var/www/shop
backup_path:
  description: The backup restored into it (directory strategy).
  returned: when O(live_path) is given
  type: str
  sample: /var/backups/deployments/1.4.2
lock:
  description: The lock's holder after the task and the one found before it, as M(emergency.rollback.lock) returns them.
  returned: when O(lock) or O(verdict) is given
  type: dict
  sample:
    holder: null
    previous_holder: {run_id: rb-20261123-1845, pid: 4242, machine: ops1, user: alice, since: 1795463100.5, ttl: 3600}
    path: /var/lib/emergency-rollback/rollback.lock
journal_entry:
  description: The entry this task wrote last, the O(verdict) when given, otherwise the switch's own entry.
  returned: when an entry was written (not in check mode)
  type: dict
  sample: {"run_id": "rb-1", "ts": "2026-11-23T18:45:00.000Z", "host": "web1", "component": "app",
           "action": "release", "from": "20261123181500", "to": "20261120093000", "snapshot": null,
           "duration_s": 0.004, "result": "changed", "message": "20261123181500 -> 20261120093000"}
phase:
  description:
    - The phase of the run the task failed in, C(preflight) (lock, read, resolve) or C(rollback)
      (the switch, the restart).
  returned: on failure, when O(verdict) or O(restart) is given
  type: str
  sample: preflight
phases:
  description:
    - The phases this process went through and their durations in seconds, C(preflight) (lock, read,
      resolve), C(snapshot) (nothing to keep but the live release, which the history records) and
      C(rollback) (the switch and the restart), for a caller that journals the verdict itself.
  returned: when O(root) is given
  type: list
  elements: dict
  sample: [{"phase": "preflight", "duration_s": 0.004}, {"phase": "snapshot", "duration_s": 0.0},
           {"phase": "rollback", "duration_s": 1.203}]
restart:
  description: The restart command O(restart) ran, its exit code and output.
  returned: when the restart ran
  type: dict
  sample: {"argv": ["systemctl", "restart", "shop"], "rc": 0, "stdout": "", "stderr": ""}
lock_kept:
  description:
    - The run still holds the host lock after this failure (O(lock) was given and the restart
      failed after the switch).
  returned: when the restart failed
  type: bool
  sample: true
atomic_exchange:
  description: Whether the directories were exchanged with one C(renameat2(RENAME_EXCHANGE)) (directory strategy).
  returned: when a directory was restored
  type: bool
  sample: true
"""

import os
import pwd
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, entry_argument_spec, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._lock import (
    lock_argument_spec,
    take_first,
    verdict_then_release,
)
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
    """O(by), else the effective user on the target ($USER is unset under cron, sudo, AWX)."""
    if params["by"]:
        return params["by"]
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return "uid %d" % os.geteuid()


def resolve_switch(module, step, layout):
    """Read the layout and resolve O(to) once. Returns (live, current_target, ids, bad, deploys, target)."""
    p = module.params
    explicit = p["to"] not in ("", "previous") and not RELATIVE_RE.match(p["to"])
    try:
        layout.check()
    except ReleaseError as err:  # not a layout at all: bad input, nothing to journal
        module.fail_json(msg="release: cannot roll back %s: %s; nothing was changed" % (p["root"], err))
    try:
        try:
            live, current_target = layout.live()
        except ReleaseError as err:
            if not (p["force"] and explicit):
                raise ReleaseError("%s (an explicit release id with force=true repairs it)" % err) from err
            live, current_target = None, _atomic.read_link(layout.current)
            module.warn("repairing: %s" % err)
        ids = layout.release_ids()
        bad = layout.bad_marks()
        deploys = layout.deploys(ids, live, layout.history())
        target = layout.resolve(p["to"], live, ids, bad, deploys)
    except (ReleaseError, OSError) as err:
        # A refused target is journaled: the report shows what was asked and why it did not happen.
        step.fail(
            "release: cannot roll back %s: %s; nothing was changed" % (p["root"], err),
            journal_fields={"to": p["to"]},
        )
    if target != live and target in bad and not (p["force"] or p["trust_target"]):
        mark = bad[target]
        step.fail(
            "release: refusing %s: it is marked bad (by %s at %s: %s); use force=true to switch anyway; "
            "nothing was changed" % (target, mark.get("by"), mark.get("at"), mark.get("reason")),
            journal_fields={"from_": live, "to": target},
            **{"from": live, "to": target, "resolved_from": p["to"]},
        )
    return live, current_target, ids, bad, deploys, target


def plan_marks(p, live, target, bad, now):
    """The bad marks after the switch: (marks, mark put on live or None, target whose mark is cleared)."""
    bad_after = dict(bad)
    mark = None
    if target != live and live and p["mark_bad"] and live not in bad:
        mark = {
            "by": _who(p),
            "at": utc_iso(now),
            "at_ts": now,
            "reason": p["reason"],
            "run_id": p["run_id"],
            "switched_to": target,
        }
        bad_after[live] = mark
    cleared = target if p["trust_target"] and target in bad_after else None
    if cleared:
        del bad_after[cleared]
    return bad_after, mark, cleared


def apply_switch(module, step, layout, plan):
    """Write the marks, switch the link, record the history, prune. Fails the step on any error."""
    p = module.params
    live, target = plan["from"], plan["to"]
    try:
        if plan["mark"]:
            layout.mark_bad(live, plan["mark"], module=module)
        if plan["cleared"]:
            layout.clear_bad(plan["cleared"], module=module)
        if target != live:
            _atomic.switch_symlink(layout.current, plan["new_target"])
            entry = {"id": target, "kind": layout.switch_kind(target, plan["deploys"], plan["ids"])}
            entry.update(at=utc_iso(plan["now"]), by=_who(p), run_id=p["run_id"], **{"from": live})
            layout.record([entry], module=module, materialize=plan["deploys"])
        for rid in plan["pruned"]:
            layout.delete_release(rid)
    except (OSError, ReleaseError, _atomic.AtomicError) as err:
        step.fail(
            "release: switching %s from %s to %s failed: %s; current points to %s"
            % (layout.current, live, target, err, _atomic.read_link(layout.current)),
            journal_fields={"from_": live, "to": target},
        )


class Run:
    """The run around the switch when O(lock) / O(verdict) make this task a whole run: phase clock, lock."""

    PHASES = ("preflight", "rollback")

    def __init__(self, module):
        self.module = module
        self.marks = [time.monotonic()]
        if module.params["verdict"] is not None or module.params["restart"] is not None:
            # a whole run: a failure says which phase of it failed
            fail_json = module.fail_json

            def fail_in_phase(*args, **kwargs):
                kwargs.setdefault("phase", self.PHASES[min(len(self.marks), 2) - 1])
                fail_json(*args, **kwargs)

            module.fail_json = fail_in_phase
        self.lock = take_first(module, "release")[1] if module.params["lock"] is not None else None

    def mark(self):
        self.marks.append(time.monotonic())

    def phases(self, now, verify=False):
        """The phases this process went through (the switch and the restart are its rollback), timed."""
        started, resolved = self.marks[0], self.marks[1]
        switched = self.marks[2] if len(self.marks) > 2 else resolved
        spans = [("preflight", resolved - started), ("snapshot", 0.0), ("rollback", switched - resolved)]
        if verify:
            spans.append(("verify", now - switched))
        return [{"phase": name, "duration_s": round(span, 3)} for name, span in spans]

    def verdict(self, result):
        """The O(verdict) entry with this process's phases, durations and what it resolved."""
        verdict = dict(self.module.params["verdict"])
        now = time.monotonic()
        verdict["duration_s"] = round((verdict["duration_s"] or 0.0) + now - self.marks[0], 3)
        details = dict(verdict["details"] or {})
        details.update(live_before=result["from"], target=result["to"])
        details["phases"] = list(details.get("phases") or []) + self.phases(now, verify=True)
        verdict["details"] = details
        return verdict

    def restart(self, result):
        """Run O(restart) after the switch and journal it; a non-zero exit fails the task, switched."""
        options = self.module.params["restart"]
        step = Step(self.module, "app", "restart")
        rc, out, err = self.module.run_command(options["argv"])
        result["restart"] = {"argv": options["argv"], "rc": rc, "stdout": out, "stderr": err}
        name = options["name"] or " ".join(options["argv"])
        if rc != 0:
            step.fail(
                "release: %s is live, but the restart (%s) failed with rc %d: %s"
                % (result["to"], " ".join(options["argv"]), rc, (err or out).strip()[-500:]),
                journal_fields={"to": name},
                changed=True,
                lock_kept=self.module.params["lock"] is not None,
                **result,
            )
        step.record("changed", to=name, message=options["summary"])

    def exit(self, step, changed, result, diff=None):
        """Exit the switch (the caller journaled it), then with O(verdict) the verdict and the lock's release."""
        if diff is not None:
            result["diff"] = diff
        result["duration_s"] = round(step.elapsed(), 3)
        result["phases"] = self.phases(time.monotonic())
        lock = self.lock
        entry = step.entry
        if self.module.params["verdict"] is not None:
            _released, lock = verdict_then_release(self.module, self.verdict(result))
            entry = lock["journal_entry"]
        if lock is not None:
            result["lock"] = {k: lock.get(k) for k in ("holder", "previous_holder", "path")}
        if entry is not None:
            result["journal_entry"] = entry
        self.module.exit_json(changed=changed, **result)


def run_symlink(module, step, run):
    p = module.params
    layout = Layout(p["root"])
    live, current_target, ids, bad, deploys, target = resolve_switch(module, step, layout)
    run.mark()
    switch = target != live
    now = time.time()
    bad_after, mark, cleared = plan_marks(p, live, target, bad, now)
    previous_good = next(
        (r for r in reversed(deploys) if r != target and r in ids and r not in bad_after and r != live),
        None,
    )
    pruned = layout.plan_prune(p["keep"], target, previous_good, bad_after, p["bad_retention_days"] * 86400, now)
    new_target = layout.link_target(target, p["link_style"], current_target) if switch else current_target
    result = {
        "from": live,
        "to": target,
        "resolved_from": p["to"],
        "marked_bad": live if mark else None,
        "cleared_bad": cleared,
        "pruned": pruned,
        "current_target": new_target,
        "snapshot": None,
    }
    diff = {
        "before": "current -> %s\n" % current_target + "".join("release %s\n" % r for r in pruned),
        "after": "current -> %s\n" % new_target,
        "before_header": layout.current,
        "after_header": layout.current,
    }
    if cleared:
        diff["before"] += "bad mark on %s\n" % cleared
    changed = switch or bool(pruned) or bool(cleared)
    if not changed or module.check_mode:
        run.exit(step, changed, result, diff=diff if changed else None)
    plan = dict(result, mark=mark, cleared=cleared, ids=ids, deploys=deploys, now=now, new_target=new_target)
    apply_switch(module, step, layout, plan)
    parts = ["%s -> %s" % (live, target)] if switch else []
    if cleared:
        parts.append("cleared the bad mark of %s (%s)" % (cleared, p["reason"]))
    if pruned:
        parts.append("pruned %s" % ", ".join(pruned))
    # the switch's entry first: a failed restart leaves it journaled before its own
    step.record(
        "changed",
        message="; ".join(parts),
        from_=live,
        to=target,
        marked_bad=result["marked_bad"],
        pruned=len(pruned),
    )
    if p["restart"] is not None:
        run.restart(result)
    run.mark()
    run.exit(step, True, result, diff=diff)


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
        "snapshot": None,
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
    result.update(snapshot={"id": stage.meta["id"], "path": store.file_path(stage.meta, name)}, atomic_exchange=atomic)
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
                keep=dict(type="int", default=0),
                trust_target=dict(type="bool", default=False),
                bad_retention_days=dict(type="int", default=7),
                live_path=dict(type="path"),
                backup_path=dict(type="path"),
                lock=lock_argument_spec(),
                verdict=dict(type="dict", options=entry_argument_spec()),
                restart=dict(
                    type="dict",
                    options=dict(
                        argv=dict(type="list", elements="str", required=True),
                        name=dict(type="str"),
                        summary=dict(type="str", default="restarted after the rollback"),
                    ),
                ),
            )
        ),
        mutually_exclusive=[
            ("root", "live_path"),
            ("live_path", "lock"),
            ("live_path", "verdict"),
            ("live_path", "restart"),
        ],
        required_one_of=[("root", "live_path")],
        required_together=[("live_path", "backup_path")],
        required_by={"lock": "run_id", "verdict": "run_id"},
        supports_check_mode=True,
    )
    if module.params["keep"] < 0 or module.params["bad_retention_days"] < 0:
        module.fail_json(msg="release: keep and bad_retention_days must be 0 or more")
    restart = module.params["restart"]
    if restart is not None:
        argv = restart["argv"]
        # a command that cannot start is bad input: refused before the lock, the switch or the journal
        found = argv and (os.access(argv[0], os.X_OK) if os.sep in argv[0] else module.get_bin_path(argv[0]))
        if not found:
            module.fail_json(
                msg="release: restart.argv %s: %s is not an executable command; nothing was changed"
                % (argv, argv[0] if argv else "empty")
            )
    if module.params["root"]:
        # The lock (when asked) before the step's clock: the release entry times the switch alone.
        run = Run(module)
        run_symlink(module, Step(module, "app", "release"), run)
    else:
        run_directory(module, Step(module, "app", "restore_directory"))


if __name__ == "__main__":
    main()
