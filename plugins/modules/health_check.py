#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: health_check
short_description: Probe HTTP(S) endpoints until they are healthy, with millisecond latency figures
version_added: 0.1.0
description:
  - Sends requests to each URL until it has answered with an expected status (and body)
    O(consecutive) times in a row, or O(attempts) requests have been made.
  - The URLs are probed concurrently (up to 64 at a time), so a list of every host's health URL
    checked from the controller takes about as long as its slowest URL.
  - Returns per URL the last status, the attempts made and the latency of the requests in
    milliseconds (min, median, p95, max). M(ansible.builtin.uri) only reports whole seconds.
  - Read-only. It never reports a change; in check mode the probes still run.
  - Fails with one line naming every unhealthy URL and why (connection refused, timed out,
    unexpected status, body mismatch).
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Probes run in check mode too; they only read.
  diff_mode:
    support: none
    description: It changes nothing, so there is no difference to show.
options:
  url:
    description:
      - One or more absolute C(http://) or C(https://) URLs.
    type: list
    elements: str
    required: true
    aliases: [urls]
  status_code:
    description:
      - Status codes that count as healthy.
    type: list
    elements: int
    default: [200]
  body_regex:
    description:
      - A Python regular expression the response body must contain (searched, not matched).
    type: str
  method:
    description:
      - HTTP method of the probe.
    type: str
    default: GET
    choices: [GET, HEAD, POST, OPTIONS]
  headers:
    description:
      - Extra request headers (for example C(Host) to reach a virtual host through an IP).
      - The values of headers whose name mentions auth, token, key, secret, signature, password or
        cookie are masked like no_log options, never shown in results or the journal.
    type: dict
    default: {}
  timeout:
    description:
      - Timeout of one request, in seconds.
    type: float
    default: 5
  attempts:
    description:
      - Most requests made to one URL.
    type: int
    default: 10
  interval:
    description:
      - Seconds to wait between two requests to one URL.
    type: float
    default: 1
  consecutive:
    description:
      - Healthy answers in a row required before a URL counts as healthy.
      - Must not exceed O(attempts).
    type: int
    default: 1
  validate_certs:
    description:
      - Verify the server certificate of C(https://) URLs.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates to verify C(https://) URLs against.
    type: path
  component:
    description:
      - Component name written to the journal for this verification.
    type: str
    default: app
seealso:
  - module: ansible.builtin.uri
"""

EXAMPLES = r"""
- name: Wait until the app answers /health three times in a row
  emergency.rollback.health_check:
    url: http://127.0.0.1:8080/health
    body_regex: '"status":\s*"ok"'
    consecutive: 3
    attempts: 30
    interval: 2

- name: Check several backends behind their virtual host
  emergency.rollback.health_check:
    url:
      - https://10.0.0.11/health
      - https://10.0.0.12/health
    headers:
      Host: shop.example.com
    ca_path: /etc/ssl/certs/internal-ca.pem
  register: health

- name: Show the p95 latency of the first backend
  ansible.builtin.debug:
    msg: "{{ health.urls[0].latency_ms.p95 }} ms"
"""

RETURN = r"""
healthy:
  description: Whether every URL was healthy.
  returned: success
  type: bool
  sample: true
urls:
  description: One result per URL, in the order given.
  returned: always
  type: list
  elements: dict
  sample:
    - url: http://127.0.0.1:8080/health
      healthy: true
      status: 200
      attempts: 3
      successes: 3
      consecutive: 3
      error: null
      latency_ms: {"count": 3, "min": 1.21, "median": 1.4, "p95": 2.03, "max": 2.03}
  contains:
    url:
      description: The URL probed.
      type: str
      sample: http://127.0.0.1:8080/health
    healthy:
      description: Whether it reached O(consecutive) healthy answers in a row.
      type: bool
      sample: true
    status:
      description: Status code of the last answer, null when no answer came.
      type: int
      sample: 200
    attempts:
      description: Requests made.
      type: int
      sample: 3
    successes:
      description: Healthy answers among them.
      type: int
      sample: 3
    consecutive:
      description: Healthy answers in a row at the end.
      type: int
      sample: 3
    error:
      description: Why the last unhealthy answer was unhealthy; null when healthy.
      type: str
      sample: connection refused
    latency_ms:
      description: Latency of all requests made, in milliseconds.
      type: dict
      sample: {"count": 3, "min": 1.21, "median": 1.4, "p95": 2.03, "max": 2.03}
duration_s:
  description: Wall time of the whole check, in seconds.
  returned: always
  type: float
  sample: 0.42
"""

import re
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, hide_secret_headers, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._health import BadURL, check, check_url

# Probes in flight at once; more URLs queue for a free thread.
MAX_PARALLEL = 64


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                url=dict(type="list", elements="str", required=True, aliases=["urls"]),
                status_code=dict(type="list", elements="int", default=[200]),
                body_regex=dict(type="str"),
                method=dict(type="str", default="GET", choices=["GET", "HEAD", "POST", "OPTIONS"]),
                headers=dict(type="dict", default={}),
                timeout=dict(type="float", default=5),
                attempts=dict(type="int", default=10),
                interval=dict(type="float", default=1),
                consecutive=dict(type="int", default=1),
                validate_certs=dict(type="bool", default=True),
                ca_path=dict(type="path"),
                component=dict(type="str", default="app"),
            )
        ),
        supports_check_mode=True,
    )
    p = module.params
    hide_secret_headers(module, p["headers"])
    step = Step(module, p["component"], "verify")

    if not p["url"]:
        module.fail_json(msg="health_check: url must name at least one URL")
    for url in p["url"]:
        try:
            check_url(url)
        except BadURL as err:
            module.fail_json(msg="health_check: %s" % err)
    if p["attempts"] < 1 or p["consecutive"] < 1:
        module.fail_json(msg="health_check: attempts and consecutive must be at least 1")
    if p["consecutive"] > p["attempts"]:
        module.fail_json(
            msg="health_check: consecutive=%d can never be reached with attempts=%d" % (p["consecutive"], p["attempts"])
        )
    if p["timeout"] <= 0 or p["interval"] < 0:
        module.fail_json(msg="health_check: timeout must be positive and interval not negative")
    if p["body_regex"] is not None:
        try:
            re.compile(p["body_regex"])
        except re.error as err:
            module.fail_json(
                msg="health_check: body_regex %r is not a valid regular expression: %s" % (p["body_regex"], err)
            )

    def probe(url):
        return check(
            url,
            status_codes=p["status_code"],
            body_regex=p["body_regex"],
            attempts=p["attempts"],
            interval=p["interval"],
            consecutive=p["consecutive"],
            method=p["method"],
            headers=p["headers"],
            timeout=p["timeout"],
            validate_certs=p["validate_certs"],
            ca_path=p["ca_path"],
        )

    # The URLs are probed at the same time (a fleet's hosts from the controller): the task takes
    # as long as the slowest URL, not the sum. Threads: the probes wait on the network.
    workers = min(len(p["url"]), MAX_PARALLEL)
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(probe, p["url"]))
    else:
        results = [probe(url) for url in p["url"]]
    failed = [r for r in results if not r["healthy"]]
    summary = ", ".join("%s %s ms p95" % (r["url"], r["latency_ms"]["p95"]) for r in results)
    if failed:
        msg = "health_check failed: " + "; ".join(
            "%s: %s (%d attempts, %d healthy)" % (r["url"], r["error"], r["attempts"], r["successes"]) for r in failed
        )
        step.fail(
            msg, journal_fields={"to": "unhealthy"}, urls=results, healthy=False, duration_s=round(step.elapsed(), 3)
        )
    else:
        step.exit(False, message="healthy: " + summary, journal_fields={"to": "healthy"}, urls=results, healthy=True)


if __name__ == "__main__":
    main()
