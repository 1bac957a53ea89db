# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Container images by id through the docker or podman CLI (whichever the host has).

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import re

ENGINES = ("podman", "docker")
HEX_ID = re.compile(r"^(sha256:)?[0-9a-f]{12,64}$")
TAG_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


class ContainerError(Exception):
    pass


def normalize_id(image_id):
    """podman prints bare hex, docker 'sha256:<hex>': compare them as bare hex."""
    if not image_id:
        return None
    image_id = image_id.strip()
    return image_id[len("sha256:") :] if image_id.startswith("sha256:") else image_id


def keep_tag(tag, stamp):
    """A tag that keeps a replaced image from being pruned: <tag>-pre-rollback-<stamp>, at most 128 chars."""
    return TAG_BAD_CHARS.sub("_", "%s-pre-rollback-%s" % (tag, stamp))[:128]


class Engine:
    """The CLI of one engine; `run(argv)` returns (rc, stdout, stderr) like module.run_command."""

    def __init__(self, binary, run):
        self.binary = binary
        self.run = run

    @property
    def name(self):
        return self.binary.rsplit("/", 1)[-1]

    @classmethod
    def find(cls, which, run, engine="auto"):
        """which(name) -> path or None, as module.get_bin_path."""
        names = ENGINES if engine == "auto" else (engine,)
        for name in names:
            path = which(name)
            if path:
                return cls(path, run)
        raise ContainerError("no %s CLI found on this host" % " or ".join(names))

    def image_id(self, ref):
        """Bare hex id of an image reference (name:tag or id), None when there is no such image."""
        rc, out, _err = self.run([self.binary, "image", "inspect", "--format", "{{.Id}}", ref])
        if rc != 0 or not out.strip():
            return None
        return normalize_id(out.strip().splitlines()[0])

    def tag(self, source, target):
        rc, _out, err = self.run([self.binary, "tag", source, target])
        if rc != 0:
            raise ContainerError("%s tag %s %s failed: %s" % (self.name, source, target, err.strip() or "rc=%d" % rc))

    def untag(self, ref):
        rc, _out, err = self.run([self.binary, "rmi", ref])
        if rc != 0:
            raise ContainerError("%s rmi %s failed: %s" % (self.name, ref, err.strip() or "rc=%d" % rc))
