# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: run_context
short_description: The run id, pid, machine and user of the controller's ansible-playbook process
version_added: 0.1.0
description:
  - Identifies the run a rollback belongs to, the same way in every task, on every host and in
    every play of one C(ansible-playbook) process, and differently in any other process.
  - C(run_id) is C(adhoc-<UTC start time of the process>-<6 hex digits>); the digits are derived
    from the machine name, the process id and its start time, so two runs started in the same
    second on the same controller still get different ids.
  - C(pid) and C(machine) are those of the C(ansible-playbook) process (not of a forked worker);
    the host lock records them, so a lock whose process is gone is taken over at once.
  - C(user) is the controller's effective user (never C(unknown)); with the AWX / AAP variable
    C(awx_user_name) defined it is C(<awx_user_name> (AWX) as <effective user>).
  - Called without terms it returns the whole dictionary; with terms, the named values.
author:
  - emergency.rollback maintainers (@emergency-rollback)
options:
  _terms:
    description: Names of the values to return (V(run_id), V(pid), V(machine), V(user)).
    type: list
    elements: str
    required: false
"""

EXAMPLES = r"""
- name: Take the host lock for this ansible-playbook run
  emergency.rollback.lock:
    run_id: "{{ rollback_run_id | default(lookup('emergency.rollback.run_context', 'run_id'), true) }}"
    pid: "{{ lookup('emergency.rollback.run_context', 'pid') }}"
    machine: "{{ lookup('emergency.rollback.run_context', 'machine') }}"
    owner: "{{ lookup('emergency.rollback.run_context', 'user') }}"

- name: Show the whole context
  ansible.builtin.debug:
    msg: "{{ lookup('emergency.rollback.run_context') }}"
"""

RETURN = r"""
_raw:
  description: The dictionary, or the values named by the terms.
  type: list
  elements: raw
  sample:
    - run_id: adhoc-20261126T101500Z-3fa9c1
      pid: 48213
      machine: ops1
      user: alice
"""

import datetime
import hashlib
import multiprocessing
import os
import pwd
import socket
import subprocess

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

FIELDS = ("run_id", "pid", "machine", "user")


def controller_pid():
    """The ansible-playbook process: tasks are templated in forked workers, whose parent it is."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None else os.getpid()


def process_start(pid):
    """Start time of pid as seconds since the epoch (Linux /proc, else ps)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
            # The command name may hold spaces and parentheses: fields count from the last ')'.
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="ascii") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    try:
        out = subprocess.run(
            ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        return datetime.datetime.strptime(out, "%a %b %d %H:%M:%S %Y").timestamp()
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        raise AnsibleLookupError("run_context: cannot read the start time of process %d: %s" % (pid, err)) from None


def context(variables=None):
    pid = controller_pid()
    machine = socket.gethostname()
    started = process_start(pid)
    stamp = datetime.datetime.fromtimestamp(int(started), datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = hashlib.sha256(("%s\0%d\0%.2f" % (machine, pid, started)).encode()).hexdigest()[:6]
    user = pwd.getpwuid(os.geteuid()).pw_name
    awx_user = (variables or {}).get("awx_user_name")
    if awx_user:
        user = "%s (AWX) as %s" % (awx_user, user)
    return {"run_id": "adhoc-%s-%s" % (stamp, suffix), "pid": pid, "machine": machine, "user": user}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        found = context(variables)
        if not terms:
            return [found]
        unknown = [t for t in terms if t not in FIELDS]
        if unknown:
            raise AnsibleLookupError(
                "run_context: unknown value %s (known: %s)" % (", ".join(map(str, unknown)), ", ".join(FIELDS))
            )
        return [found[t] for t in terms]
