#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: analysis
short_description: Measure metrics and judge a release like an Argo Rollouts AnalysisRun
version_added: 0.1.0
description:
  - Takes O(count) measurements of each metric, O(interval) apart after O(initial_delay), from a
    Prometheus server (an instant query over its HTTP API) or from any JSON URL (a dotted path into
    the reply), and judges each one with O(metrics[].success_condition) and O(metrics[].failure_condition).
  - "Each measurement is V(Successful), V(Failed), V(Inconclusive) (both conditions given, neither met)
    or V(Error) (the value could not be fetched). A metric is V(Failed) once more than
    O(metrics[].failure_limit) measurements failed, V(Error) once more than
    O(metrics[].consecutive_error_limit) errors came in a row, V(Inconclusive) once more than
    O(metrics[].inconclusive_limit) were inconclusive, and V(Successful) otherwise."
  - The run stops as soon as a metric is decided (as Argo does) and its phase is the worst of its
    metrics' (V(Successful) < V(Inconclusive) < V(Error) < V(Failed)).
  - No data (an empty query result, NaN, a path that leads nowhere) counts as a failed measurement
    unless O(metrics[].no_data) says otherwise, as AWS CodeDeploy advises for alarms.
  - The module never fails on a bad phase; it returns it, so a play can branch on RV(phase)
    (roll back on V(Failed) or V(Error), ask a person on V(Inconclusive)).
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Read-only; it measures in check mode too, so a dry run shows the real verdict.
  diff_mode:
    support: none
    description: Changes nothing.
options:
  metrics:
    description: What to measure and how to judge it.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the metric in the result and the journal.
        type: str
        required: true
      query:
        description:
          - PromQL instant query sent to O(prometheus_url); it should return one series or a scalar
            (aggregate with C(sum), C(max), ...). The first series' value is V(result).
        type: str
      url:
        description: A URL answering JSON, read with a GET.
        type: str
      json_path:
        description:
          - Dotted path to the number in the JSON reply of O(metrics[].url) (C(data.error_rate), C(items.0.value)).
        type: str
      success_condition:
        description:
          - Expression over V(result) that holds for a good measurement, such as C(result < 5).
          - Comparisons, C(and), C(or), C(not), arithmetic and numbers only.
        type: str
      failure_condition:
        description: Expression over V(result) that holds for a bad measurement, such as C(result >= 5).
        type: str
      failure_limit:
        description: Failed measurements tolerated before the metric is V(Failed).
        type: int
        default: 0
      inconclusive_limit:
        description: Inconclusive measurements tolerated before the metric is V(Inconclusive).
        type: int
        default: 0
      consecutive_error_limit:
        description: Errors in a row tolerated before the metric is V(Error).
        type: int
        default: 4
      no_data:
        description: How a measurement without data is judged.
        type: str
        choices: [failed, inconclusive, successful]
        default: failed
  prometheus_url:
    description: Base URL of the Prometheus server (C(http://prometheus:9090)), for metrics with a O(metrics[].query).
    type: str
  bearer_token:
    description: Token sent in an C(Authorization) header (C(Bearer <token>)) to Prometheus and the JSON URLs.
    type: str
  interval:
    description: Time between two measurements, seconds or a number with C(ms), C(s), C(m) or C(h).
    type: str
    default: 30s
  count:
    description: Measurements to take of each metric.
    type: int
    default: 1
  initial_delay:
    description: Time to wait before the first measurement, seconds or with a unit like O(interval).
    type: str
    default: "0"
  timeout:
    description: Seconds to wait for each HTTP answer.
    type: float
    default: 10
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  component:
    description: Component name written to the journal for this analysis.
    type: str
    default: analysis
notes:
  - The journal entry has result C(ok) for V(Successful) and C(failed) for every other phase, which
    it names in its message and details.
"""

EXAMPLES = r"""
- name: Watch the error rate for 5 minutes after the release
  emergency.rollback.analysis:
    prometheus_url: http://prometheus:9090
    interval: 30s
    count: 10
    initial_delay: 1m
    metrics:
      - name: error_rate
        query: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m])) * 100
        success_condition: result < 1
        failure_condition: result >= 5
        failure_limit: 1
      - name: p95_latency
        query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))
        failure_condition: result > 2
  register: analysis

- name: Roll back when the analysis failed
  ansible.builtin.include_role:
    name: emergency.rollback.app
  when: analysis.phase in ['Failed', 'Error']

- name: Judge a JSON status page
  emergency.rollback.analysis:
    metrics:
      - name: queue
        url: https://status.example.com/api/queue.json
        json_path: data.depth
        success_condition: result < 1000
"""

RETURN = r"""
phase:
  description: Phase of the run, the worst of its metrics'.
  returned: always
  type: str
  sample: Failed
