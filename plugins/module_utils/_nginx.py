# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx: test the configuration, reload, and replace a managed conf file behind that gate.

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import os
import re

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotError, SnapshotStore

DEFAULT_CONF = "/etc/nginx/nginx.conf"
ADDRESS_RE = re.compile(r"^(unix:/[^\s;{}'\"]+|[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}|[A-Za-z0-9.\-]+)$")


def nginx_argument_spec():
    """Options of the emergency.rollback._nginx doc fragment."""
    return dict(
        nginx_conf=dict(type="path", default=DEFAULT_CONF),
        test_command=dict(type="list", elements="str", default=[]),
        reload_command=dict(type="list", elements="str", default=[]),
        keep=dict(type="int", default=20),
    )


def one_line(text, limit=400):
    text = " | ".join(line.strip() for line in (text or "").strip().splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run(module, argv):
    """(rc, one-line output) of argv; rc 127 when the binary cannot be started."""
    try:
        rc, out, err = module.run_command(argv, handle_exceptions=False)
    except OSError as exc:
        return 127, "cannot run %s: %s" % (argv[0], exc.strerror or exc)
    return rc, one_line(err or out)


def default_argv(module, nginx_conf, *extra):
    nginx = module.get_bin_path("nginx")
    if not nginx:
        return None
    return [nginx, "-c", nginx_conf] + list(extra)


def store_name(path):
    """Name of a file inside a snapshot: the config_snapshot layout, so it can restore it."""
    return os.path.abspath(path).lstrip("/")


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except FileNotFoundError:
        return None


class ManagedConf:
    """One conf file this collection renders whole, replaced only behind `nginx -t`.

    apply() tests the live configuration, keeps a safety snapshot of the file it replaces
    (component `traffic`, the config_snapshot layout: `config_snapshot state=restored
    component=traffic snapshot=<id>` puts it back), writes the new file, tests again, puts the
    old file back when that fails, and reloads (never restarts).
    """

    component = "traffic"

    def __init__(self, module, step, path):
        self.module = module
        self.step = step
        self.path = os.path.abspath(path)
        p = module.params
        self.test_argv = list(p["test_command"]) or default_argv(module, p["nginx_conf"], "-t")
        self.reload_argv = list(p["reload_command"]) or default_argv(module, p["nginx_conf"], "-s", "reload")
        if not self.test_argv or not self.reload_argv:
            step.refuse("nginx is not on PATH; set test_command and reload_command; nothing was changed")
        if not os.path.isdir(os.path.dirname(self.path)):
            step.refuse("directory of %s does not exist; nothing was changed" % self.path)
        if p["keep"] < 0:
            step.refuse("keep must be 0 (keep all) or more; nothing was changed")
        self.keep = p["keep"]
        try:
            self.store = SnapshotStore.in_state_dir(p["state_dir"], self.component)
        except SnapshotError as err:
            step.refuse("%s; nothing was changed" % err)

    def current(self):
        try:
            return read_text(self.path)
        except (OSError, UnicodeDecodeError) as err:
            self.step.refuse("cannot read %s: %s; nothing was changed" % (self.path, err))

    def diff(self, before, after):
        return {"before_header": self.path, "after_header": self.path, "before": before or "", "after": after}

    def _put_back(self, before):
        if before is None:
            os.unlink(self.path)
        else:
            _atomic.write_file(self.path, before.encode("utf-8"), module=self.module)

    def plan_prune(self, protect=(), adding=0):
        """Ids of this file's safety snapshots beyond keep, oldest first (`adding` about to be taken,
        counted as the newest and kept)."""
        mine = [m for m in self.store.list() if (m.get("metadata") or {}).get("paths") == [self.path]]
        return self.store.plan_prune(self.keep, protect=tuple(protect) + (None,), among=mine + [{"id": None}] * adding)

    def prune(self, snapshot):
        """Drop this file's safety snapshots beyond keep, never the one just taken; returns their ids."""
        doomed = self.plan_prune(protect=(snapshot["id"],) if snapshot else ())
        for snapshot_id in doomed:
            try:
                self.store.delete(snapshot_id)
            except (OSError, SnapshotError) as err:
                self.module.warn("traffic: could not prune snapshot %s: %s" % (snapshot_id, err))
        return doomed

    def snapshot(self):
        """A safety snapshot of the file as it is now; its ref."""
        meta = {"kind": "pre-change", "paths": [self.path]}
        with self.store.staging(source=self.path, metadata=meta) as stage:
            stage.add_file(self.path, store_name(self.path))
        return self.store.ref(stage.meta)

    def apply(self, before, after, snapshot_optional=False):
        """Replace the file with `after` (text) and reload; returns the safety snapshot ref or None.

        Fails the task (journaled) with the file back as it was when nginx -t or the reload fails.
        snapshot_optional: a change whose undo needs no saved copy goes ahead, with a warning,
        when the snapshot cannot be written (a full state dir).
        """
        rc, out = run(self.module, self.test_argv)
        if rc != 0:
            self.step.refuse(
                "nginx -t fails on the live configuration before any change (%s); nothing was changed" % out
            )
        snapshot = None
        if before is not None:
            try:
                snapshot = self.snapshot()
            except (OSError, SnapshotError) as err:
                if not snapshot_optional:
                    self.step.refuse("cannot keep a safety snapshot of %s: %s; nothing was changed" % (self.path, err))
                self.module.warn("traffic: no safety snapshot of %s (%s); changed without one" % (self.path, err))
        try:
            _atomic.write_file(self.path, after.encode("utf-8"), module=self.module, mode=0o644)
        except OSError as err:
            self.step.fail("cannot write %s: %s; the file is unchanged and nginx was not reloaded" % (self.path, err))
        rc, out = run(self.module, self.test_argv)
        if rc != 0:
            self._revert_or_fail(before, "nginx -t failed with the new %s (%s)" % (self.path, out), snapshot)
        rc, out = run(self.module, self.reload_argv)
        if rc != 0:
            self._revert_or_fail(before, "reloading nginx failed (%s)" % out, snapshot)
        return snapshot

    def converge(self, before, after, result, unchanged, changed, journal_fields, snapshot_optional=False):
        """Exit unchanged when the file already holds `after`; else diff, and apply unless in check mode
        (snapshot_optional: see apply)."""
        result = dict(result, reloaded=False, snapshot=None, pruned=[])
        if before == after:
            self.step.exit(False, message=unchanged, **result)
        diff = self.diff(before, after)
        if self.module.check_mode:
            result["pruned"] = self.plan_prune(adding=1 if before is not None else 0)
            self.module.exit_json(changed=True, diff=diff, **result)
        result["snapshot"] = self.apply(before, after, snapshot_optional=snapshot_optional)
        result["reloaded"] = True
        result["pruned"] = self.prune(result["snapshot"])
        journal_fields = dict(journal_fields, snapshot=result["snapshot"]["path"] if result["snapshot"] else None)
        self.step.exit(True, message=changed, journal_fields=journal_fields, diff=diff, **result)

    def _revert_or_fail(self, before, why, snapshot):
        try:
            self._put_back(before)
        except OSError as err:
            self.step.fail("%s and putting the previous file back failed: %s" % (why, err), snapshot=snapshot)
        self.step.fail("%s; the previous file was put back and nginx was not reloaded" % why, snapshot=snapshot)


def check_address(address):
    """A server address nginx accepts in an upstream (host:port, [v6]:port, host, unix:/path)."""
    return bool(ADDRESS_RE.match(address or ""))
