#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: alert_silence
short_description: Silence the alerts of the services a rollback touches, in Alertmanager
version_added: 0.1.0
description:
  - Creates an Alertmanager silence (API v2) for the given matchers at the start of a rollback
    (O(state=present)) and expires it at the end (O(state=absent)), also when the rollback failed
    (put the expiry in an C(always) section).
  - Idempotent. An active silence with the same matchers from the same O(created_by) is kept, not
    duplicated; expiring finds the silence by O(silence_id) or by the same matchers and creator.
  - Optional. Without O(alertmanager_url) the module changes nothing, returns RV(silenced=false)
    and warns that alerts were not silenced, so plays can always call it.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Reads the silences and reports what it would create or expire.
  diff_mode:
    support: full
    description: Shows the active silences before and after.
options:
  alertmanager_url:
    description: Base URL of Alertmanager (C(http://alertmanager:9093)). Empty or omitted skips silencing.
    type: str
  state:
    description: V(present) makes sure a silence is active; V(absent) makes sure it is expired.
    type: str
    choices: [present, absent]
    default: present
  matchers:
    description: Which alerts to silence (all matchers must match). Needed for O(state=present).
    type: list
    elements: dict
    suboptions:
      name:
        description: Label name (C(service), C(alertname), C(instance)).
        type: str
        required: true
      value:
        description: Label value, or a regular expression with O(matchers[].is_regex).
        type: str
        required: true
      is_regex:
        description: O(matchers[].value) is a regular expression.
        type: bool
        default: false
      is_equal:
        description: Match when the label equals (V(true)) or differs from (V(false)) the value.
        type: bool
        default: true
  duration:
    description:
      - How long the silence lasts from now, seconds or a number with C(m) or C(h); long enough
        for the rollback, so it ends by itself if the expiry never runs.
    type: str
    default: 1h
  comment:
    description: Why alerts are silenced (shown in Alertmanager). Default names the run.
    type: str
  created_by:
    description: Author of the silence; also how this module finds its own silences again.
    type: str
    default: emergency.rollback
  silence_id:
    description:
      - The silence to expire (the C(id) in RV(silence) of the O(state=present) run).
      - Default the active silences with the same O(matchers) from the same O(created_by).
    type: str
  timeout:
    description: Seconds to wait for each Alertmanager answer.
    type: float
    default: 10
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Rollback with the shop's alerts silenced, also expired when the rollback fails
  block:
    - name: Silence the shop's alerts
      emergency.rollback.alert_silence:
        alertmanager_url: "{{ rollback_alertmanager_url | default('') }}"
        matchers:
          - {name: service, value: shop}
        duration: 2h
        run_id: "{{ rollback_run_id }}"
      register: silence
    - name: Roll the app back
      ansible.builtin.include_role:
        name: emergency.rollback.app
  always:
    - name: Let the shop's alerts through again
      emergency.rollback.alert_silence:
        alertmanager_url: "{{ rollback_alertmanager_url | default('') }}"
        state: absent
        silence_id: "{{ silence.silence.id | default(omit) }}"
        matchers:
          - {name: service, value: shop}
"""

RETURN = r"""
silence:
  description: The silence created or kept (O(state=present)), or the one expired; null when none.
  returned: always
  type: dict
  sample: {"id": "4a8e6f1c-1b7b-4a47-9c1e-5b3f0d7f6a10", "status": "active",
           "matchers": [{"name": "service", "value": "shop", "isRegex": false, "isEqual": true}],
           "starts_at": "2026-11-23T18:45:00.000Z", "ends_at": "2026-11-23T19:45:00.000Z",
           "created_by": "emergency.rollback", "comment": "rollback rb-1 in progress"}
expired:
  description: Ids of the silences expired by this run.
  returned: always
  type: list
  elements: str
  sample: ["4a8e6f1c-1b7b-4a47-9c1e-5b3f0d7f6a10"]
silenced:
  description: False when no O(alertmanager_url) was given and nothing was done.
  returned: always
  type: bool
  sample: true
msg:
  description: What was done, in one line.
  returned: always
  type: str
  sample: silenced service=shop until 2026-11-23T19:45:00Z
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._alertmanager import (
    Alertmanager,
    AlertmanagerError,
    api_matchers,
    iso,
    public,
)
from ansible_collections.emergency.rollback.plugins.module_utils._analysis import parse_duration
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common

MATCHER_SPEC = dict(
    name=dict(type="str", required=True),
    value=dict(type="str", required=True),
    is_regex=dict(type="bool", default=False),
    is_equal=dict(type="bool", default=True),
)


def describe(matchers):
    return ", ".join(
        "%s%s%s" % (m["name"], ("=~" if m["isRegex"] else "=") if m["isEqual"] else "!=", m["value"]) for m in matchers
    )


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                alertmanager_url=dict(type="str"),
                state=dict(type="str", choices=["present", "absent"], default="present"),
                matchers=dict(type="list", elements="dict", options=MATCHER_SPEC),
                duration=dict(type="str", default="1h"),
                comment=dict(type="str"),
                created_by=dict(type="str", default="emergency.rollback"),
                silence_id=dict(type="str"),
                timeout=dict(type="float", default=10),
                validate_certs=dict(type="bool", default=True),
            )
        ),
        required_if=[("state", "present", ("matchers",))],
        supports_check_mode=True,
    )
    p = module.params
    if not p["alertmanager_url"]:
        module.warn("no Alertmanager URL configured: alerts are not silenced")
        module.exit_json(
            changed=False,
            silenced=False,
            silence=None,
            expired=[],
            msg="no Alertmanager URL configured: alerts are not silenced",
        )
    if p["state"] == "absent" and not (p["silence_id"] or p["matchers"]):
        module.fail_json(msg="state=absent needs silence_id or matchers to know which silence to expire")
    try:
        seconds = parse_duration(p["duration"], "duration")
    except ValueError as err:
        module.fail_json(msg=str(err))
    matchers = api_matchers(p["matchers"] or [])
    what = describe(matchers) if matchers else "silence %s" % p["silence_id"]
    step = Step(module, "alerts", "silence" if p["state"] == "present" else "unsilence")
    manager = Alertmanager(p["alertmanager_url"], p["timeout"], p["validate_certs"])
    try:
        if p["state"] == "present":
            present(module, step, manager, matchers, seconds, what)
        else:
            absent(module, step, manager, matchers, what)
    except AlertmanagerError as err:
        step.fail("cannot %s %s in Alertmanager: %s" % (step.action, what, err), silence=None, expired=[])