metrics:
  description: Per metric, its phase, how many measurements ended in each phase, and every measurement.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "error_rate", "phase": "Failed", "count": 2, "rounds": 2, "successful": 1, "failed": 1,
            "inconclusive": 0, "error": 0,
            "measurements": [{"ts": "2026-11-23T18:45:00.000Z", "value": 0.4, "phase": "Successful",
                              "message": "success_condition met"},
                             {"ts": "2026-11-23T18:45:30.000Z", "value": 7.9, "phase": "Failed",
                              "message": "failure_condition met"}]}]
duration_s:
  description: How long the analysis took, in seconds.
  returned: always
  type: float
  sample: 30.2
journal_entry:
  description: The journal entry written (absent in check mode or with O(journal=false)).
  returned: when journaled
  type: dict
  sample: {"run_id": "rb-1", "ts": "2026-11-23T18:45:30.000Z", "host": "web1", "component": "analysis",
           "action": "analysis", "from": null, "to": "Failed", "snapshot": null, "duration_s": 30.2,
           "result": "failed", "message": "Failed: error_rate Failed (1 of 2 failed)"}
"""

import functools

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._analysis import (
    SUCCESSFUL,
    ConditionError,
    Metric,
    json_value,
    parse_duration,
    prometheus_value,
    run,
)
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common

METRIC_SPEC = dict(
    name=dict(type="str", required=True),
    query=dict(type="str"),
    url=dict(type="str"),
    json_path=dict(type="str"),
    success_condition=dict(type="str"),
    failure_condition=dict(type="str"),
    failure_limit=dict(type="int", default=0),
    inconclusive_limit=dict(type="int", default=0),
    consecutive_error_limit=dict(type="int", default=4),
    no_data=dict(type="str", choices=["failed", "inconclusive", "successful"], default="failed"),
)


def build_metrics(module):
    p = module.params
    headers = {"Authorization": "Bearer %s" % p["bearer_token"]} if p["bearer_token"] else {}
    http = dict(headers=headers, timeout=p["timeout"], validate_certs=p["validate_certs"])
    metrics = []
    for spec in p["metrics"]:
        if spec["query"] is not None:
            if not p["prometheus_url"]:
                module.fail_json(msg="metric %s has a query but prometheus_url is not set" % spec["name"])
            fetch = functools.partial(prometheus_value, p["prometheus_url"], spec["query"], **http)
        else:
            fetch = functools.partial(json_value, spec["url"], spec["json_path"], **http)
        if spec["success_condition"] is None and spec["failure_condition"] is None:
            module.fail_json(msg="metric %s needs a success_condition or a failure_condition" % spec["name"])
        try:
            metrics.append(Metric(spec, fetch))
        except ConditionError as err:
            module.fail_json(msg="metric %s: %s" % (spec["name"], err))
    return metrics


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                metrics=dict(
                    type="list",
                    elements="dict",
                    required=True,
                    options=METRIC_SPEC,
                    mutually_exclusive=[("query", "url")],
                    required_one_of=[("query", "url")],
                    required_by={"json_path": "url"},
                ),
                prometheus_url=dict(type="str"),
                bearer_token=dict(type="str", no_log=True),
                interval=dict(type="str", default="30s"),
                count=dict(type="int", default=1),
                initial_delay=dict(type="str", default="0"),
                timeout=dict(type="float", default=10),
                validate_certs=dict(type="bool", default=True),
                component=dict(type="str", default="analysis"),
            )
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        interval = parse_duration(p["interval"], "interval")
        initial_delay = parse_duration(p["initial_delay"], "initial_delay")
    except ValueError as err:
        module.fail_json(msg=str(err))
    if p["count"] < 1:
        module.fail_json(msg="count must be at least 1, got %d" % p["count"])
    if not p["metrics"]:
        module.fail_json(msg="metrics must name at least one metric")
    step = Step(module, p["component"], "analysis")
    phase, metrics = run(build_metrics(module), p["count"], interval, initial_delay)
    message = "%s: %s" % (
        phase,
        ", ".join("%s %s (%d of %d failed)" % (m["name"], m["phase"], m["failed"], m["count"]) for m in metrics),
    )
    step.record(
        "ok" if phase == SUCCESSFUL else "failed",
        to=phase,
        message=message,
        metrics={m["name"]: {k: m[k] for k in ("phase", "count", "failed", "inconclusive", "error")} for m in metrics},
    )
    result = dict(changed=False, phase=phase, metrics=metrics, duration_s=round(step.elapsed(), 3))
    if step.entry is not None:
        result["journal_entry"] = step.entry
    module.exit_json(**result)


if __name__ == "__main__":
    main()
