#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: alembic_migrate
short_description: Report, downgrade or upgrade the Alembic revision of an application's database
version_added: 0.1.0
description:
  - Runs the application's own C(alembic) command line with O(config) in O(app_dir), so the
    application's C(env.py) and migration scripts are the ones used.
  - V(current) reports the current and head revisions. V(downgrade) and V(upgrade) migrate to
    O(revision) and are idempotent; a database already at the target reports C(changed=false).
  - The target is resolved to a concrete revision before anything runs and is returned. A relative
    target (V(-1), V(+2)) counts from the revision found, once; the resolution is recorded with that
    starting revision (and the heads of the scripts in O(app_dir)) in C(<state_dir>/database/targets-<hash>.json).
    A retry of the same task, starting from that revision or finding the revision it reached, lands on the
    same target and changes nothing, so V(-1) run twice downgrades once. A rollback of a later deploy
    (the database back at the starting revision) resolves the same way; to go further down, name the
    revision, or use the older release's scripts.
  - The output of alembic (stdout and stderr) is returned, not swallowed; a failed migration fails the
    task with the tail of that output.
  - A downgrade needs the migration scripts of the NEWER release (they hold the C(downgrade()) code),
    so it must run with O(app_dir) pointing at the release being rolled back, BEFORE the application's
    C(current) symlink moves back.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Reads the current revision and history and reports the target and the revisions that
      would run, without migrating.
  diff_mode:
    support: full
    description: Shows the revision before and after.
options:
  command:
    description:
      - V(current) only reports; with O(revision) it also tells whether a migration to that revision is
        already in place (RV(in_place)), resolving a relative one as a migration would. V(downgrade) and
        V(upgrade) migrate to O(revision).
    type: str
    choices: [current, downgrade, upgrade]
    default: current
  revision:
    description:
      - Target revision, an id or unique prefix, V(base), V(head), V(-N) (downgrade) or V(+N) (upgrade).
      - Required for V(downgrade); V(upgrade) defaults to V(head).
    type: str
  app_dir:
    description:
      - Directory alembic runs in (the release holding the migration scripts).
    type: path
    required: true
  config:
    description:
      - Alembic configuration file, relative to O(app_dir) or absolute.
    type: path
    default: alembic.ini
  executable:
    description:
      - The C(alembic) command to run, for example the one in the application's virtualenv.
      - Defaults to C(alembic) on E(PATH), else C(python -m alembic) with the module's interpreter.
    type: path
  x_args:
    description:
      - Values passed as C(-x) arguments to the application's env.py.
    type: list
    elements: str
    default: []
  environment:
    description:
      - Extra environment variables for alembic, for example C(DATABASE_URL). Treated as secret.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Downgrade with the newer release's scripts, before the symlink moves back
  emergency.rollback.alembic_migrate:
    command: downgrade
    revision: "-1"
    app_dir: /srv/shop/current
    executable: /srv/shop/current/.venv/bin/alembic
    environment:
      DATABASE_URL: "{{ vault_shop_database_url }}"

- name: Where is the database, and is the downgrade to -1 already done?
  emergency.rollback.alembic_migrate:
    app_dir: /srv/shop/current
    revision: "-1"
  register: database_revision
"""

RETURN = r"""
current:
  description: Revision before the task (null at base).
  returned: always
  type: str
  sample: 0003_audit
head:
  description: Head revision of the scripts in O(app_dir) (several joined by a comma).
  returned: always
  type: str
  sample: 0003_audit
target:
  description: The concrete target revision (null for base, or when it cannot be resolved with O(command=current)).
  returned: when O(command) migrates, or with O(command=current) and O(revision)
  type: str
  sample: 0002_email
in_place:
  description: Whether the database is already at the target O(revision) resolves to, so that O(command=downgrade)
    (or V(upgrade) for V(head) and V(+N)) would change nothing.
  returned: with O(command=current) and O(revision)
  type: bool
  sample: true
revision:
  description: Revision after the task (in check mode, the one it would reach).
  returned: always
  type: str
  sample: 0002_email
path:
  description: The revisions that were (or would be) run, in order.
  returned: when O(command) migrates
  type: list
  elements: str
  sample: [0003_audit]
stdout:
  description: Output of the alembic migration command.
  returned: when a migration ran
  type: str
  sample: ""
stderr:
  description: Log output of the alembic migration command (alembic logs to stderr).
  returned: when a migration ran
  type: str
  sample: "INFO  [alembic.runtime.migration] Running downgrade 0003_audit -> 0002_email, audit table"
