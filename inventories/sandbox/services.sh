#!/usr/bin/env bash
# Inventory script: the variables of the services the sandbox runs, from
# $ROLLBACK_SANDBOX/services.json. demo/drill.py writes that file when it starts the sandbox's
# app and nginx (the docs tests add PostgreSQL, Redis and the rest); without it this adds nothing.
set -euo pipefail
if [ "${1:-}" = "--host" ]; then
  echo '{}'
  exit 0
fi
services="${ROLLBACK_SANDBOX:-/tmp/emergency-rollback-sandbox}/services.json"
vars='{}'
if [ -r "$services" ]; then
  vars=$(cat "$services")
fi
printf '{"all": {"vars": %s}, "_meta": {"hostvars": {}}}\n' "$vars"
