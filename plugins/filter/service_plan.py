# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: service_plan
short_description: Turn the services of a partial rollback into components and role variables
version_added: 0.1.0
description:
  - Reads the inventory's service map (C(rollback_service_map)) and the services selected for a
    partial rollback (C(rollback_services)) and returns which components run and the role
    variables that limit each of them to those services' parts.
  - "A service maps to any of: C(units) (systemd units restarted after its flags change),
    C(files) (its config files: kept before the run and put back when the run fails),
    C(env_flags) (keys set in C(app_env_file), e.g. a feature flag off), C(cache_patterns) (Redis
    key patterns deleted), C(alembic) (C(revision), optionally on C(branch): the Alembic downgrade
    target) and C(webhook_endpoints) (names of entries of C(webhooks_endpoints) to re-point)."
  - "The app role runs with C(app_strategy=none): the release live stays, since every service
    shares it. The certificates are never part of a service; the database role runs only for an
    Alembic downgrade, never a restore of the whole database."
  - An unknown service, an unknown key, two services that set one flag to different values, two
    Alembic targets or an endpoint name missing from C(webhooks_endpoints) fail with a one-line
    message naming it.
author:
  - emergency.rollback maintainers (@emergency-rollback)
positional: _input, services
options:
  _input:
    description: The service map, service name -> its parts (see the description).
    type: dict
    required: true
  services:
    description: The services to roll back (names of the map), at least one.
    type: list
    elements: str
    required: true
  endpoints:
    description:
      - The inventory's C(webhooks_endpoints), from which the services' endpoints are picked by C(name).
      - Null on a host that runs no webhooks role (the names are not checked there).
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: What a payments rollback runs
  ansible.builtin.set_fact:
    plan: "{{ rollback_service_map | emergency.rollback.service_plan(['payments'], endpoints=webhooks_endpoints) }}"
  vars:
    rollback_service_map:
      payments:
        units: [shop-payments.service]
        files: [/srv/shop/shared/payments.env]
        env_flags: {ENABLE_NEW_PAYMENT_FLOW: false}
        cache_patterns: ["payments:*"]
        alembic: {branch: payments, revision: "-1"}
        webhook_endpoints: [stripe payments]
# plan.components: [database, app, cache, webhooks]
# plan.vars.database.database_alembic_downgrade_to: payments@-1
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    services:
      description: The services selected, as given.
      type: list
      elements: str
      sample: [payments]
    components:
      description: Components to run, in the order of the complete rollback.
      type: list
      elements: str
      sample: [database, app, cache, webhooks]
    vars:
      description: Per component, the role variables that limit it to the services' parts.
      type: dict
      sample:
        app: {app_strategy: none, app_config_files: [/srv/shop/shared/payments.env],
              app_env_set: {ENABLE_NEW_PAYMENT_FLOW: false}, app_restart: command,
              app_restart_command: [systemctl, restart, shop-payments.service]}
        cache: {cache_redis_enabled: true, cache_redis_patterns: ["payments:*"], cache_redis_flushdb: false,
                cache_redis_flushall: false, cache_memcached_servers: [], cache_cdn_purge_urls: []}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

KEYS = ("units", "files", "env_flags", "cache_patterns", "alembic", "webhook_endpoints")
ORDER = ("database", "app", "ssl", "cache", "webhooks")


def _fail(msg):
    raise AnsibleFilterError("service_plan: %s; nothing was changed" % msg)


def _strings(service, key, value):
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        _fail("service %s: %s must be a list of non-empty strings, got %r" % (service, key, value))
    return value


def _union(lists):
    seen = []
    for items in lists:
        seen.extend(item for item in items if item not in seen)
    return seen


def _alembic_target(service, value):
    if not isinstance(value, Mapping) or set(value) - {"branch", "revision"} or not value.get("revision"):
        _fail("service %s: alembic must be {revision, branch (optional)}, got %r" % (service, value))
    revision = str(value["revision"])
    return "%s@%s" % (value["branch"], revision) if value.get("branch") else revision


def service_plan(service_map, services, endpoints=None):
    if not isinstance(service_map, Mapping) or not service_map:
        _fail("rollback_service_map must be a non-empty mapping of service name -> parts")
    if not isinstance(services, list) or not services or not all(isinstance(s, str) for s in services):
        _fail("rollback_services must be a non-empty list of service names, got %r" % (services,))
    unknown = [s for s in services if s not in service_map]
    if unknown:
        _fail("unknown service %s (the map has %s)" % (", ".join(unknown), ", ".join(sorted(service_map))))
    parts = {}
    for name in services:
        spec = service_map[name] or {}
        if not isinstance(spec, Mapping):
            _fail("service %s must map to a dict of %s" % (name, ", ".join(KEYS)))
        extra = sorted(set(spec) - set(KEYS))
        if extra:
            _fail("service %s has unknown key %s (known: %s)" % (name, ", ".join(extra), ", ".join(KEYS)))
        parts[name] = spec

    def listed(key):
        return _union(_strings(n, key, parts[n][key]) for n in services if parts[n].get(key))

    flags = {}
    for name in services:
        env = parts[name].get("env_flags") or {}
        if not isinstance(env, Mapping):
            _fail("service %s: env_flags must be a mapping of key -> value" % name)
        for key, value in env.items():
            if key in flags and flags[key] != value:
                _fail("services set %s to %r and %r: pick one" % (key, flags[key], value))
            flags[key] = value
    targets = _union([[_alembic_target(n, parts[n]["alembic"])] for n in services if parts[n].get("alembic")])
    if len(targets) > 1:
        _fail("one Alembic downgrade per run, the services ask for %s" % ", ".join(targets))

    hooks = listed("webhook_endpoints")
    known = {e.get("name"): e for e in endpoints or [] if isinstance(e, Mapping)}
    missing = [h for h in hooks if h not in known]
    if missing and endpoints is not None:
        _fail("webhook endpoint %s is not a name in webhooks_endpoints" % ", ".join(missing))

    plan = {}
    units, files, patterns = listed("units"), listed("files"), listed("cache_patterns")
    if targets:
        plan["database"] = {
            "database_alembic_downgrade_to": targets[0],
            "database_restore_snapshot": "",
        }
    if units or files or flags:
        plan["app"] = {
            "app_strategy": "none",
            "app_config_files": files,
            "app_env_set": flags,
            "app_restart": "command" if units else "none",
            "app_restart_command": ["systemctl", "restart"] + units if units else [],
        }
    if patterns:
        plan["cache"] = {
            "cache_redis_enabled": True,
            "cache_redis_patterns": patterns,
            "cache_redis_flushdb": False,
            "cache_redis_flushall": False,
            "cache_memcached_servers": [],
            "cache_cdn_purge_urls": [],
        }
    if hooks:
        plan["webhooks"] = {"webhooks_endpoints": [known[h] for h in hooks if h in known]}
    if not plan:
        _fail("services %s map to nothing to roll back" % ", ".join(services))
    return {"services": list(services), "components": [c for c in ORDER if c in plan], "vars": plan}


class FilterModule:
    def filters(self):
        return {"service_plan": service_plan}
