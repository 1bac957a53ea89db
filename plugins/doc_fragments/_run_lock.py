# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

from __future__ import annotations


class ModuleDocFragment:
    # The host lock taken by a module as its first step (release_info, release).
    LOCK = r"""
options:
  lock:
    description:
      - Take the host lock for O(run_id) first, exactly as M(emergency.rollback.lock) does (same
        lock file, same journal line, fails naming the holder when another run holds it), then
        work under it; a role's first steps in one module run on the host.
      - If the task fails after taking it, the lock this task took is released again.
      - Needs O(run_id).
    type: dict
    suboptions:
      owner:
        description: Who is running the rollback. Default the effective user on the target.
        type: str
      pid:
        description: Process id that lives as long as the run (see M(emergency.rollback.lock)).
        type: int
      machine:
        description: Name of the machine O(lock.pid) lives on.
        type: str
      ttl:
        description: Seconds after which the lock counts as stale whatever its pid. V(0) means never.
        type: int
        default: 3600
"""

    # The run's verdict journaled by the module that ends the run, before it releases the lock (lock, release).
    VERDICT = r"""
options:
  verdict:
    description:
      - The run's verdict, journaled as the run's last entry before the host lock of O(run_id) is
        released; the same journal lines as M(emergency.rollback.journal_record) followed by
        M(emergency.rollback.lock) with O(emergency.rollback.lock#module:state=absent), without
        their module runs. Returned as RV(journal_entry).
    type: dict
    suboptions:
      component:
        description: Component the entry belongs to (C(app), C(database), ...).
        type: str
        required: true
      action:
        description: What was done (C(verify) for a role's verdict).
        type: str
        required: true
      result:
        description: How it ended, as in M(emergency.rollback.journal_record).
        type: str
        choices: [ok, changed, failed, reverted, skipped, not_verified]
        default: ok
      from:
        description: State before the step.
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
        description: Extra fields kept with the entry.
        type: dict
"""
