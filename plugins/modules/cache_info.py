#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cache_info
short_description: Read whether a cache answers and how many keys or items it holds
version_added: 0.2.0
description:
  - Read-only counterpart of M(emergency.rollback.cache_flush), for preflight and verification.
  - V(redis) answers C(PING), counts the keys of the database and, for each of O(patterns), the keys
    matching it (with C(SCAN), never C(KEYS)).
  - V(memcached) reads C(stats) and returns the number of items held.
  - Never writes to the cache and never journals (O(journal), O(state_dir) and O(run_id) are accepted
    so that C(module_defaults) for the whole collection apply, and ignored).
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback._redis
requirements:
  - redis (Python library) for O(backend=redis)
attributes:
  check_mode:
    support: full
    description: It only reads, so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: It changes nothing.
options:
  backend:
    description: Which cache to read.
    type: str
    choices: [redis, memcached]
    required: true
  patterns:
    description: Redis key patterns (C(SCAN MATCH) syntax) to count.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Count the page keys still in Redis after the flush
  emergency.rollback.cache_info:
    backend: redis
    host: cache1.internal
    patterns: ["page:*"]
  register: redis_left

- name: Read memcached
  emergency.rollback.cache_info:
    backend: memcached
    host: 10.0.0.7
    port: 11211
"""

RETURN = r"""
target:
  description: The server read.
  returned: success
  type: str
  sample: redis://127.0.0.1:6379/0
ping:
  description: Whether the server answered.
  returned: success
  type: bool
  sample: true
keys:
  description: Keys in the Redis database.
  returned: with O(backend=redis)
  type: int
  sample: 300
matching:
  description: Keys matching each of O(patterns).
  returned: with O(backend=redis)
  type: dict
  sample: {"page:*": 0}
total_matching:
  description: Sum of RV(matching).
  returned: with O(backend=redis)
  type: int
  sample: 0
items:
  description: Items memcached holds (C(curr_items)).
  returned: with O(backend=memcached)
  type: int
  sample: 0
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _cache
from ansible_collections.emergency.rollback.plugins.module_utils._common import with_common


def read_redis(module):
    p = module.params
    if not _cache.HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis"), exception=str(_cache.REDIS_IMPORT_ERROR))
    port = p["port"] or 6379
    target = "redis://%s:%d/%d" % (p["host"], port, p["redis_db"])
    client = _cache.redis_client(
        p["host"],
        port,
        db=p["redis_db"],
        password=p["password"],
        username=p["username"],
        tls=p["tls"],
        ca_path=p["ca_path"],
        validate_certs=p["validate_certs"],
        timeout=p["timeout"],
    )
    try:
        client.ping()
        matching = {pat: _cache.count_matches(client, pat, p["batch_size"]) for pat in p["patterns"]}
        keys = int(client.dbsize())
    except _cache.redis_errors() as err:
        module.fail_json(msg="cache_info: cannot read %s: %s" % (target, err), target=target)
    module.exit_json(
        changed=False, target=target, ping=True, keys=keys, matching=matching, total_matching=sum(matching.values())
    )


def read_memcached(module):
    p = module.params
    port = p["port"] or 11211
    target = "memcached://%s:%d" % (p["host"], port)
    try:
        stats = _cache.memcached_stats(p["host"], port, timeout=p["timeout"])
    except (OSError, _cache.CacheError) as err:
        module.fail_json(msg="cache_info: cannot read %s: %s" % (target, err), target=target)
    module.exit_json(changed=False, target=target, ping=True, items=int(stats.get("curr_items", 0)))


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                **_cache.redis_argument_spec(),
                backend=dict(type="str", choices=["redis", "memcached"], required=True),
                patterns=dict(type="list", elements="str", default=[]),
            )
        ),
        supports_check_mode=True,
    )
    if module.params["batch_size"] < 1 or module.params["timeout"] <= 0:
        module.fail_json(msg="cache_info: batch_size must be 1 or more and timeout more than 0")
    if module.params["backend"] == "redis":
        read_redis(module)
    else:
        read_memcached(module)


if __name__ == "__main__":
    main()