"""

import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils import _alembic
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._targets import Targets


class Alembic:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        exe = self.p["executable"] or module.get_bin_path("alembic")
        self.base = [exe] if exe else [sys.executable, "-m", "alembic"]
        config = self.p["config"]
        if not os.path.isabs(config):
            config = os.path.join(self.p["app_dir"], config)
        self.base += ["-c", config]
        for arg in self.p["x_args"]:
            self.base += ["-x", arg]

    def run(self, *args, check=True):
        env = {k: str(v) for k, v in (self.p["environment"] or {}).items()}
        rc, out, err = self.module.run_command(self.base + list(args), cwd=self.p["app_dir"], environ_update=env)
        if check and rc != 0:
            self.module.fail_json(
                msg="alembic_migrate: alembic %s failed (rc=%s): %s" % (args[0], rc, _tail(err or out)),
                rc=rc,
                stdout=out,
                stderr=err,
            )
        return rc, out, err


def _tail(text, limit=800):
    text = " ".join((text or "").split())
    return text[-limit:] or "no output"


def _targets(p):
    """Recorded resolutions of relative targets, per Alembic project (its directory and config)."""
    return Targets(p["state_dir"], "database", {"alembic": [p["app_dir"], p["config"]]})


def _resolve(p, command, revision, current, parents, heads):
    """(target, Targets or None, words asked, recorded entry or None); a relative target is resolved once.

    The same words against the same scripts: a retry finds its starting or its reached revision.
    """
    if not _alembic.is_relative(revision):
        return _alembic.resolve_target(command, revision, current, parents, heads), None, None, None
    start = current[0] if len(current) == 1 else None
    asked = "%s %s with heads %s" % (command, revision, ",".join(heads) or None)
    targets = _targets(p)
    entry = targets.find(asked, start)
    if entry:
        return entry["target"], targets, asked, entry
    return _alembic.resolve_target(command, revision, current, parents, heads), targets, asked, None


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                command=dict(type="str", choices=["current", "downgrade", "upgrade"], default="current"),
                revision=dict(type="str"),
                app_dir=dict(type="path", required=True),
                config=dict(type="path", default="alembic.ini"),
                executable=dict(type="path"),
                x_args=dict(type="list", elements="str", default=[]),
                environment=dict(type="dict", default={}, no_log=True),
            )
        ),
        required_if=[("command", "downgrade", ["revision"])],
        supports_check_mode=True,
    )
    p = module.params
    if not os.path.isdir(p["app_dir"]):
        module.fail_json(msg="alembic_migrate: app_dir %s is not a directory; nothing was migrated" % p["app_dir"])
    alembic = Alembic(module)
    # one alembic run (they are slow to start): the history with heads and the current revision marked
    parents, heads, current = _alembic.parse_history(alembic.run("history", "--indicate-current")[1])
    cur = ",".join(current) or None
    result = dict(current=cur, head=",".join(heads) or None, revision=cur)
    start = current[0] if len(current) == 1 else None
    if p["command"] == "current":
        if p["revision"] is not None:
            # read-only answer to "is a migration to revision already in place" (no check-mode probe)
            command = "upgrade" if p["revision"].startswith("+") or p["revision"] in ("head", "heads") else "downgrade"
            try:
                target = _resolve(p, command, p["revision"], current, parents, heads)[0]
                result.update(target=target, in_place=start == target)
            except _alembic.AlembicError:
                result.update(target=None, in_place=False)
        module.exit_json(changed=False, **result)

    revision = p["revision"] if p["revision"] is not None else "head"
    try:
        target, targets, asked, entry = _resolve(p, p["command"], revision, current, parents, heads)
        path = _alembic.path_between(parents, start, target)
    except _alembic.AlembicError as err:
        module.fail_json(
            msg="alembic_migrate: cannot %s to %s: %s; nothing was migrated" % (p["command"], revision, err)
        )
    result.update(target=target, path=path)
    diff = dict(before={"revision": cur}, after={"revision": target})
    if start == target:
        module.exit_json(changed=False, **result)
    if module.check_mode:
        result["revision"] = target
        module.exit_json(changed=True, diff=diff, **result)

    step = Step(module, "database", "alembic_%s" % p["command"])
    if targets is not None and not entry:
        targets.record(asked, start, target, run_id=p["run_id"])
    rc, out, err = alembic.run(p["command"], target or _alembic.BASE, check=False)
    after = _alembic.parse_revisions(alembic.run("current")[1])
    reached = after[0] if after else None
    result.update(stdout=out, stderr=err, revision=reached)
    fields = {"from_": cur, "to": target, "path": path, "app_dir": p["app_dir"]}
    if targets is not None:
        targets.landed(asked, reached)
    if rc != 0 or reached != target:
        step.fail(
            "alembic_migrate: %s from %s to %s %s, the database is at %s: %s"
            % (
                p["command"],
                cur or "base",
                target or "base",
                "failed (rc=%s)" % rc if rc else "stopped short",
                reached or "base",
                _tail(err or out),
            ),
            journal_fields=fields,
            **result,
        )
    step.exit(
        True,
        message="alembic %s %s -> %s" % (p["command"], cur or "base", target or "base"),
        journal_fields=fields,
        diff=diff,
        **result,
    )


if __name__ == "__main__":
    main()
