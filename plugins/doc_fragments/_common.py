# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

from __future__ import annotations


class ModuleDocFragment:
    # Options every emergency.rollback module accepts, so module_defaults for
    # group/emergency.rollback.all can point a whole play at one state_dir and run_id.
    DOCUMENTATION = r"""
attributes:
  action_group:
    description: Use C(group/emergency.rollback.all) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - emergency.rollback.all
options:
  state_dir:
    description:
      - Directory on the target that holds the journal (C(journal.jsonl)), the snapshot store
        (C(snapshots/<component>/)) and the host lock (C(rollback.lock)).
    type: path
    default: /var/lib/emergency-rollback
  run_id:
    description:
      - Identifier of the rollback run this step belongs to. Written to every journal entry so
        reports can group the steps of one run; also the identity of the host lock holder.
    type: str
  journal:
    description:
      - Append a JSON line describing this step to C(<state_dir>/journal.jsonl).
      - Nothing is journaled in check mode.
    type: bool
    default: true
notes:
  - Each run that is not in check mode appends one line to the host journal with the run_id,
    time, host, component, action, from, to, snapshot, duration and result. Values of options
    marked C(no_log) are masked in it.
"""
