# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: rollback_decision
short_description: Decide whether to roll back from measured metrics and a decision matrix
version_added: 0.1.0
description:
  - Evaluates the runbooks' decision matrix (a policy) against measured metrics and returns the
    level (V(immediate), V(urgent), V(consideration) or V(none)), the triggers that fired with
    their values and thresholds, the deadline to act and who has to approve.
  - The most severe level with at least one fired trigger wins; triggers of less severe levels
    that fired are returned too.
  - The default policy ships with the collection as C(plugins/filter/policies/default.yml).
    It says immediate when the error rate is above 5 % for 2 minutes, the site is down for more than
    1 minute, payments fail or data is corrupted; urgent when p95 latency is above 2 s, the
    error rate above 1 % or a critical feature broken for 5 minutes; consideration when p95
    latency is above 1 s or the error rate above 0.5 % for 15 minutes, or 10 support tickets
    came in.
author:
  - emergency.rollback maintainers (@emergency-rollback)
positional: _input, policy
options:
  _input:
    description:
      - Measured metrics, a mapping of metric name to a number or to C({value, for_s}).
      - C(for_s) is how long, in seconds, the value has held. A plain number counts as measured
        over the whole window of every trigger (for example a Prometheus C(min_over_time) query).
      - A metric the policy does not declare is an error, so a misspelt name cannot hide a trigger.
        A metric left out (or null) is listed in RV(_value.missing_metrics) and fires nothing.
    type: dict
    required: true
  policy:
    description:
      - The decision matrix, a mapping or the path of a YAML file, shaped like the default policy
        C(metrics) (name -> description) and C(levels) (V(immediate), V(urgent), V(consideration),
        each with C(max_decision_time_s), C(approvers) and C(triggers) of C(metric), C(op),
        C(threshold), C(duration_s)).
      - Validated before use; an unknown metric, a threshold that is not a number or a trigger
        without C(duration_s) fails with a one-line message.
      - Omit it for the default policy.
    type: raw
  now:
    description: Time the deadline counts from (ISO 8601); default the current UTC time.
    type: str
"""

EXAMPLES = r"""
- name: Decide from what Prometheus measured
  ansible.builtin.set_fact:
    decision: "{{ measured | emergency.rollback.rollback_decision }}"
  vars:
    measured:
      error_rate_pct: {value: 7.5, for_s: 180}
      p95_latency_s: 0.8

- name: Decide with the team's own matrix
  ansible.builtin.set_fact:
    decision: "{{ measured | emergency.rollback.rollback_decision(policy=playbook_dir ~ '/policy.yml') }}"

- name: Stop for a person unless the matrix says immediate
  ansible.builtin.pause:
    prompt: "{{ decision.level }}: {{ decision.approvers | join(', ') }} must approve before {{ decision.deadline }}"
  when: decision.level in ['urgent', 'consideration']
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    level:
      description: V(immediate), V(urgent), V(consideration) or V(none).
      type: str
      sample: immediate
    triggers:
      description: Every trigger that fired, most severe level first, with C(level), C(metric),
        C(op), C(threshold), C(duration_s), C(value), C(for_s) and C(description).
      type: list
      elements: dict
      sample: [{"level": "immediate", "metric": "error_rate_pct", "op": ">", "threshold": 5, "duration_s": 120,
                "value": 7.5, "for_s": 180, "description": "error rate above 5 % for 2 minutes"}]
    deadline:
      description: When the decision must be taken (now + the level's C(max_decision_time_s)), UTC; null for V(none).
      type: str
      sample: "2026-11-23T18:50:00Z"
    max_decision_time_s:
      description: The level's maximum decision time in seconds; null for V(none).
      type: int
      sample: 300
    approvers:
      description: Who has to approve at this level; empty for V(none).
      type: list
      elements: str
      sample: [on_call_engineer]
    missing_metrics:
      description: Metrics the policy's triggers use that were not given.
      type: list
      elements: str
      sample: [support_tickets]
    policy:
      description: C(name) and C(version) of the policy used.
      type: dict
      sample: {"name": "runbook-default", "version": 1}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.plugin_utils._decision import PolicyError, decide


def rollback_decision(metrics, policy=None, now=None):
    try:
        return decide(metrics, policy, now)
    except PolicyError as err:
        raise AnsibleFilterError("rollback_decision: %s" % err) from None


class FilterModule:
    def filters(self):
        return {"rollback_decision": rollback_decision}
