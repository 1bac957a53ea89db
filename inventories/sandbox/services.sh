#!/usr/bin/env bash
# Inventory script: the variables of the services the sandbox runs, from
# $ROLLBACK_SANDBOX/services.json. demo/drill.py writes that file with every variable of the
# complete rollback when it builds the sandbox (the docs tests write their own); without it this
# adds nothing.
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
