# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: phase_durations
short_description: Phases per host of a rollback run, with start, end, duration and result
version_added: 0.1.0
description:
  - Lays out the phases (V(preflight), V(snapshot), V(rollback), V(verify)) each role went
    through on each host, from the roles' verdict entries in the journal; this is the timeline
    of the incident report.
  - A role that failed shows the phase it failed in (result V(failed)) and, when it undid its
    changes, a V(revert) phase (result V(reverted)).
  - Steps of a component without a verdict entry give one V(run) bar from its first to its last step.
author:
  - emergency.rollback maintainers (@emergency-rollback)
positional: _input
options:
  _input:
    description: Journal entries of one or more hosts.
    type: list
    elements: dict
    required: true
  run_id:
    description: Only entries of this run; default all entries given.
    type: str
"""

EXAMPLES = r"""
- name: Show how long each phase took on each host
  ansible.builtin.debug:
    msg: "{{ entries | emergency.rollback.phase_durations(run_id=rollback_run_id) }}"
"""

RETURN = r"""
_value:
  description: Host name -> list of phases ordered by start, each with C(component), C(phase),
    C(start), C(end) (UTC), C(duration_s) and C(result) (V(ok), V(not_verified), V(failed), V(reverted)).
  type: dict
  sample: {"web1": [{"component": "app", "phase": "preflight", "start": "2026-11-23T18:45:00.000Z",
                     "end": "2026-11-23T18:45:01.200Z", "duration_s": 1.2, "result": "ok"}]}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.plugin_utils._timeline import TimelineError, phases


def phase_durations(entries, run_id=None):
    try:
        return phases(entries, run_id=run_id)
    except TimelineError as err:
        raise AnsibleFilterError("phase_durations: %s" % err) from None


class FilterModule:
    def filters(self):
        return {"phase_durations": phase_durations}
