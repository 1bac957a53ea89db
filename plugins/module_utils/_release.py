# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Releases of an ansistrano / Capistrano / Deployer layout, and directory restores.

PRIVATE to this collection: the leading underscore means no API promise.

Layout: <root>/releases/<id>/ (optional REVISION file), <root>/current -> releases/<id>
(relative or absolute), <root>/shared/. What this collection adds lives in <root>/.rollback/:

- history.json: ordered list of what went live. Entries are {"id", "kind", "at", "by",
  "run_id", "from"}; kind "deploy" for a release that went live by a deploy (inferred or
  recorded), "rollback" for a switch made by the release module.
- bad.json: {"<id>": {"by", "at", "reason", "run_id", "from_run"}}: releases marked bad.
  Release directories themselves are never written to.

The live release is read from the `current` symlink only, never from mtime or name order.

Release ids: any entry of releases/ that is a directory (or a symlink to a directory inside
the root), whatever its name (spaces, non-ASCII letters), except this module's own
`.deleting-*` trash. Names are reported exactly as they are on disk.

Release order: when every id starts with a digit or with v and a digit (timestamps as
ansistrano, Capistrano and Deployer name them, dates, versions) natural sort order (v9
before v10); otherwise modification time of the release directory (oldest first), then
natural order for equal times. The deploy history, when recorded, comes before either.

Deploy history (what `to: previous` and `to: -N` count back in) is the ordered list of
deploys: the recorded "deploy" entries, then every release that comes after the newest
recorded one in release order, up to and including the live release (deploys made by
another tool since). With no history file at all it is every release, in release order, up
to and including the live one. The newest
deploy is the "head"; `previous` is the newest deploy before the head that is not marked
bad; `-N` is the N-th distinct deploy before the head. Counting from the head and not from
the live release is what makes a second run of the same rollback a no-op.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import time
import uuid

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic

META_DIR = ".rollback"
HISTORY_NAME = "history.json"
BAD_NAME = "bad.json"
ORDERED_NAME_RE = re.compile(r"^v?[0-9]")
TRASH_PREFIX = ".deleting-"
RELATIVE_RE = re.compile(r"^-([1-9][0-9]{0,3})$")


class ReleaseError(Exception):
    pass


def natural_key(value):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", value) if part]


