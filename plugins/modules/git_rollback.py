#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: git_rollback
short_description: Revert commits or reset a git work tree to a known-good ref, behind a backup tag
version_added: 0.1.0
description:
  - V(revert) reverts the given commits (newest first, C(--no-edit)), making new commits; history is kept.
  - V(reset) moves the branch and work tree to a known-good O(ref) (C(git reset --hard)).
  - Before changing anything it always creates an annotated backup tag C(<tag_prefix><UTC timestamp>)
    on the current C(HEAD), so the rollback can be undone with a reset to that tag.
  - Refuses a work tree with uncommitted changes to tracked files unless O(allow_dirty=true).
  - Idempotent. Commits already reverted on C(HEAD) (a later commit says C(This reverts commit <sha>))
    or a C(HEAD) already at O(ref) change nothing.
  - Optionally pushes the branch (and the backup tag). A reset rewrites history, so pushing it
    needs O(force_with_lease=true), and then uses C(--force-with-lease) against the remote head
    read before the push; plain C(--force) is never used.
  - git runs as an argv list, never through a shell.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Reports the commits it would revert or the ref it would reset to, changing nothing.
  diff_mode:
    support: full
    description: Shows C(HEAD) before and what it would be after.
options:
  repo:
    description:
      - Path of the git work tree.
    type: path
    required: true
  method:
    description:
      - V(revert) O(commits), or V(reset) to O(ref).
    type: str
    choices: [revert, reset]
    required: true
  commits:
    description:
      - Commits to revert (shas, tags or any revision); required with O(method=revert).
    type: list
    elements: str
  ref:
    description:
      - Known-good revision to reset to, with O(method=reset).
    type: str
  allow_dirty:
    description:
      - Proceed although tracked files have uncommitted changes. A reset then uses C(--keep), which
        keeps those changes or fails without touching anything.
    type: bool
    default: false
  push:
    description:
      - Push the branch and the backup tag to O(remote) afterwards.
    type: bool
    default: false
  remote:
    description:
      - Remote to push to.
    type: str
    default: origin
  force_with_lease:
    description:
      - Allow pushing a reset (a history rewrite) with C(--force-with-lease).
    type: bool
    default: false
  tag_prefix:
    description:
      - Prefix of the backup tag.
    type: str
    default: emergency-backup-
"""

EXAMPLES = r"""
- name: Revert the two commits of the bad deploy and push the result
  emergency.rollback.git_rollback:
    repo: /srv/shop/app
    method: revert
    commits: [4f2a9c1, 9e0d7b3]
    push: true

- name: Reset the work tree to the last good tag
  emergency.rollback.git_rollback:
    repo: /srv/shop/app
    method: reset
    ref: v1.4.2
  register: git_rb

- name: Say how to undo it
  ansible.builtin.debug:
    msg: "git reset --hard {{ git_rb.backup_tag }}"
"""

RETURN = r"""
before:
  description: C(HEAD) before the task.
  returned: success
  type: str
  sample: 9e0d7b3c0f6c4b3c1f0d1e2a3b4c5d6e7f809112
after:
  description: C(HEAD) after the task (in check mode, the target of a reset or null for a revert).
  returned: success
  type: str
  sample: 4c2a1f0e9d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c
backup_tag:
  description: Backup tag created on the old C(HEAD), null when nothing changed.
  returned: success
  type: str
  sample: emergency-backup-20261123T184501Z
reverted:
  description: Commits reverted (or that would be), newest first.
  returned: success
  type: list
  elements: str
  sample: [5d41402abc4b2a76b9719d911017c592ae1c0e3f, 7d793037a0760186574b0282f2f435e7f5a1c3b9]
already_reverted:
  description: Commits that were already reverted on C(HEAD).
  returned: success
  type: list
  elements: str
  sample: [2c26b46b68ffc68ff99b453c1d30413413422d70]
pushed:
  description: Whether a push was made (or would be).
  returned: success
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._git import Git, GitError


