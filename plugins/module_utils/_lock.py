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
import pwd
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


def take_for_module(module, run_id, owner, pid=None, machine=None, ttl=3600):
    """Take the host lock for a module, journaled like the lock module; fails the module when held.

    Returns (changed, result) with holder, path, previous_holder and diff. Shared by the lock
    module and the modules that take the lock in the same process as their first step.
    """
    # Imported here: _common pulls the journal in, which a plain HostLock user does not need.
    from ansible_collections.emergency.rollback.plugins.module_utils._common import Step

    lock = HostLock.in_state_dir(module.params["state_dir"])
    state, holder, stale = lock.status(run_id)
    result = dict(path=lock.path, previous_holder=holder)
    if state == "ours":
        return False, dict(result, holder=holder)
    if state == "held":
        # Not journaled as ours: the journal belongs to the run that holds the lock.
        module.fail_json(msg="lock: %s" % describe_holder(holder, lock.path), holder=holder, **result)
    new = dict(
        run_id=run_id,
        pid=pid,
        machine=machine or lock.machine,
        user=owner,
        since=time.time(),
        ttl=ttl or None,
    )
    result["diff"] = dict(before=holder or {}, after=new)
    if stale:
        module.warn("lock: taking over a stale lock (%s): %s" % (stale, describe_holder(holder, lock.path)))
    if module.check_mode:
        return True, dict(result, holder=new)
    step = Step(module, "lock", "acquire")
    try:
        changed, _warning = lock.acquire(run_id, pid=pid, user=owner, ttl=ttl or None, machine=machine)
    except LockHeld as err:
        module.fail_json(msg="lock: %s" % err, holder=err.holder, **result)
    except (LockError, OSError) as err:
        module.fail_json(msg="lock: cannot take %s: %s" % (lock.path, err), **result)
    step.record("changed" if changed else "ok", message="lock taken", to=run_id, from_=(holder or {}).get("run_id"))
    result.update(holder=lock.read(), journal_entry=step.entry, duration_s=round(step.elapsed(), 3))
    return changed, result


def release_for_module(module, run_id, force=False):
    """Release the host lock of run_id for a module, journaled like the lock module.

    Returns (changed, result); fails the module on a lock another run holds unless force.
    """
    from ansible_collections.emergency.rollback.plugins.module_utils._common import Step

    lock = HostLock.in_state_dir(module.params["state_dir"])
    state, holder, _stale = lock.status(run_id)
    result = dict(path=lock.path, previous_holder=holder)
    if state == "free":
        return False, dict(result, holder=None)
    if state == "stale" and not force:
        # Not ours: the next run takes a stale lock over; only its owner (or force) removes it.
        module.warn("lock: not releasing a lock this run does not hold: %s" % describe_holder(holder, lock.path))
        return False, dict(result, holder=holder)
    if state == "held" and not force:
        module.fail_json(
            msg="lock: not releasing, %s (use force=true)" % describe_holder(holder, lock.path), holder=holder, **result
        )
    result["diff"] = dict(before=holder, after={})
    if module.check_mode:
        return True, dict(result, holder=None)
    step = Step(module, "lock", "release")
    try:
        changed = lock.release(run_id, force=True)
    except OSError as err:
        module.fail_json(msg="lock: cannot release %s: %s" % (lock.path, err), **result)
    step.record("changed" if changed else "ok", message="lock released", from_=holder.get("run_id"))
    result.update(holder=None, journal_entry=step.entry, duration_s=round(step.elapsed(), 3))
    return changed, result


def lock_argument_spec():
    """The lock option of the modules that take the host lock as their first step (doc fragment _run_lock.lock)."""
    return dict(
        type="dict",
        options=dict(
            owner=dict(type="str"),
            pid=dict(type="int"),
            machine=dict(type="str"),
            ttl=dict(type="int", default=3600),
        ),
    )


def take_first(module, name):
    """Take the host lock module.params['lock'] asks for, as the module's first step.

    Returns (changed, lock) as take_for_module does. Until the module exits, a failure of the
    module gives back the lock this process took first: nothing stays held by a run that stops
    there (the journal shows the release). A failure that says lock_kept=True (it changed the host
    and the caller reverts under the lock, then releases it) keeps it.
    """
    p = module.params
    options = p["lock"]
    if options["ttl"] < 0:
        module.fail_json(msg="%s: lock.ttl must be 0 or more seconds" % name)
    owner = options["owner"] or pwd.getpwuid(os.geteuid()).pw_name
    changed, lock = take_for_module(module, p["run_id"], owner, options["pid"], options["machine"], options["ttl"])
    if changed and not module.check_mode:
        fail_json = module.fail_json

        def give_back_then_fail(*args, **kwargs):
            module.fail_json = fail_json
            if not kwargs.get("lock_kept"):
                release_for_module(module, p["run_id"])
            fail_json(*args, **kwargs)

        module.fail_json = give_back_then_fail
    return changed, lock


def verdict_then_release(module, verdict, force=False):
    """Journal the run's verdict (entry_argument_spec options), then release the lock of the run.

    Returns (changed, lock result with journal_entry set to the verdict): the lock module's
    state=absent with verdict, shared by the modules that end a run.
    """
    from ansible_collections.emergency.rollback.plugins.module_utils._common import record_entry

    entry = record_entry(module, verdict)
    changed, result = release_for_module(module, module.params["run_id"], force)
    result["journal_entry"] = entry
    return changed, result