def valid_id(name):
    """A name that can be a directory entry of releases/."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


def utc_iso(ts=None):
    ts = time.time() if ts is None else ts
    return (
        datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _read_json(path, default):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as err:
        raise ReleaseError("cannot read %s: %s" % (path, err)) from err
    if not isinstance(data, type(default)):
        raise ReleaseError("cannot read %s: expected a JSON %s" % (path, type(default).__name__))
    return data


class Layout:
    def __init__(self, root, releases_dir="releases", current="current"):
        self.root = os.path.abspath(root)
        self.releases_dir = os.path.join(self.root, releases_dir)
        self.current = os.path.join(self.root, current)
        self.meta_dir = os.path.join(self.root, META_DIR)
        self.history_path = os.path.join(self.meta_dir, HISTORY_NAME)
        self.bad_path = os.path.join(self.meta_dir, BAD_NAME)

    # --- reading ---------------------------------------------------------------------------
    def check(self):
        if not os.path.isdir(self.root):
            raise ReleaseError("application root %s does not exist or is not a directory" % self.root)
        if not os.path.isdir(self.releases_dir):
            raise ReleaseError("%s has no releases directory (%s)" % (self.root, self.releases_dir))

    def _inside_root(self, path):
        real_root = os.path.realpath(self.root)
        return os.path.realpath(path).startswith(real_root + os.sep)

    def release_ids(self):
        """Release ids in release order (see the module docstring)."""
        found = {}
        for name in os.listdir(self.releases_dir):
            path = os.path.join(self.releases_dir, name)
            if name.startswith(TRASH_PREFIX) or not valid_id(name) or not os.path.isdir(path):
                continue
            if os.path.islink(path) and not self._inside_root(path):
                continue  # a symlink escaping the root is not a release of this application
            found[name] = os.stat(path).st_mtime
        if all(ORDERED_NAME_RE.match(name) for name in found):
            return sorted(found, key=natural_key)
        return sorted(found, key=lambda name: (found[name], natural_key(name)))

    def release_path(self, release_id):
        return os.path.join(self.releases_dir, release_id)

    def live(self):
        """(live id or None, link target as written). Raises on a dangling or foreign link.

        The link is compared after resolving symlinks: an application root reached through a
        symlink (/srv/app -> /data/app) with an absolute current (/data/app/releases/<id>, as
        Capistrano writes it) points into this layout.
        """
        target = _atomic.read_link(self.current)
        if target is None:
            if os.path.lexists(self.current):
                raise ReleaseError("%s exists but is not a symlink" % self.current)
            return None, None
        resolved = os.path.normpath(os.path.join(os.path.dirname(self.current), target))
        parent = os.path.dirname(resolved)
        if parent != os.path.normpath(self.releases_dir) and os.path.realpath(parent) != os.path.realpath(
            self.releases_dir
        ):
            raise ReleaseError(
                "%s points to %s, which is not a release directory under %s" % (self.current, target, self.releases_dir)
            )
        if not os.path.isdir(resolved):
            raise ReleaseError("%s is dangling: its target %s does not exist" % (self.current, target))
        return os.path.basename(resolved), target

    def bad_marks(self):
        return _read_json(self.bad_path, {})

    def history(self):
        return _read_json(self.history_path, [])

    def revision(self, release_id):
        path = os.path.join(self.release_path(release_id), "REVISION")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read(4096).strip() or None
        except OSError:
            return None

    def deploys(self, ids=None, live=None, history=None):
        """The ordered deploy history (see the module docstring)."""
        ids = self.release_ids() if ids is None else ids
        history = self.history() if history is None else history
        known = [e.get("id") for e in history if isinstance(e, dict) and e.get("id")]
        deploys = [e["id"] for e in history if isinstance(e, dict) and e.get("kind") == "deploy" and e.get("id")]
        if live is not None:
            pos = {rid: n for n, rid in enumerate(ids)}
            newest = max((pos[i] for i in known if i in pos), default=-1)
            deploys.extend(i for i in ids if newest < pos[i] <= pos.get(live, len(ids)))
            last = history[-1] if history and isinstance(history[-1], dict) else {}
            if live not in deploys and last.get("id") != live:
                # Made live by something we did not record (a manual switch or another tool).
                deploys.append(live)
        dedup = []
        for item in deploys:
            if not dedup or dedup[-1] != item:
                dedup.append(item)
        return dedup

    def info(self):
        """Everything release_info returns."""
        self.check()
        live, target = self.live()
        ids = self.release_ids()
        bad = self.bad_marks()
        history = self.history()
        releases = []
        for rid in ids:
            st = os.stat(self.release_path(rid))
            releases.append(
                {
                    "id": rid,
                    "path": self.release_path(rid),
                    "live": rid == live,
                    "bad": rid in bad,
                    "bad_mark": bad.get(rid),
                    "revision": self.revision(rid),
                    "created": utc_iso(st.st_mtime),
                }
            )
        deploys = self.deploys(ids, live, history)
        return {
            "root": self.root,
            "live": live,
            "current_target": target,
            "releases": releases,
            "ids": ids,
            "bad": sorted(bad, key=natural_key),
            "deploy_history": deploys,
            "history_source": "history file" if os.path.exists(self.history_path) else "release id order",
            "history": history,
        }

    # --- resolving -------------------------------------------------------------------------
    def resolve(self, to, live, ids, bad, deploys):
        """A concrete release id for to (previous | <id> | -N)."""
        if to in (None, "", "previous"):
            if len(ids) < 2:
                raise ReleaseError(
                    # the reason first: a failure line cut at its end keeps it
                    "nothing to roll back to: only one release (%s) in %s"
                    % (", ".join(ids) or "none", self.releases_dir)
                )
            if not deploys:
                raise ReleaseError(
                    "no deploy history and no live release in %s; give an explicit release id" % self.root
                )
            head = deploys[-1]
            for rid in reversed(deploys[:-1]):
                if rid != head and rid in ids and rid not in bad:
                    return rid
            raise ReleaseError(
                "no previous good release before %s in the deploy history (%s); bad: %s"
                % (head, ", ".join(deploys), ", ".join(sorted(bad, key=natural_key)) or "none")
            )
        match = RELATIVE_RE.match(to)
        if match:
            steps = int(match.group(1))
            if not deploys:
                raise ReleaseError(
                    "no deploy history and no live release in %s; give an explicit release id" % self.root
                )
            head = deploys[-1]
            back = []
            for rid in reversed(deploys[:-1]):
                if rid != head and rid in ids and rid not in back:
                    back.append(rid)
            if steps > len(back):
                raise ReleaseError(
                    "cannot go %d back from %s: the deploy history has %d earlier release(s) present (%s)"
                    % (steps, head, len(back), ", ".join(back) or "none")
                )
            return back[steps - 1]
        if not valid_id(to):
            raise ReleaseError("invalid release id %r: not a name a directory in releases/ can have" % to)
        if to not in ids:
            raise ReleaseError(
                "release %s not found in %s (present: %s)" % (to, self.releases_dir, ", ".join(ids[-8:]) or "none")
            )
        return to

    def switch_kind(self, target, deploys, ids):
        """How a switch to target goes into the history: a "deploy" when target is newer than every
        deploy so far (a release made live for the first time), otherwise a "rollback"."""
        if target in deploys:
            return "rollback"
        if not deploys:
            return "deploy"
        pos = {rid: n for n, rid in enumerate(ids)}
        return "deploy" if pos.get(target, -1) > pos.get(deploys[-1], len(ids)) else "rollback"

    def link_target(self, release_id, style, current_target):
        """The new link target, in the form the user's link has (relative or absolute, same prefix)."""
        absolute = bool(current_target) and os.path.isabs(current_target)
        if style == "auto":
            style = "absolute" if absolute else "relative"
        if style == "absolute":
            if absolute:  # keep the prefix as written (/data/app/releases/... stays so)
                return os.path.join(os.path.dirname(os.path.normpath(current_target)), release_id)
            return self.release_path(release_id)
        return os.path.relpath(self.release_path(release_id), os.path.dirname(self.current))

    # --- writing ---------------------------------------------------------------------------
    def _write_json(self, path, data, module=None):
        os.makedirs(self.meta_dir, mode=0o755, exist_ok=True)
        _atomic.write_file(
            path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), module=module, mode=0o644
        )

    def mark_bad(self, release_id, mark, module=None):
        marks = self.bad_marks()
        marks[release_id] = mark
        self._write_json(self.bad_path, marks, module)

    def clear_bad(self, release_id, module=None):
        marks = self.bad_marks()
        if marks.pop(release_id, None) is not None:
            self._write_json(self.bad_path, marks, module)

    def record(self, entries, module=None, materialize=None):
        """Append entries to history; materialize (a deploy list) is written first when no file exists."""
        history = self.history()
        if not history and materialize:
            history = [{"id": rid, "kind": "deploy", "at": None, "inferred": True} for rid in materialize]
        else:
            known = {e.get("id") for e in history if isinstance(e, dict)}
            for rid in materialize or []:
                if rid not in known:
                    history.append({"id": rid, "kind": "deploy", "at": None, "inferred": True})
        history.extend(entries)
        self._write_json(self.history_path, history, module)

    def plan_prune(self, keep, live, previous_good, bad, retention_s, now=None):
        """Release ids that keep would delete (oldest first)."""
        if not keep or keep < 1:
            return []
        now = time.time() if now is None else now
        ids = self.release_ids()
        excess = len(ids) - keep
        doomed = []
        for rid in ids:
            if excess <= 0:
                break
            if rid in (live, previous_good):
                continue
            if rid in bad:
                at = bad[rid].get("at_ts") or 0
                if now - at < retention_s:
                    continue
            doomed.append(rid)
            excess -= 1
        return doomed

    def delete_release(self, release_id):
        path = self.release_path(release_id)
        trash = os.path.join(self.releases_dir, ".deleting-%s-%s" % (release_id, uuid.uuid4().hex[:8]))
        os.rename(path, trash)
        shutil.rmtree(trash)