class GitRollback:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.git = Git(module, self.p["repo"])
        self.step = Step(module, "app", "git_%s" % self.p["method"])

    def fail(self, msg, **result):
        self.module.fail_json(msg="git_rollback: %s" % msg, **result)

    def plan(self):
        git = self.git
        if not git.is_work_tree():
            self.fail("%s is not a git work tree; nothing was changed" % self.p["repo"])
        if git.in_progress():
            self.fail(
                "a revert is in progress in %s (git revert --abort or --continue first); nothing was changed"
                % self.p["repo"]
            )
        head = git.head()
        result = {
            "before": head,
            "after": head,
            "backup_tag": None,
            "reverted": [],
            "already_reverted": [],
            "pushed": False,
        }
        if self.p["method"] == "revert":
            shas = []
            for commit in self.p["commits"]:
                sha = git.resolve(commit)
                if not git.is_ancestor(sha):
                    self.fail("commit %s is not in the history of HEAD (%s); nothing was changed" % (commit, head[:12]))
                if sha not in shas:
                    shas.append(sha)
            for sha in git.order_newest_first(shas):
                (result["already_reverted"] if git.reverted(sha) else result["reverted"]).append(sha)
            todo = bool(result["reverted"])
            if todo:
                result["after"] = None
        else:
            target = git.resolve(self.p["ref"])
            todo = target != head
            result["after"] = target
        return todo, result

    def run(self):
        p = self.p
        git = self.git
        try:
            todo, result = self.plan()
            branch = git.branch()
            remote_before = None
            if p["push"]:
                if not branch:
                    self.fail("HEAD is detached in %s; cannot push; nothing was changed" % p["repo"], **result)
                remote_before = git.remote_head(p["remote"], branch)
                rewrites = (
                    p["method"] == "reset"
                    and remote_before is not None
                    and not git.is_ancestor(remote_before, result["after"])
                )
                if rewrites and not p["force_with_lease"]:
                    self.fail(
                        "resetting %s rewrites the history of %s/%s; pushing it needs force_with_lease=true; "
                        "nothing was changed" % (branch, p["remote"], branch),
                        **result,
                    )
            dirty = git.dirty() if todo else []
            if dirty and not p["allow_dirty"]:
                self.fail(
                    "work tree %s has uncommitted changes in %s; nothing was changed (allow_dirty=true to proceed)"
                    % (p["repo"], ", ".join(dirty[:5])),
                    **result,
                )
        except GitError as err:
            self.fail("%s; nothing was changed" % err)
        target_head = result["after"]
        push_needed = p["push"] and (todo or remote_before != result["before"])
        changed = todo or push_needed
        result["pushed"] = bool(push_needed)
        diff = {
            "before": "HEAD %s\n" % result["before"],
            "after": (
                "HEAD %s\n" % target_head
                if target_head
                else "HEAD %s + revert of %s\n" % (result["before"], ", ".join(c[:12] for c in result["reverted"]))
            ),
        }
        if not changed:
            self.module.exit_json(changed=False, **result)
        elif self.module.check_mode:
            self.module.exit_json(changed=True, diff=diff, **result)
        else:
            self.apply(todo, result, branch, remote_before, diff)

    def apply(self, todo, result, branch, remote_before, diff):
        p = self.p
        git = self.git
        journal = {"from_": result["before"]}
        try:
            if todo:
                git.ensure_identity()
                result["backup_tag"] = git.backup_tag(p["tag_prefix"])
                journal["snapshot"] = "tag:%s" % result["backup_tag"]
                if p["method"] == "revert":
                    rc, _out, err = git.run("revert", "--no-edit", *result["reverted"], check=False)
                    if rc != 0:
                        git.run("revert", "--abort", check=False)
                        git.run("reset", "--hard", result["before"], check=False)
                        git.run("tag", "-d", result["backup_tag"], check=False)
                        self.step.fail(
                            "git_rollback: reverting %s failed (%s); the revert was aborted and HEAD left at %s"
                            % (
                                ", ".join(c[:12] for c in result["reverted"]),
                                err.splitlines()[-1:] or rc,
                                result["before"][:12],
                            ),
                            journal_fields=journal,
                            **dict(result, backup_tag=None),
                        )
                else:
                    git.run("reset", "--keep" if p["allow_dirty"] else "--hard", result["after"])
                result["after"] = git.head()
            journal["to"] = result["after"]
            if result["pushed"]:
                argv = ["push", "--porcelain"]
                if p["method"] == "reset" and p["force_with_lease"]:
                    argv.append("--force-with-lease=refs/heads/%s:%s" % (branch, remote_before or ""))
                argv += [p["remote"], "HEAD:refs/heads/%s" % branch]
                if result["backup_tag"]:
                    argv.append("refs/tags/%s" % result["backup_tag"])
                git.run(*argv)
        except GitError as err:
            self.step.fail(
                "git_rollback: %s; HEAD is %s, backup tag %s" % (err, result["after"], result["backup_tag"]),
                journal_fields=journal,
                **result,
            )
        message = "%s %s -> %s" % (p["method"], result["before"][:12], result["after"][:12])
        self.step.exit(True, message=message, journal_fields=journal, diff=diff, **result)


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                repo=dict(type="path", required=True),
                method=dict(type="str", choices=["revert", "reset"], required=True),
                commits=dict(type="list", elements="str"),
                ref=dict(type="str"),
                allow_dirty=dict(type="bool", default=False),
                push=dict(type="bool", default=False),
                remote=dict(type="str", default="origin"),
                force_with_lease=dict(type="bool", default=False),
                tag_prefix=dict(type="str", default="emergency-backup-"),
            )
        ),
        required_if=[("method", "revert", ["commits"]), ("method", "reset", ["ref"])],
        supports_check_mode=True,
    )
    if module.params["method"] == "revert" and not module.params["commits"]:
        module.fail_json(msg="git_rollback: commits must name at least one commit to revert; nothing was changed")
    GitRollback(module).run()


if __name__ == "__main__":
    main()