def present(module, step, manager, matchers, seconds, what):
    p = module.params
    found = manager.active(p["created_by"], matchers)
    if found:
        silence = public(found[0])
        step.exit(
            False,
            message="already silenced: %s" % what,
            silence=silence,
            expired=[],
            silenced=True,
            msg="%s already silenced until %s" % (what, silence["ends_at"]),
            diff={"before": {"silences": [silence["id"]]}, "after": {"silences": [silence["id"]]}},
        )
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 - targets run Python 3.9
    ends = now + datetime.timedelta(seconds=seconds)
    comment = p["comment"] or "emergency rollback %s in progress" % (p["run_id"] or "")
    silence = {
        "id": None,
        "status": "active",
        "matchers": matchers,
        "starts_at": iso(now),
        "ends_at": iso(ends),
        "created_by": p["created_by"],
        "comment": comment.strip(),
    }
    if not module.check_mode:
        silence_id = manager.create(matchers, now, ends, p["created_by"], silence["comment"])
        silence = public(manager.get(silence_id))
    step.exit(
        True,
        message="silenced %s until %s" % (what, iso(ends)),
        journal_fields={"to": silence["id"]},
        silence=silence,
        expired=[],
        silenced=True,
        msg="silenced %s until %s" % (what, iso(ends)),
        diff={"before": {"silences": []}, "after": {"silences": [silence["id"] or "(new)"]}},
    )


def absent(module, step, manager, matchers, what):
    p = module.params
    if p["silence_id"]:
        silence = manager.get(p["silence_id"])
        found = [silence] if (silence.get("status") or {}).get("state") in ("active", "pending") else []
    else:
        found = manager.active(p["created_by"], matchers)
    ids = [s["id"] for s in found]
    if not module.check_mode:
        for silence_id in ids:
            manager.expire(silence_id)
    message = "expired %s (%s)" % (what, ", ".join(ids)) if ids else "no active silence for %s" % what
    step.exit(
        bool(ids),
        message=message,
        journal_fields={"from": ", ".join(ids) or None},
        silence=public(found[0]) if found else None,
        expired=ids,
        silenced=True,
        msg=message,
        diff={"before": {"silences": ids}, "after": {"silences": []}},
    )


if __name__ == "__main__":
    main()
