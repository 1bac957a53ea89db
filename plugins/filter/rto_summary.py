# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: rto_summary
short_description: Recovery time and recovery point of a rollback run, from its journal entries
version_added: 0.1.0
description:
  - Reads the journal entries of all hosts of a run (for example the C(entries) that
    M(emergency.rollback.journal_info) returned per host, joined) and says how long the run took
    (RTO achieved), how far back the restored data reaches (RPO achieved), and how many hosts
    ended with each verdict.
  - Host verdicts follow the roles' verdict entries (C(action=verify)) and are V(verified),
    V(changed but not verified), V(unchanged) or V(failed); a host's verdict is the worst of its components'.
author:
  - emergency.rollback maintainers (@emergency-rollback)
positional: _input
options:
  _input:
    description: Journal entries (dicts with at least C(ts), C(host), C(component), C(action), C(result)).
    type: list
    elements: dict
    required: true
  run_id:
    description: Only entries of this run; default all entries given.
    type: str
  started:
    description:
      - When the clock started (ISO 8601), for example when the incident was detected.
      - Default the start of the first journaled step.
    type: str
  target_s:
    description: RTO target in seconds; RV(_value.rto_met) compares against it.
    type: float
  rpo_target_s:
    description: RPO target in seconds; RV(_value.rpo_met) compares against it.
    type: float
"""

EXAMPLES = r"""
- name: Say whether the rollback met its RTO of 15 minutes
  ansible.builtin.debug:
    msg: "{{ entries | emergency.rollback.rto_summary(run_id=rollback_run_id, target_s=900) }}"
"""

RETURN = r"""
_value:
  description: The summary.
  type: dict
  contains:
    run_id:
      description: The run.
      type: str
      sample: rb-20261123T184500Z-1a2b3c
    started:
      description: Start of the clock, UTC.
      type: str
      sample: "2026-11-23T18:45:00.000Z"
    ended:
      description: End of the last journaled step, UTC.
      type: str
      sample: "2026-11-23T18:49:12.500Z"
    rto_s:
      description: Recovery time achieved, in seconds.
      type: float
      sample: 252.5
    rto_target_s:
      description: The RTO target given, or null.
      type: float
      sample: 900
    rto_met:
      description: Whether RV(_value.rto_s) is within the target; null without a target.
      type: bool
      sample: true
    rpo_s:
      description:
        - Seconds between the oldest snapshot a restore put back and the start of the clock (data
          written in between is lost); null when no restore named a timestamped snapshot.
      type: float
      sample: 3600.0
    rpo_target_s:
      description: The RPO target given, or null.
      type: float
      sample: 3600
    rpo_met:
      description: Whether RV(_value.rpo_s) is within the target; null without a target or a recovery point.
      type: bool
      sample: true
    hosts:
      description: Number of hosts in the run.
      type: int
      sample: 3
    verdicts:
      description: Number of hosts per verdict.
      type: dict
      sample: {"verified": 2, "failed": 1}
    verified:
      description: Whether every host verified.
      type: bool
      sample: false
    recovery_points:
      description:
        - Restores and the snapshot each put back (C(host), C(component), C(action), C(snapshot), C(snapshot_time)).
      type: list
      elements: dict
      sample: [{"host": "db1", "component": "database", "action": "restore", "snapshot": "20261123T174500Z",
                "snapshot_time": "2026-11-23T17:45:00.000Z"}]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.plugin_utils._timeline import TimelineError, rto


def rto_summary(entries, run_id=None, started=None, target_s=None, rpo_target_s=None):
    try:
        return rto(entries, run_id=run_id, started=started, target_s=target_s, rpo_target_s=rpo_target_s)
    except TimelineError as err:
        raise AnsibleFilterError("rto_summary: %s" % err) from None


class FilterModule:
    def filters(self):
        return {"rto_summary": rto_summary}