def tree_digest(path):
    """A digest of a directory tree: names, file contents, modes and symlink targets."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, path)
        digest.update(("d\0%s\0%o\n" % (rel_dir, os.lstat(dirpath).st_mode & 0o7777)).encode())
        entries = sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))])
        for name in entries:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            rel = os.path.join(rel_dir, name)
            if os.path.islink(full):
                digest.update(("l\0%s\0%s\n" % (rel, os.readlink(full))).encode())
                continue
            file_digest = hashlib.sha256()
            with open(full, "rb") as handle:
                for block in iter(lambda: handle.read(1024 * 1024), b""):
                    file_digest.update(block)
            digest.update(("f\0%s\0%o\0%s\n" % (rel, st.st_mode & 0o7777, file_digest.hexdigest())).encode())
    return digest.hexdigest()


def stage_copy(src, live_path):
    """Copy src next to live_path (same file system) so it can be exchanged in one rename."""
    parent = os.path.dirname(os.path.abspath(live_path))
    staging = os.path.join(parent, ".%s.restore-%s" % (os.path.basename(live_path), uuid.uuid4().hex[:12]))
    shutil.copytree(src, staging, symlinks=True)
    st = os.stat(src)
    os.chmod(staging, st.st_mode & 0o7777)
    try:
        os.chown(staging, st.st_uid, st.st_gid)
    except PermissionError:
        pass
    return staging
