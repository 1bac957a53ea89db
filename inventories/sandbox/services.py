#!/usr/bin/env python3
"""Inventory script: the variables of the services the sandbox runs ($ROLLBACK_SANDBOX/services.json).

demo/drill.py writes that file when it starts the sandbox's app, nginx, PostgreSQL and Redis;
without it the sandbox has no service variables and this adds nothing.
"""

import json
import os
import sys

sandbox = os.environ.get("ROLLBACK_SANDBOX") or "/tmp/emergency-rollback-sandbox"
try:
    with open(os.path.join(sandbox, "services.json")) as handle:
        service_vars = json.load(handle)
except (OSError, ValueError):
    service_vars = {}
if len(sys.argv) > 1 and sys.argv[1] == "--host":
    print("{}")
else:
    print(json.dumps({"all": {"vars": service_vars}, "_meta": {"hostvars": {}}}))
