# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: rollback_proceed
short_description: Whether a rollback goes ahead, from a decision and an analysis phase
version_added: 0.1.0
description:
  - The rule the complete rollback's assess phase applies to what C(rollback_decision) and the
    C(analysis) module found, with a one-line reason either way.
  - It proceeds when the decision level is V(immediate), or V(urgent) / V(consideration) with a named
    approver, or when the analysis phase is V(Failed) or V(Error). Either one is enough.
  - It stops on level V(none), on V(urgent) / V(consideration) without an approver (naming who must
    approve and by when), on an analysis V(Successful) (nothing to roll back) or V(Inconclusive)
    (a person decides), unless O(force) is true.
  - Without a decision and without an analysis it proceeds, as a rollback someone started by hand does.
author:
  - emergency.rollback maintainers (@emergency-rollback)
positional: _input, analysis
options:
  _input:
    description: The result of C(rollback_decision), or null when no metrics were given.
    type: dict
  analysis:
    description: Phase of the C(analysis) module's run (V(Successful), V(Inconclusive), V(Error), V(Failed)), or null.
    type: str
  approved_by:
    description: Who approved the rollback (for the V(urgent) and V(consideration) levels).
    type: str
  force:
    description: Proceed even when the rule says stop; the reason says it was forced.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Stop unless the policy or the analysis says roll back
  ansible.builtin.fail:
    msg: "{{ go.reason }}"
  when: not go.proceed
  vars:
    go: "{{ (measured | emergency.rollback.rollback_decision) | emergency.rollback.rollback_proceed(analysis.phase) }}"
"""

RETURN = r"""
_value:
  description: C(proceed) (bool) and C(reason) (one line).
  type: dict
  sample: {"proceed": false, "reason": "urgent: p95 latency above 2 s for 5 minutes (p95_latency_s = 2.4);
           needs the approval of on_call_engineer, team_lead before 2026-11-23T19:00:00Z (rollback_approved_by)"}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.plugin_utils._decision import PolicyError, proceed


def rollback_proceed(decision, analysis=None, approved_by=None, force=False):
    try:
        return proceed(decision or None, analysis or None, approved_by or None, bool(force))
    except PolicyError as err:
        raise AnsibleFilterError("rollback_proceed: %s" % err) from None


class FilterModule:
    def filters(self):
        return {"rollback_proceed": rollback_proceed}
