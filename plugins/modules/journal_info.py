#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: journal_info
short_description: Read the rollback journal of a host
version_added: 0.1.0
description:
  - Reads C(<state_dir>/journal.jsonl), optionally only one run or one component, and its last entries.
  - A line that is not a journal entry (for example cut short by a crash) is reported in RV(problems)
    and the rest is still read.
  - Also reports the current holder of the host lock, and the safety copies the host keeps (RV(safety_copies)),
    read from the state directory alone.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Only reads in check mode.
  diff_mode:
    support: none
    description: Nothing to show a difference of.
options:
  tail:
    description:
      - Return only the last this many matching entries. V(0) returns all.
    type: int
    default: 50
  component:
    description:
      - Only entries of this component.
    type: str
  filter_run_id:
    description:
      - Only entries of this run.
    type: str
notes:
  - The common O(run_id) option is accepted for C(module_defaults) but does not filter; use O(filter_run_id).
"""

EXAMPLES = r"""
- name: Last 20 steps on each host
  emergency.rollback.journal_info:
    tail: 20
  register: journal

- name: Every step of one run
  emergency.rollback.journal_info:
    filter_run_id: rb-20261123-1845
    tail: 0
"""

RETURN = r"""
entries:
  description: Journal entries, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"run_id": "rb-1", "ts": "2026-11-23T18:45:00.000Z", "host": "web1", "component": "app",
            "action": "switch", "from": "20261120", "to": "20261118", "snapshot": null,
            "duration_s": 0.012, "result": "changed", "message": "release 20261118 live"}]
problems:
  description: Lines that could not be read as entries, with their line number and why.
  returned: always
  type: list
  elements: dict
  sample: [{"line": 7, "error": "not valid JSON: Expecting value: line 1 column 1 (char 0)"}]
total:
  description: Number of matching entries before O(tail) was applied.
  returned: always
  type: int
  sample: 42
lock:
  description: The holder of the host lock, null when free.
  returned: always
  type: dict
  sample: {"run_id": "rb-1", "pid": 4242, "machine": "ops1", "user": "alice", "since": 1795459498.2, "ttl": 3600}
safety_copies:
  description:
    - What the host keeps so a rollback can itself be undone, read from C(<state_dir>) without a database login
      (I(name) is a directory or a database name); delete them only on purpose.
    - V(pre_pitr data directory) and V(reverted_pitr data directory) are the data directories
      M(emergency.rollback.pg_pitr) set aside (found on disk beside the cluster it recorded);
      V(pre-restore database) and V(reverted database) are the last ones M(emergency.rollback.pg_restore_safe)
      recorded per database (older ones kept by its retention are in the server only); V(pre-restore dump) is a
      dump of the live database taken before a restore.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "pre_pitr data directory", "name": "/var/lib/postgresql/15/main.pre_pitr-20261123T184501Z",
            "of": "/var/lib/postgresql/15/main"},
           {"kind": "pre-restore database", "name": "shop_pre_rollback_20261123184512", "of": "localhost_5432_shop",
            "since": "2026-11-23T18:45:12Z"}]
path:
  description: Path of the journal file.
  returned: always
  type: str
  sample: /var/lib/emergency-rollback/journal.jsonl
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import with_common
from ansible_collections.emergency.rollback.plugins.module_utils._journal import Journal
from ansible_collections.emergency.rollback.plugins.module_utils._lock import HostLock
from ansible_collections.emergency.rollback.plugins.module_utils._safety import safety_copies


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                tail=dict(type="int", default=50),
                component=dict(type="str"),
                filter_run_id=dict(type="str"),
            )
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["tail"] < 0:
        module.fail_json(msg="journal_info: tail must be 0 or more")
    journal = Journal.in_state_dir(p["state_dir"])
    try:
        entries, problems = journal.read(run_id=p["filter_run_id"], component=p["component"])
        holder = HostLock.in_state_dir(p["state_dir"]).read()
        copies = safety_copies(p["state_dir"])
    except OSError as err:
        module.fail_json(msg="journal_info: cannot read %s: %s" % (journal.path, err))
    total = len(entries)
    if p["tail"]:
        entries = entries[-p["tail"] :]
    module.exit_json(
        changed=False,
        entries=entries,
        problems=problems,
        total=total,
        lock=holder,
        safety_copies=copies,
        path=journal.path,
    )


if __name__ == "__main__":
    main()
