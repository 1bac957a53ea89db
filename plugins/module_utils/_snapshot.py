# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Snapshot store: what a primitive replaces is kept here first.

PRIVATE to this collection: the leading underscore means no API promise.

Layout: <root>/<component>/<id>/meta.json and <root>/<component>/<id>/files/...
A snapshot is built in a hidden staging directory and renamed into place once its
checksums are written, so a listed snapshot is always complete.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import time
import uuid

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic

SNAPSHOTS_DIR = "snapshots"
META_NAME = "meta.json"
FILES_DIR = "files"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class SnapshotError(Exception):
    pass


class SnapshotNotFound(SnapshotError):
    pass


class SnapshotCorrupt(SnapshotError):
    pass


class SnapshotExists(SnapshotError):
    pass


def existing_parent(path):
    """The nearest directory that exists on the way up from path (a store may not exist yet)."""
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def sha256_file(path, chunk=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def new_id(now=None):
    now = time.time() if now is None else now
    stamp = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return "%s-%s" % (stamp, uuid.uuid4().hex[:6])


def validate_id(snapshot_id):
    if not ID_RE.match(snapshot_id or "") or snapshot_id in ("latest", "previous"):
        raise SnapshotError(
            "invalid snapshot id %r: use letters, digits and . _ @ + - (not 'latest' or 'previous')" % snapshot_id
        )
    return snapshot_id


def _walk_files(base):
    """(relative name, absolute path, is_link) for every file and symlink under base, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                found.append((os.path.relpath(full, base), full, True))
        for name in filenames:
            full = os.path.join(dirpath, name)
            found.append((os.path.relpath(full, base), full, os.path.islink(full)))
    return sorted(found)


def describe_files(base):
    entries = []
    for rel, full, is_link in _walk_files(base):
        st = os.lstat(full)
        if is_link:
            entries.append({"name": rel, "link": os.readlink(full)})
            continue
        entries.append(
            {
                "name": rel,
                "sha256": sha256_file(full),
                "size": st.st_size,
                "mode": "%04o" % (st.st_mode & 0o7777),
                "uid": st.st_uid,
                "gid": st.st_gid,
            }
        )
    return entries


def _overall_sha256(files):
    digest = hashlib.sha256()
    for item in files:
        digest.update(("%s\0%s\n" % (item["name"], item.get("sha256") or "link:" + item.get("link", ""))).encode())
    return digest.hexdigest()


class Staging:
    def __init__(self, path, snapshot_id, source, metadata):
        self.path = path
        self.files_dir = os.path.join(path, FILES_DIR)
        self.id = snapshot_id
        self.source = source
        self.metadata = dict(metadata or {})
        os.makedirs(self.files_dir, mode=0o700)

    def file(self, name):
        """Path inside the snapshot where a producer (pg_dump, a copy) writes `name`."""
        dest = os.path.normpath(os.path.join(self.files_dir, name))
        if not dest.startswith(self.files_dir + os.sep):
            raise SnapshotError("file name %r leaves the snapshot directory" % name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        return dest

    def add_file(self, src, name=None):
        """Copy a file in, keeping its mode, owner and times."""
        dest = self.file(name or os.path.basename(src))
        shutil.copy2(src, dest)
        st = os.stat(src)
        try:
            os.chown(dest, st.st_uid, st.st_gid)
        except PermissionError:
            pass
        return dest

    def add_tree(self, src, name=None):
        dest = self.file(name or os.path.basename(os.path.normpath(src)))
        shutil.copytree(src, dest, symlinks=True)
        return dest

    def adopt(self, src, name=None):
        """Move a directory or file in (rename when on one filesystem): nothing is copied."""
        dest = self.file(name or os.path.basename(os.path.normpath(src)))
        shutil.move(src, dest)
        return dest


def snapshot_ref(snapshot_id, path):
    """The C({id, path}) shape every module returns for a snapshot (docs/vocabulary.md)."""
    return {"id": snapshot_id, "path": path}


class SnapshotStore:
    def __init__(self, root, component):
        if not component or "/" in component or component.startswith("."):
            raise SnapshotError("invalid component name %r" % component)
        self.root = root
        self.component = component
        self.dir = os.path.join(root, component)

    @classmethod
    def in_state_dir(cls, state_dir, component):
        return cls(os.path.join(state_dir, SNAPSHOTS_DIR), component)

    def path(self, snapshot_id):
        return os.path.join(self.dir, validate_id(snapshot_id))

    def ref(self, meta):
        """{id, path} of a snapshot of this store, as modules return it."""
        return snapshot_ref(meta["id"], self.path(meta["id"]))

    def file_path(self, meta, name):
        return os.path.join(self.path(meta["id"]), FILES_DIR, name)

    def exists(self, snapshot_id):
        return os.path.exists(os.path.join(self.path(snapshot_id), META_NAME))

    @contextlib.contextmanager
    def staging(self, snapshot_id=None, source=None, metadata=None, now=None):
        """Build a snapshot; it appears in the store only if the block succeeds."""
        now = time.time() if now is None else now
        snapshot_id = validate_id(snapshot_id) if snapshot_id else new_id(now)
        if self.exists(snapshot_id):
            raise SnapshotExists("snapshot %s already exists in %s" % (snapshot_id, self.dir))
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        tmp = os.path.join(self.dir, ".staging-%s-%s" % (snapshot_id, uuid.uuid4().hex[:8]))
        stage = Staging(tmp, snapshot_id, source, metadata)
        try:
            yield stage
            files = describe_files(stage.files_dir)
            meta = {
                "id": snapshot_id,
                "component": self.component,
                "created": datetime.datetime.fromtimestamp(now, datetime.UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "created_ts": now,
                "source": stage.source,
                "files": files,
                "size": sum(f.get("size", 0) for f in files),
                "sha256": _overall_sha256(files),
                "metadata": stage.metadata,
            }
            _atomic.write_file(
                os.path.join(tmp, META_NAME), json.dumps(meta, indent=2, sort_keys=True).encode(), mode=0o600
            )
            os.rename(tmp, os.path.join(self.dir, snapshot_id))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        stage.meta = meta
        stage.path = os.path.join(self.dir, snapshot_id)

    def list(self):
        """Complete snapshots, oldest first."""
        found = []
        if not os.path.isdir(self.dir):
            return found
        for name in os.listdir(self.dir):
            if name.startswith("."):
                continue
            meta_path = os.path.join(self.dir, name, META_NAME)
            try:
                with open(meta_path, encoding="utf-8") as handle:
                    meta = json.load(handle)
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict) and meta.get("id") == name:
                found.append(meta)
        return sorted(found, key=lambda m: (m.get("created_ts", 0), m["id"]))

    def get(self, ref="latest"):
        """A snapshot by id, or 'latest' / 'previous' (the one before latest)."""
        snapshots = self.list()
        if ref in ("latest", "previous"):
            index = -1 if ref == "latest" else -2
            if len(snapshots) < -index:
                raise SnapshotNotFound(
                    "no %s snapshot of %s in %s (%d present)" % (ref, self.component, self.dir, len(snapshots))
                )
            return snapshots[index]
        for meta in snapshots:
            if meta["id"] == ref:
                return meta
        known = ", ".join(m["id"] for m in snapshots[-5:]) or "none"
        raise SnapshotNotFound(
            "snapshot %s of %s not found in %s (latest: %s)" % (ref, self.component, self.dir, known)
        )

    def verify(self, ref="latest", names=None):
        """Recompute checksums; raise SnapshotCorrupt naming the first file that differs."""
        meta = ref if isinstance(ref, dict) else self.get(ref)
        base = os.path.join(self.path(meta["id"]), FILES_DIR)
        for item in meta.get("files", []):
            if names is not None and item["name"] not in names:
                continue
            full = os.path.join(base, item["name"])
            if "link" in item:
                if not os.path.islink(full) or os.readlink(full) != item["link"]:
                    raise SnapshotCorrupt("snapshot %s: link %s changed or missing" % (meta["id"], item["name"]))
                continue
            if not os.path.isfile(full):
                raise SnapshotCorrupt("snapshot %s: file %s is missing" % (meta["id"], item["name"]))
            size = os.path.getsize(full)
            if size != item["size"]:
                raise SnapshotCorrupt(
                    "snapshot %s: file %s is %d bytes, expected %d (truncated?)"
                    % (meta["id"], item["name"], size, item["size"])
                )
            digest = sha256_file(full)
            if digest != item["sha256"]:
                raise SnapshotCorrupt(
                    "snapshot %s: checksum mismatch for %s: expected sha256 %s, got %s"
                    % (meta["id"], item["name"], item["sha256"], digest)
                )
        return meta

    def restore_file(self, ref, name, dest, module=None):
        """Verify one file of a snapshot and copy it over dest atomically with its recorded owner/mode."""
        meta = self.verify(ref, names=[name])
        item = next((f for f in meta["files"] if f["name"] == name), None)
        if item is None:
            raise SnapshotNotFound("snapshot %s has no file %s" % (meta["id"], name))
        src = self.file_path(meta, name)
        _atomic.copy_file(src, dest, module=module, preserve_src_attrs=True)
        return meta

    def delete(self, snapshot_id):
        path = self.path(snapshot_id)
        if not os.path.isdir(path):
            raise SnapshotNotFound("snapshot %s of %s not found in %s" % (snapshot_id, self.component, self.dir))
        # Rename first so a half-deleted snapshot never lists as complete.
        trash = os.path.join(self.dir, ".deleting-%s-%s" % (snapshot_id, uuid.uuid4().hex[:8]))
        os.rename(path, trash)
        shutil.rmtree(trash)

    def plan_prune(self, keep, protect=(), among=None):
        """Ids that prune(keep) would delete: the oldest beyond keep, never a protected one.

        `among` narrows the count to some of the component's snapshots (oldest first), e.g.
        those of one database.
        """
        if keep is None or keep < 1:
            return []
        snapshots = self.list() if among is None else among
        excess = len(snapshots) - keep
        doomed = []
        for meta in snapshots:
            if excess <= 0:
                break
            if meta["id"] in protect:
                continue
            doomed.append(meta["id"])
            excess -= 1
        return doomed

    def prune(self, keep, protect=()):
        doomed = self.plan_prune(keep, protect)
        for snapshot_id in doomed:
            self.delete(snapshot_id)
        return doomed
