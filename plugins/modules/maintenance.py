#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance
short_description: Turn an nginx site's maintenance page (503 with Retry-After) on or off
version_added: 0.1.0
description:
  - Renders the file O(path) that the site's C(server) block includes. With O(state=enabled) nginx answers
    every request of that server with status 503, a C(Retry-After) header and the maintenance O(body),
    except requests for O(allow_paths) (health checks) and from O(allow_ips), which pass through.
    With O(state=disabled) the file holds only a comment and the site serves as usual.
  - Add this one line inside the site's C(server) block, once, after running the module with
    O(state=disabled) so the file exists - C(include /etc/nginx/snippets/maintenance-shop.conf;)
  - The live configuration must pass O(test_command) before the file is replaced, and must pass it again
    after; otherwise the previous file is put back and nginx is not reloaded. nginx is then reloaded
    (never restarted), so requests in flight finish.
  - Before it replaces the file it keeps a safety snapshot of it in O(state_dir). With O(state=enabled) a
    snapshot that cannot be written (a full state dir) refuses the change. O(state=disabled) brings the site
    back, so it goes ahead without the snapshot (with a warning) - its undo is O(state=enabled) with the same
    options, which renders the whole file from the options alone. A journal line that cannot be written is
    returned as RV(journal_error) and warned about; the page is changed all the same.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback._nginx
attributes:
  check_mode:
    support: full
    description: Reports whether the page would be turned on or off, with the diff, changing nothing.
  diff_mode:
    support: full
    description: Shows the include file before and after.
options:
  state:
    description:
      - V(enabled) serves the maintenance page, V(disabled) serves the site.
    type: str
    choices: [enabled, disabled]
    default: enabled
  path:
    description:
      - The include file this module owns (its directory must exist).
    type: path
    required: true
  retry_after:
    description:
      - Seconds sent in the C(Retry-After) header of every 503 (at least 1).
    type: int
    default: 300
  body:
    description:
      - Body of the 503 answer. It must not contain C($) (nginx would read a variable).
    type: str
    default: "<html><body><h1>Down for maintenance</h1><p>We will be back shortly.</p></body></html>"
  content_type:
    description:
      - C(Content-Type) of the 503 answer.
    type: str
    default: text/html
  allow_paths:
    description:
      - Request paths (exact, for example C(/healthz)) that still reach the site while the page is on.
    type: list
    elements: str
    default: []
  allow_ips:
    description:
      - Client addresses (exact IPv4 or IPv6 addresses, no ranges) that still reach the site while the page is on.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Create the include file, page off (then add the include line to the server block)
  emergency.rollback.maintenance:
    path: /etc/nginx/snippets/maintenance-shop.conf
    state: disabled

- name: Maintenance page on while the stack is inconsistent
  emergency.rollback.maintenance:
    path: /etc/nginx/snippets/maintenance-shop.conf
    retry_after: 120
    allow_paths: [/healthz]
    allow_ips: [10.0.0.5]
    reload_command: [systemctl, reload, nginx]

- name: Site back
  emergency.rollback.maintenance:
    path: /etc/nginx/snippets/maintenance-shop.conf
    state: disabled
    reload_command: [systemctl, reload, nginx]
"""

RETURN = r"""
enabled:
  description: Whether the maintenance page is on after the task (or would be, in check mode).
  returned: success
  type: bool
  sample: true
enabled_before:
  description: Whether the page was on before the task; C(null) when the include file did not exist.
  returned: success
  type: bool
  sample: false
reloaded:
  description: Whether nginx was reloaded.
  returned: success
  type: bool
  sample: true
