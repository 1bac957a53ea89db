# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""git through module.run_command with argv lists: the reads and writes git_rollback needs.

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import datetime
import os

DEFAULT_IDENTITY = ("emergency.rollback", "emergency-rollback@localhost")


class GitError(Exception):
    pass


class Git:
    def __init__(self, module, repo, git_bin=None):
        self.module = module
        self.repo = repo
        self.git_bin = git_bin or module.get_bin_path("git", required=True)
        self.identity = []

    def run(self, *args, check=True):
        argv = [self.git_bin, "-C", self.repo, *self.identity, *args]
        rc, out, err = self.module.run_command(argv, environ_update={"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})
        if check and rc != 0:
            raise GitError("git %s failed: %s" % (" ".join(args[:2]), (err or out).strip().splitlines()[-1:] or rc))
        return rc, out.strip(), err.strip()

    def out(self, *args):
        return self.run(*args)[1]

    def is_work_tree(self):
        rc, out, _err = self.run("rev-parse", "--is-inside-work-tree", check=False)
        return rc == 0 and out == "true"

    def ensure_identity(self):
        """Use the configured committer; fall back to a fixed identity so a revert can commit."""
        rc, _out, _err = self.run("config", "user.email", check=False)
        if rc != 0:
            self.identity = ["-c", "user.name=%s" % DEFAULT_IDENTITY[0], "-c", "user.email=%s" % DEFAULT_IDENTITY[1]]

    def head(self):
        return self.out("rev-parse", "--verify", "HEAD^{commit}")

    def branch(self):
        rc, out, _err = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return out if rc == 0 else None

    def resolve(self, ref):
        rc, out, _err = self.run("rev-parse", "--verify", "--quiet", "%s^{commit}" % ref, check=False)
        if rc != 0 or not out:
            raise GitError("%s is not a commit in %s" % (ref, self.repo))
        return out

    def dirty(self):
        """Tracked files with changes (staged or not); untracked files do not count."""
        return [line for line in self.out("diff", "--name-only", "HEAD").splitlines() if line]

    def in_progress(self):
        rc, out, _err = self.run("rev-parse", "--git-path", "REVERT_HEAD", check=False)
        path = out if os.path.isabs(out) else os.path.join(self.repo, out)
        return rc == 0 and os.path.exists(path)

    def is_ancestor(self, commit, of="HEAD"):
        rc, _out, _err = self.run("merge-base", "--is-ancestor", commit, of, check=False)
        return rc == 0

    def reverted(self, commit):
        """Whether a commit after `commit` on HEAD says "This reverts commit <commit>"."""
        out = self.out("rev-list", "--grep", "This reverts commit %s" % commit, "%s..HEAD" % commit)
        return bool(out)

    def order_newest_first(self, commits):
        listed = self.out("rev-list", "--topo-order", "HEAD").splitlines()
        position = {sha: i for i, sha in enumerate(listed)}
        return sorted(commits, key=lambda sha: position.get(sha, 0))

    def subject(self, commit):
        return self.out("log", "-1", "--format=%s", commit)

    def tag_exists(self, name):
        rc, _out, _err = self.run("rev-parse", "--verify", "--quiet", "refs/tags/%s" % name, check=False)
        return rc == 0

    def backup_tag(self, prefix, target="HEAD", now=None):
        now = now or datetime.datetime.now(datetime.timezone.utc)
        name = "%s%s" % (prefix, now.strftime("%Y%m%dT%H%M%SZ"))
        base, n = name, 1
        while self.tag_exists(name):
            n += 1
            name = "%s-%d" % (base, n)
        self.out("tag", "-a", "-m", "emergency.rollback backup before rollback", name, target)
        return name

    def remote_head(self, remote, branch):
        rc, out, _err = self.run("ls-remote", "--heads", remote, "refs/heads/%s" % branch, check=False)
        if rc != 0:
            raise GitError("cannot read %s of remote %s" % (branch, remote))
        return out.split()[0] if out else None
