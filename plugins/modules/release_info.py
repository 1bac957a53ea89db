#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_info
short_description: List the releases of an ansistrano / Capistrano style layout and which one is live
version_added: 0.1.0
description:
  - Lists C(<root>/releases/<id>) with, for each, whether it is live, whether it is marked bad
    (and by whom, when, why), its C(REVISION) file and its directory time.
  - The live release is read from the C(<root>/current) symlink, never from mtime or name order.
    A dangling or foreign C(current) link is reported as an error.
  - Releases, their order and the deploy history follow the rules of M(emergency.rollback.release);
    any directory name, natural order for ids starting with a digit (or V(v) and a digit), otherwise
    directory modification time; the recorded deploy history first.
  - With O(resolve), also says which concrete release V(previous), V(-N) or an id means now,
    exactly as M(emergency.rollback.release) would resolve it.
  - Read-only, apart from the host lock with O(lock).
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback._run_lock.lock
attributes:
  check_mode:
    support: full
    description:
      - It only reads, so it runs unchanged in check mode.
      - With O(lock), it says whether the lock could be taken, without taking it.
  diff_mode:
    support: none
    description: It changes nothing.
options:
  root:
    description:
      - Application root holding C(releases/) and the C(current) symlink.
    type: path
    required: true
  resolve:
    description:
      - A target (V(previous), V(-N) or a release id) to resolve to a concrete release id, returned as RV(target).
    type: str
seealso:
  - module: emergency.rollback.release
"""

EXAMPLES = r"""
- name: Read the releases of the shop
  emergency.rollback.release_info:
    root: /srv/shop
    resolve: previous
  register: shop

- name: Show what is live and what previous means
  ansible.builtin.debug:
    msg: "live {{ shop.live }}, previous {{ shop.target }}, bad {{ shop.bad | join(', ') }}"
"""

RETURN = r"""
live:
  description: Id of the live release, null when there is no C(current) link.
  returned: always
  type: str
  sample: "20261123181500"
current_target:
  description: Target of the C(current) link as written (relative or absolute).
  returned: always
  type: str
  sample: releases/20261123181500
ids:
  description: Release ids in release order (see M(emergency.rollback.release)).
  returned: always
  type: list
  elements: str
  sample: ["20261120093000", "20261123181500"]
bad:
  description: Ids of the releases marked bad.
  returned: always
  type: list
  elements: str
  sample: ["20261123181500"]
releases:
  description: One entry per release, in release order.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: "20261123181500", path: /srv/shop/releases/20261123181500, live: true, bad: false,
       bad_mark: null, revision: 9f2c1ab, created: "2026-11-23T18:15:02Z"}
  contains:
    id:
      description: Release id (directory name).
      type: str
      sample: "20261123181500"
    path:
      description: Release directory.
      type: str
      sample: /srv/shop/releases/20261123181500
    live:
      description: Whether C(current) points to it.
      type: bool
      sample: true
    bad:
      description: Whether it is marked bad.
      type: bool
      sample: false
    bad_mark:
      description: Who marked it bad, when and why.
      type: dict
      sample: {by: oncall, at: "2026-11-23T18:20:00Z", reason: checkout 500s}
    revision:
      description: Content of its C(REVISION) file, if any.
      type: str
      sample: 9f2c1ab
    created:
      description: Modification time of the release directory (UTC ISO 8601); informational only.
      type: str
      sample: "2026-11-23T18:15:02Z"
deploy_history:
  description: Ordered releases that went live by deploys, oldest first; the last is the newest deploy.
  returned: always
  type: list
  elements: str
  sample: ["20261120093000", "20261123181500"]
history_source:
  description: Where the deploy history comes from, C(history file) or C(release id order) (release order).
  returned: always
  type: str
  sample: history file
history:
  description: Entries of C(<root>/.rollback/history.json).
  returned: always
  type: list
  elements: dict
  sample:
    - {id: "20261123181500", kind: deploy, at: "2026-11-23T18:15:02Z", by: deploy, run_id: null,
       from: "20261120093000"}
lock:
  description: The lock's holder after the task and the one found before it, as M(emergency.rollback.lock) returns them.
  returned: when O(lock) is given
  type: dict
  sample:
    holder: {run_id: rb-20261123-1845, pid: 4242, machine: ops1, user: alice, since: 1795463100.5, ttl: 3600}
    previous_holder: null
    path: /var/lib/emergency-rollback/rollback.lock
target:
  description: What O(resolve) resolves to.
  returned: when O(resolve) is given
  type: str
  sample: "20261120093000"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import with_common
from ansible_collections.emergency.rollback.plugins.module_utils._lock import lock_argument_spec, take_first
from ansible_collections.emergency.rollback.plugins.module_utils._release import Layout, ReleaseError


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                root=dict(type="path", required=True),
                resolve=dict(type="str"),
                lock=lock_argument_spec(),
            )
        ),
        required_by={"lock": "run_id"},
        supports_check_mode=True,
    )
    p = module.params
    changed, lock = False, None
    if p["lock"] is not None:
        changed, lock = take_first(module, "release_info")
    layout = Layout(p["root"])
    try:
        info = layout.info()
        if p["resolve"] is not None:
            info["target"] = layout.resolve(
                p["resolve"],
                info["live"],
                info["ids"],
                {r["id"]: r["bad_mark"] for r in info["releases"] if r["bad"]},
                info["deploy_history"],
            )
    except (ReleaseError, OSError) as err:
        module.fail_json(msg="release_info: %s" % err)
    if lock is not None:
        info["lock"] = {k: lock.get(k) for k in ("holder", "previous_holder", "path")}
    # Taking the lock is bookkeeping the run undoes itself, like the lock module's changed.
    module.exit_json(changed=changed, **info)


if __name__ == "__main__":
    main()
