# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: incident_report
short_description: The incident report of a rollback run in three forms, from its journal entries
version_added: 0.1.0
description:
  - Builds the incident report of one run from the journal entries of all its hosts and renders it as
    Markdown (the runbooks' template with real values), JSON (the same data, with a schema version) and
    one self-contained HTML page with a timeline (a row per host, a bar per phase, failures and reverts
    marked). The same code as C(rollbackctl report).
  - The complete rollback writes the three forms on the controller at its end, also after a revert.
author:
  - emergency.rollback maintainers (@emergency-rollback)
positional: _input
options:
  _input:
    description: Journal entries of every host (the RV(entries) of C(journal_info)).
    type: list
    elements: dict
    required: true
  run_id:
    description: The run to report on; default the latest run in the entries.
    type: str
  rto_target_s:
    description: RTO target in seconds, to compare the achieved RTO against.
    type: float
  rpo_target_s:
    description: RPO target in seconds.
    type: float
  journal_gaps:
    description:
      - Steps of the run whose journal line could not be written (for example
        C(journal not written for maintenance off on lb1 (No space left on device))). The report then says
        the journal is incomplete and lists them, instead of presenting the journals as the full record.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Write the report of this run as Markdown
  ansible.builtin.copy:
    content: "{{ (journal.entries | emergency.rollback.incident_report(run_id=rollback_run_id)).markdown }}"
    dest: /var/tmp/incident.md
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: C(run_id), C(verdict), and the three forms as text, C(markdown), C(json) and C(html).
  type: dict
  sample: {"run_id": "rb-1", "verdict": "verified", "markdown": "# Incident report ...", "json": "{...}",
           "html": "<!DOCTYPE html>..."}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.plugin_utils import _report


def incident_report(entries, run_id=None, rto_target_s=None, rpo_target_s=None, journal_gaps=None):
    if not isinstance(entries, list):
        raise AnsibleFilterError("incident_report: expected a list of journal entries, got %s" % type(entries).__name__)
    try:
        report = _report.build(
            entries,
            run_id or None,
            rto_target_s=rto_target_s,
            rpo_target_s=rpo_target_s,
            journal_gaps=journal_gaps or (),
        )
    except _report.ReportError as err:
        raise AnsibleFilterError("incident_report: %s" % err) from None
    return {
        "run_id": report["run_id"],
        "verdict": report["verdict"],
        "markdown": _report.render_markdown(report),
        "json": _report.render_json(report),
        "html": _report.render_html(report),
    }


class FilterModule:
    def filters(self):
        return {"incident_report": incident_report}
