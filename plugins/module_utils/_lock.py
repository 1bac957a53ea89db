# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One rollback at a time per host: a lock file naming its holder.

PRIVATE to this collection: the leading underscore means no API promise.

The holder is identified by run_id. A lock is stale when the process that took it
(pid on the recorded machine) is gone, or when its ttl has expired; a stale lock is
taken over and the caller is told so.

Races are decided by the file system alone: the lock file appears complete in one link(2)
(which fails when it exists), and a takeover of a stale lock is serialised by a second file
taken the same way, so of two racing runs exactly one proceeds. Only the run that holds the
lock releases it.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import socket
import time
import uuid

LOCK_NAME = "rollback.lock"
# A takeover guard older than this was left by a process killed mid-takeover.
GUARD_STALE_S = 60


class LockHeld(Exception):
    def __init__(self, holder, path):
        self.holder = holder
        self.path = path
        super().__init__(describe_holder(holder, path))


class LockError(Exception):
    pass


class _TakeoverBusy(Exception):
    """Another run is taking the same stale lock over right now."""


def describe_holder(holder, path):
    since = holder.get("since")
    if isinstance(since, (int, float)):
        # timezone.utc, not datetime.UTC: this runs on targets with Python 3.9.
        since = datetime.datetime.fromtimestamp(since, datetime.timezone.utc).isoformat(timespec="seconds")
    if holder.get("unreadable"):
        return "the lock %s is held but unreadable (since %s); remove it by hand if no rollback runs" % (path, since)
    return "another rollback holds the lock %s: run_id=%s pid=%s on %s by %s since %s" % (
        path,
        holder.get("run_id"),
        holder.get("pid"),
        holder.get("machine"),
        holder.get("user"),
        since,
    )


def pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (TypeError, ValueError, OverflowError):
        return False
    return True


class HostLock:
    def __init__(self, path, machine=None):
        self.path = path
        self.machine = machine or socket.gethostname()

    @classmethod
    def in_state_dir(cls, state_dir):
        return cls(os.path.join(state_dir, LOCK_NAME))

    def read(self):
        """The current holder as a dict, None when free. An unreadable file counts as held by 'unknown'."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        try:
            holder = json.loads(data)
            if not isinstance(holder, dict):
                raise ValueError("not an object")
        except ValueError:
            st = os.stat(self.path)
            holder = {
                "run_id": None,
                "pid": None,
                "machine": None,
                "user": None,
                "unreadable": True,
                "since": st.st_mtime,
                "ttl": None,
            }
        return holder

    def stale_reason(self, holder, now=None):
        now = time.time() if now is None else now
        pid = holder.get("pid")
        if pid and holder.get("machine") == self.machine and not pid_alive(pid):
            return "holder pid %s on %s is gone" % (pid, self.machine)
        ttl = holder.get("ttl")
        since = holder.get("since")
        if ttl and isinstance(since, (int, float)) and now - since > ttl:
            return "held for %ds, longer than its ttl of %ds" % (now - since, ttl)
        return None

    def status(self, run_id):
        """('free'|'ours'|'stale'|'held', holder, stale_reason) without changing anything."""
        holder = self.read()
        if holder is None:
            return "free", None, None
        if run_id is not None and holder.get("run_id") == run_id:
            return "ours", holder, None
        reason = self.stale_reason(holder)
        if reason:
            return "stale", holder, reason
        return "held", holder, None

    def acquire(self, run_id, pid=None, user=None, ttl=None, machine=None):
        """Take the lock for run_id. Returns (changed, warning). Raises LockHeld."""
        if not run_id:
            raise LockError("a run_id is required to take the lock")
        record = {"run_id": run_id, "pid": pid, "machine": machine or self.machine, "user": user, "ttl": ttl}
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o750, exist_ok=True)
        deadline = time.monotonic() + 10
        while True:
            state, holder, reason = self.status(run_id)
            if state == "ours":
                return False, None
            if state == "held":
                raise LockHeld(holder, self.path)
            record["since"] = time.time()
            if state == "free":
                self._create(record)
                return True, None
            try:
                self._take_over(holder, record)
            except _TakeoverBusy:
                # Wait for the other taker to finish, then judge its lock like any other.
                if time.monotonic() > deadline:
                    raise LockHeld(self.read() or holder, self.path) from None
                time.sleep(0.02)
                continue
            return True, "took over a stale lock (%s): %s" % (reason, describe_holder(holder, self.path))

    def _create(self, record):
        """Create the lock file whole, or raise LockHeld naming whoever created it first."""
        tmp = "%s.%s.tmp" % (self.path, uuid.uuid4().hex)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            os.write(fd, json.dumps(record, sort_keys=True).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            raise LockHeld(self.read() or {}, self.path) from None
        finally:
            os.unlink(tmp)

    def _take_over(self, holder, record):
        """Replace the stale lock `holder`; of several runs doing this at once, exactly one wins."""
        guard = self.path + ".takeover"
        try:
            fd = os.open(guard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except FileExistsError:
            try:
                if time.time() - os.stat(guard).st_mtime > GUARD_STALE_S:
                    os.unlink(guard)
            except FileNotFoundError:
                pass
            raise _TakeoverBusy() from None
        try:
            current = self.read()
            if current != holder:
                raise LockHeld(current or {}, self.path)
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self._create(record)
        finally:
            os.close(fd)
            os.unlink(guard)

    def release(self, run_id, force=False):
        """Release the lock if run_id holds it (or with force). Returns changed. Raises LockHeld otherwise."""
        holder = self.read()
        if holder is None:
            return False
        if holder.get("run_id") != run_id and not force:
            raise LockHeld(holder, self.path)
        try:
            os.unlink(self.path)
        except OSError as err:
            if err.errno != errno.ENOENT:
                raise
            return False
        return True
