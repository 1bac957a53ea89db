#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: journal_record
short_description: Write a step that has no module of its own to the rollback journal
version_added: 0.1.0
description:
  - Appends one entry to C(<state_dir>/journal.jsonl), for steps a role takes with other modules
    (a service restart, a maintenance page, an automatic revert) so that the journal stays the
    complete record of a rollback.
  - Reports a change (the journal grew); in check mode nothing is written.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Writes nothing in check mode.
  diff_mode:
    support: none
    description: The journal only grows; there is no difference worth showing.
options:
  component:
    description: Component the step belongs to (C(app), C(database), C(ssl), ...).
    type: str
    required: true
  action:
    description: What was done (C(restart), C(maintenance_on), C(auto_revert), ...).
    type: str
    required: true
  result:
    description:
      - How it ended.
      - V(not_verified) means the step ran but nothing could prove it worked (no health URLs, no
        checks); the roles write it as their verdict, with a summary that starts C(not verified) and says why.
    type: str
    choices: [ok, changed, failed, reverted, skipped, not_verified]
    default: ok
  from:
    description: State before the step (a release id, a URL, a fingerprint).
    type: str
    aliases: [from_]
  to:
    description: State after the step.
    type: str
  snapshot:
    description: Snapshot the step kept, if any.
    type: str
  duration_s:
    description: How long the step took, in seconds.
    type: float
  summary:
    description: One line for the person reading the report (the entry's C(message)).
    type: str
  details:
    description: Further figures to keep with the entry (counts, checksums). Never secrets.
    type: dict
"""

EXAMPLES = r"""
- name: Record the service restart
  emergency.rollback.journal_record:
    run_id: "{{ rollback_run_id }}"
    component: app
    action: restart
    result: changed
    summary: shop.service restarted
"""

RETURN = r"""
journal_entry:
  description: The entry as written (null in check mode).
  returned: always
  type: dict
  sample: {"run_id": "rb-1", "ts": "2026-11-23T18:45:00.000Z", "host": "web1", "component": "app",
           "action": "verify", "from": null, "to": "20261118", "snapshot": null, "duration_s": 1.2,
           "result": "ok", "message": "health checks passed"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import (
    entry_argument_spec,
    record_entry,
    with_common,
)


def main():
    module = AnsibleModule(argument_spec=with_common(entry_argument_spec()), supports_check_mode=True)
    p = module.params
    entry = record_entry(module, p)
    module.exit_json(changed=not module.check_mode and p["journal"], journal_entry=entry)


if __name__ == "__main__":
    main()
