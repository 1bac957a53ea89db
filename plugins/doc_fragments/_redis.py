# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

from __future__ import annotations


class ModuleDocFragment:
    # How the cache modules reach a Redis or memcached server.
    DOCUMENTATION = r"""
options:
  host:
    description: Address of the Redis or memcached server.
    type: str
    default: 127.0.0.1
  port:
    description: Port of the server; default C(6379) for Redis, C(11211) for memcached.
    type: int
  redis_db:
    description: Redis database number.
    type: int
    default: 0
  username:
    description: Redis ACL user name.
    type: str
  password:
    description: Redis password.
    type: str
  tls:
    description: Connect to Redis over TLS.
    type: bool
    default: false
  ca_path:
    description: CA bundle to verify the Redis server's TLS certificate with.
    type: path
  validate_certs:
    description: Verify the server's TLS certificate (Redis, and the CDN API where the module has one).
    type: bool
    default: true
  batch_size:
    description: C(SCAN COUNT) hint, and the most keys per C(UNLINK) where keys are deleted.
    type: int
    default: 1000
  timeout:
    description: Seconds for each network operation.
    type: float
    default: 10.0
"""
