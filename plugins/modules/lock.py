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
  - O(verdict) goes with O(state=absent) only.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback._run_lock.verdict
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

- name: Journal the verdict of the run and release the lock in one module run
  emergency.rollback.lock:
    run_id: "{{ rollback_run_id }}"
    state: absent
    verdict:
      component: app
      action: verify
      result: ok
      summary: "health checked: https://shop.example.com/health"
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
journal_entry:
  description:
    - The entry this run wrote, the O(verdict) when given, otherwise the lock's own entry.
  returned: when an entry was written (not in check mode, not when nothing changed hands)
  type: dict
  sample: {"run_id": "rb-1", "ts": "2026-11-23T18:45:00.000Z", "host": "web1", "component": "app",
           "action": "verify", "from": null, "to": "20261118", "snapshot": null, "duration_s": 1.2,
           "result": "ok", "message": "health checked: https://shop.example.com/health"}
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import entry_argument_spec, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._lock import (
    release_for_module,
    take_for_module,
    verdict_then_release,
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
                verdict=dict(type="dict", options=entry_argument_spec()),
            )
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["run_id"]:
        module.fail_json(msg="lock: run_id must not be empty")
    if p["ttl"] < 0:
        module.fail_json(msg="lock: ttl must be 0 or more seconds")
    if p["verdict"] and p["state"] != "absent":
        module.fail_json(msg="lock: verdict goes with state=absent (the run's last entry before its release)")
    owner = p["owner"] or pwd.getpwuid(os.geteuid()).pw_name
    if p["state"] == "present":
        changed, result = take_for_module(module, p["run_id"], owner, p["pid"], p["machine"], p["ttl"])
    elif p["verdict"]:
        # The verdict first, so the journal reads as with journal_record then lock: one process less.
        changed, result = verdict_then_release(module, p["verdict"], p["force"])
    else:
        changed, result = release_for_module(module, p["run_id"], p["force"])
    if result.get("journal_entry") is None:
        result.pop("journal_entry", None)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
