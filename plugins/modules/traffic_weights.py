#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: traffic_weights
short_description: Set the weights of the server pools of an nginx upstream (gradual restore, blue-green)
version_added: 0.1.0
description:
  - Renders the upstream O(upstream) into the file O(path), which this module owns whole (include it from
    the C(http) block). Servers are grouped in named O(pools); every server of a pool gets the pool's
    weight from O(weights), and weight V(0) marks its servers C(down) (no new requests).
  - Gradual restore sends a growing share to one pool (V(25), V(50), V(75), V(100) against the others);
    blue-green switches all traffic to one pool (V(1) against V(0)) and back.
  - Returns the weights that were live before (RV(previous_weights)), in the form O(weights) takes, so a
    later task can put them back.
  - The live configuration must pass O(test_command) before the file is replaced, and must pass it again
    after; otherwise the previous file is put back and nginx is not reloaded. nginx is then reloaded
    (never restarted), so requests in flight finish.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback._nginx
attributes:
  check_mode:
    support: full
    description: Reports the weights that would be set and the previous ones, with the diff, changing nothing.
  diff_mode:
    support: full
    description: Shows the upstream file before and after.
options:
  path:
    description:
      - The upstream file this module owns (its directory must exist).
    type: path
    required: true
  upstream:
    description:
      - Name of the upstream (what C(proxy_pass http://<upstream>) names).
    type: str
    required: true
  pools:
    description:
      - Pool name to the server addresses in it (C(host:port), C([v6]:port) or C(unix:/path)).
      - A server belongs to one pool.
    type: dict
    required: true
  weights:
    description:
      - Pool name to the weight of each of its servers, from V(0) (C(down)) to V(1000). Every pool needs
        one, and at least one pool must be above V(0).
    type: dict
    required: true
  directives:
    description:
      - Further lines of the upstream block, without the trailing C(;) (for example C(keepalive 32)).
    type: list
    elements: str
    default: []
  undo:
    description:
      - The O(weights) are ones that were live before (RV(previous_weights) of an earlier run). Putting
        them back undoes a change and restores service, so it goes ahead without the safety snapshot,
        with a warning, when that cannot be written (a full O(state_dir)). The weights replaced are
        those of the step being undone, which the caller already knows.
      - With V(false), a snapshot that cannot be written refuses the change.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Send a quarter of the traffic to the rolled-back pool
  emergency.rollback.traffic_weights:
    path: /etc/nginx/conf.d/upstream-shop.conf
    upstream: shop
    pools:
      green: [10.0.0.11:8080, 10.0.0.12:8080]
      blue: [10.0.0.21:8080, 10.0.0.22:8080]
    weights: {green: 25, blue: 75}
    reload_command: [systemctl, reload, nginx]
  register: shop_weights

- name: Blue-green - everything to green
  emergency.rollback.traffic_weights:
    path: /etc/nginx/conf.d/upstream-shop.conf
    upstream: shop
    pools:
      green: [10.0.0.11:8080, 10.0.0.12:8080]
      blue: [10.0.0.21:8080, 10.0.0.22:8080]
    weights: {green: 1, blue: 0}

- name: And back to what was live before
  emergency.rollback.traffic_weights:
    path: /etc/nginx/conf.d/upstream-shop.conf
    upstream: shop
    pools:
      green: [10.0.0.11:8080, 10.0.0.12:8080]
      blue: [10.0.0.21:8080, 10.0.0.22:8080]
    weights: "{{ shop_weights.previous_weights }}"
"""

RETURN = r"""
weights:
  description: The weight of each pool after the task (or that would be, in check mode).
  returned: success
  type: dict
  sample: {green: 25, blue: 75}
previous_weights:
  description:
    - The weight of each pool before the task, read from the file (the first server found of each pool);
      C(null) for a pool none of whose servers was in it. C(null) when the file did not exist.
  returned: success
  type: dict
  sample: {green: 0, blue: 1}
reloaded:
  description: Whether nginx was reloaded.
  returned: success
  type: bool
  sample: true
snapshot:
  description:
    - The safety snapshot of the upstream file this run replaced, C(null) when nothing was replaced.
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
pruned:
  description:
    - Ids of the older safety snapshots of the upstream file removed by O(keep) (in check mode, those that would be).
  returned: always
  type: list
  elements: str
  sample: [20261120T101500.000000Z-9f8e7d]
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._nginx import (
    ManagedConf,
    check_address,
    nginx_argument_spec,
)

HEADER = "# Managed by emergency.rollback.traffic_weights; changes here are overwritten.\n"
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
DIRECTIVE_RE = re.compile(r"^[a-z_]+( [^;{}#]+)?$")
SERVER_RE = re.compile(r"^\s*server\s+([^\s;]+)([^;]*);", re.MULTILINE)
MAX_WEIGHT = 1000


def parse_weights(text):
    """Address -> weight of the servers in an upstream file (0 for `down`)."""
    found = {}
    for address, rest in SERVER_RE.findall(text or ""):
        words = rest.split()
        if "down" in words:
            found.setdefault(address, 0)
            continue
        weight = [w.split("=", 1)[1] for w in words if w.startswith("weight=")]
        found.setdefault(address, int(weight[0]) if weight and weight[0].isdigit() else 1)
    return found


def pool_weights(pools, by_address):
    result = {}
    for name, addresses in pools.items():
        known = [by_address[a] for a in addresses if a in by_address]
        result[name] = known[0] if known else None
    return result


def bad_input(p):
    pools, weights = p["pools"], p["weights"]
    if not NAME_RE.match(p["upstream"]):
        return "upstream %r is not a valid upstream name" % p["upstream"]
    if not pools:
        return "pools is empty"
    seen = {}
    for name, addresses in pools.items():
        if not NAME_RE.match(str(name)):
            return "pool name %r: use letters, digits, . _ -" % name
        if not isinstance(addresses, list) or not addresses:
            return "pool %s needs a list of server addresses" % name
        for address in addresses:
            if not isinstance(address, str) or not check_address(address):
                return "pool %s: %r is not a server address (host:port, [v6]:port or unix:/path)" % (name, address)
            if address in seen:
                return "server %s is in pools %s and %s" % (address, seen[address], name)
            seen[address] = name
    if set(weights) != set(pools):
        return "weights must name every pool exactly (pools: %s; weights: %s)" % (
            ", ".join(sorted(pools)),
            ", ".join(sorted(map(str, weights))),
        )
    for name, weight in weights.items():
        if isinstance(weight, bool) or not str(weight).isdigit() or int(weight) > MAX_WEIGHT:
            return "weight of pool %s must be an integer from 0 to %d, got %r" % (name, MAX_WEIGHT, weight)
    if not any(int(w) for w in weights.values()):
        return "every pool has weight 0: the upstream would send no traffic anywhere"
    for line in p["directives"]:
        if not DIRECTIVE_RE.match(line) or line.split()[0] == "server":
            return "directive %r is not one upstream directive without ; (servers come from pools)" % line
    return None


def render(upstream, pools, weights, directives):
    lines = [HEADER, "upstream %s {\n" % upstream]
    for name in sorted(pools):
        weight = weights[name]
        lines.append("    # pool %s: %d\n" % (name, weight))
        for address in pools[name]:
            lines.append("    server %s %s;\n" % (address, "down" if weight == 0 else "weight=%d" % weight))
    for line in directives:
        lines.append("    %s;\n" % line)
    lines.append("}\n")
    return "".join(lines)


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                path=dict(type="path", required=True),
                upstream=dict(type="str", required=True),
                pools=dict(type="dict", required=True),
                weights=dict(type="dict", required=True),
                directives=dict(type="list", elements="str", default=[]),
                undo=dict(type="bool", default=False),
                **nginx_argument_spec(),
            )
        ),
        supports_check_mode=True,
    )
    p = module.params
    step = Step(module, "traffic", "weights")
    problem = bad_input(p)
    if problem:
        step.refuse("traffic_weights: %s; nothing was changed" % problem)
    weights = {str(k): int(v) for k, v in p["weights"].items()}
    conf = ManagedConf(module, step, p["path"])
    before = conf.current()
    after = render(p["upstream"], p["pools"], weights, p["directives"])
    previous = None if before is None else pool_weights(p["pools"], parse_weights(before))
    conf.converge(
        before,
        after,
        dict(weights=weights, previous_weights=previous),
        unchanged="upstream %s already at %s" % (p["upstream"], weights),
        changed="upstream %s weights set" % p["upstream"],
        journal_fields={"from_": previous, "to": weights},
        snapshot_optional=p["undo"],
    )


if __name__ == "__main__":
    main()
