#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lock
short_description: Take or release the one-rollback-at-a-time lock of a host
version_added: 0.1.0
description:
  - A host runs one rollback at a time. This module takes the lock file
    C(<state_dir>/rollback.lock) for O(run_id), or releases it.
  - A second run fails at once with a message naming the holder (run_id, pid, machine, user, since).
  - A stale lock is taken over with a warning. A lock is stale when the process that took it
    (O(pid) on O(machine)) is gone, or when it is older than its O(ttl).
  - Of two runs taking the lock at the same moment exactly one gets it; the lock file alone
    decides (it is created whole with one C(link), which fails when it exists).
  - Only the run that holds the lock releases it; another run's lock, stale or not, is left in
    place (with O(force=true) it is removed).
  - The C(emergency.rollback.run_context) lookup gives O(run_id), O(pid), O(machine) and O(owner)
    for plain C(ansible-playbook) runs.
  - Taking a lock the same O(run_id) already holds changes nothing.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Reports whether the lock could be taken or released, without writing it.
  diff_mode:
    support: full
    description: Shows the holder before and after.
options:
  state:
    description:
      - V(present) takes the lock, V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description:
      - Identity of the run taking or releasing the lock. Required here.
    type: str
    required: true
  pid:
    description:
      - Process id that lives as long as the run (for example the C(rollbackctl) or
        C(ansible-playbook) process when it runs on this host). Used to detect a stale lock.
    type: int
  machine:
    description:
      - Name of the machine O(pid) lives on. A dead O(pid) marks the lock stale only when this is
        the target's own hostname.
    type: str
  owner:
    description:
      - Who is running the rollback, shown to anyone who finds the lock held.
      - Default the effective user the module runs as on the target.
    type: str
  ttl:
    description:
      - Seconds after which the lock counts as stale whatever its pid. V(0) means never.
    type: int
    default: 3600
  force:
    description:
      - With O(state=absent), release a lock held by another run.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Take the host lock for this rollback
  emergency.rollback.lock:
    run_id: "{{ lookup('emergency.rollback.run_context', 'run_id') }}"
    pid: "{{ lookup('emergency.rollback.run_context', 'pid') }}"
    machine: "{{ lookup('emergency.rollback.run_context', 'machine') }}"
    owner: "{{ lookup('emergency.rollback.run_context', 'user') }}"
    ttl: 1800

- name: Release it, whatever happened before
  emergency.rollback.lock:
    run_id: "{{ rollback_run_id }}"
    state: absent
"""

RETURN = r"""
holder:
  description: The lock's holder after the task, null when free.
  returned: always
  type: dict
  sample:
    run_id: rb-20261123-1845
    pid: 4242
    machine: ops1
    user: alice
    since: 1795463100.5
    ttl: 3600
previous_holder:
  description: The holder found before the task, null when the lock was free.
  returned: always
  type: dict
  sample:
    run_id: adhoc-20261126T101500Z-3fa9c1
    pid: 48213
    machine: ops1
    user: bob
    since: 1795463000.1
    ttl: 3600
path:
  description: Path of the lock file.
  returned: always
  type: str
  sample: /var/lib/emergency-rollback/rollback.lock
"""

import os
import pwd
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._lock import (
    HostLock,
    LockError,
    LockHeld,
    describe_holder,
)


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                state=dict(type="str", choices=["present", "absent"], default="present"),
                run_id=dict(type="str", required=True),
                pid=dict(type="int"),
                machine=dict(type="str"),
                owner=dict(type="str"),
                ttl=dict(type="int", default=3600),
                force=dict(type="bool", default=False),
            )
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["run_id"]:
        module.fail_json(msg="lock: run_id must not be empty")
    if p["ttl"] < 0:
        module.fail_json(msg="lock: ttl must be 0 or more seconds")
    owner = p["owner"] or pwd.getpwuid(os.geteuid()).pw_name
    lock = HostLock.in_state_dir(p["state_dir"])
    step = Step(module, "lock", "acquire" if p["state"] == "present" else "release")
    state, holder, stale = lock.status(p["run_id"])
    result = dict(path=lock.path, previous_holder=holder)

    if p["state"] == "present":
        if state == "ours":
            module.exit_json(changed=False, holder=holder, **result)
        if state == "held":
            # Not journaled as ours: the journal belongs to the run that holds the lock.
            module.fail_json(msg="lock: %s" % describe_holder(holder, lock.path), holder=holder, **result)
        new = dict(
            run_id=p["run_id"],
            pid=p["pid"],
            machine=p["machine"] or lock.machine,
            user=owner,
            since=time.time(),
            ttl=p["ttl"] or None,
        )
        diff = dict(before=holder or {}, after=new)
        if stale:
            module.warn("lock: taking over a stale lock (%s): %s" % (stale, describe_holder(holder, lock.path)))
        if module.check_mode:
            module.exit_json(changed=True, holder=new, diff=diff, **result)
        try:
            changed, _warning = lock.acquire(
                p["run_id"], pid=p["pid"], user=owner, ttl=p["ttl"] or None, machine=p["machine"]
            )
        except LockHeld as err:
            module.fail_json(msg="lock: %s" % err, holder=err.holder, **result)
        except (LockError, OSError) as err:
            module.fail_json(msg="lock: cannot take %s: %s" % (lock.path, err), **result)
        step.exit(
            changed,
            message="lock taken",
            journal_fields={"to": p["run_id"], "from_": (holder or {}).get("run_id")},
            holder=lock.read(),
            diff=diff,
            **result,
        )

    if state == "free":
        module.exit_json(changed=False, holder=None, **result)
    if state == "stale" and not p["force"]:
        # Not ours: the next run takes a stale lock over; only its owner (or force) removes it.
        module.warn("lock: not releasing a lock this run does not hold: %s" % describe_holder(holder, lock.path))
        module.exit_json(changed=False, holder=holder, **result)
    if state == "held" and not p["force"]:
        module.fail_json(
            msg="lock: not releasing, %s (use force=true)" % describe_holder(holder, lock.path), holder=holder, **result
        )
    diff = dict(before=holder, after={})
    if module.check_mode:
        module.exit_json(changed=True, holder=None, diff=diff, **result)
    try:
        changed = lock.release(p["run_id"], force=True)
    except OSError as err:
        module.fail_json(msg="lock: cannot release %s: %s" % (lock.path, err), **result)
    step.exit(
        changed,
        message="lock released",
        journal_fields={"from_": holder.get("run_id")},
        holder=None,
        diff=diff,
        **result,
    )


if __name__ == "__main__":
    main()