snapshot:
  description:
    - The safety snapshot of the include file this run replaced, C(null) when nothing was replaced, or when
      O(state=disabled) could not write it (see the description).
    - Restore it with M(emergency.rollback.config_snapshot),
      O(emergency.rollback.config_snapshot#module:component=traffic).
  returned: always
  type: dict
  sample:
    id: 20261123T184501.123456Z-1a2b3c
    path: /var/lib/emergency-rollback/snapshots/traffic/20261123T184501.123456Z-1a2b3c
  contains:
    id:
      description: Snapshot id, the value O(emergency.rollback.config_snapshot#module:snapshot) takes to restore it.
      type: str
      sample: 20261123T184501.123456Z-1a2b3c
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/traffic/20261123T184501.123456Z-1a2b3c
journal_error:
  description:
    - Why this run's journal line could not be written (the journal is missing it); absent when it was written.
  returned: when the journal line could not be written
  type: str
  sample: No space left on device
pruned:
  description:
    - Ids of the older safety snapshots of the include file removed by O(keep) (in check mode, those that would be).
  returned: always
  type: list
  elements: str
  sample: [20261120T101500.000000Z-9f8e7d]
"""

import ipaddress
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._nginx import ManagedConf, nginx_argument_spec

HEADER = "# Managed by emergency.rollback.maintenance; changes here are overwritten.\n"
OFF = HEADER + "# maintenance: off\n"
FLAG = "$emergency_rollback_maintenance"
LOCATION = "/__emergency_rollback_maintenance__"
PATH_RE = re.compile(r"^/[^\s;{}'\"\\$]*$")
CONTENT_TYPE_RE = re.compile(r"^[A-Za-z0-9!#&^_.+-]+/[A-Za-z0-9!#&^_.+-]+(; ?[A-Za-z0-9_.-]+=[A-Za-z0-9_.-]+)?$")


def quote(text):
    """An nginx single-quoted string."""
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "\\'")


def render_on(retry_after, body, content_type, allow_paths, allow_ips):
    lines = [HEADER, "# maintenance: on\n", "set %s 1;\n" % FLAG]
    for path in allow_paths:
        lines.append("if ($uri = %s) { set %s 0; }\n" % (quote(path), FLAG))
    for addr in allow_ips:
        lines.append("if ($remote_addr = %s) { set %s 0; }\n" % (quote(addr), FLAG))
    # Rewritten before location matching, so the site's own locations cannot override the answer.
    lines.append("if (%s) { rewrite ^ %s last; }\n" % (FLAG, LOCATION))
    lines.append(
        "location = %s {\n"
        "    internal;\n"
        "    default_type %s;\n"
        "    add_header Retry-After %d always;\n"
        "    add_header Cache-Control no-store always;\n"
        "    return 503 %s;\n"
        "}\n" % (LOCATION, quote(content_type), retry_after, quote(body))
    )
    return "".join(lines)


def is_on(text):
    if text is None:
        return None
    return "# maintenance: on\n" in text


def bad_input(p):
    if p["retry_after"] < 1:
        return "retry_after must be at least 1 second, got %d" % p["retry_after"]
    if "$" in p["body"]:
        return "body must not contain $ (nginx would read it as a variable)"
    if not CONTENT_TYPE_RE.match(p["content_type"]):
        return "content_type %r is not a media type such as text/html" % p["content_type"]
    for path in p["allow_paths"]:
        if not PATH_RE.match(path):
            return "allow_paths entry %r is not a request path such as /healthz" % path
    for addr in p["allow_ips"]:
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            return "allow_ips entry %r is not an IP address (ranges are not supported)" % addr
    return None


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
                path=dict(type="path", required=True),
                retry_after=dict(type="int", default=300),
                body=dict(
                    type="str",
                    default="<html><body><h1>Down for maintenance</h1><p>We will be back shortly.</p></body></html>",
                ),
                content_type=dict(type="str", default="text/html"),
                allow_paths=dict(type="list", elements="str", default=[]),
                allow_ips=dict(type="list", elements="str", default=[]),
                **nginx_argument_spec(),
            )
        ),
        supports_check_mode=True,
    )
    p = module.params
    enable = p["state"] == "enabled"
    step = Step(module, "traffic", "maintenance_on" if enable else "maintenance_off")
    problem = bad_input(p)
    if problem:
        step.refuse("maintenance: %s; nothing was changed" % problem)
    conf = ManagedConf(module, step, p["path"])
    before = conf.current()
    if enable:
        after = render_on(p["retry_after"], p["body"], p["content_type"], p["allow_paths"], p["allow_ips"])
    else:
        after = OFF
    was = is_on(before)
    conf.converge(
        before,
        after,
        dict(enabled=enable, enabled_before=was),
        unchanged="maintenance page already %s" % p["state"],
        changed="maintenance page %s on %s" % ("on" if enable else "off", conf.path),
        journal_fields={"from_": {None: "absent", True: "on", False: "off"}[was], "to": "on" if enable else "off"},
        # the undo of off is on, rendered from the options: no saved copy needed
        snapshot_optional=not enable,
    )


if __name__ == "__main__":
    main()
