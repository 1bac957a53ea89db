# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Metric analysis with Argo Rollouts AnalysisRun semantics.

PRIVATE to this collection: the leading underscore means no API promise.

Runs on targets: Python 3.9 compatible, standard library and ansible's module_utils only.
"""

from __future__ import annotations

import ast
import datetime
import json
import math
import operator
import re
import time

from ansible.module_utils.six.moves.urllib.parse import urlencode
from ansible.module_utils.urls import open_url

from ansible_collections.emergency.rollback.plugins.module_utils._journal import redact_url

SUCCESSFUL, INCONCLUSIVE, ERROR, FAILED = "Successful", "Inconclusive", "Error", "Failed"
# Worst last: the run's phase is the worst of its metrics'.
PHASE_ORDER = (SUCCESSFUL, INCONCLUSIVE, ERROR, FAILED)
NO_DATA = {"failed": FAILED, "inconclusive": INCONCLUSIVE, "successful": SUCCESSFUL}
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}


class AnalysisError(Exception):
    """A measurement that could not be taken (the metric's Error count grows)."""


class ConditionError(ValueError):
    """A condition that is not a comparison of `result` (bad input: nothing is measured)."""


def utcnow_iso():
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 - targets run Python 3.9
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def worst(phases):
    return max(phases, key=PHASE_ORDER.index) if phases else SUCCESSFUL


def parse_duration(value, name):
    """Seconds from 30, '30', '30s', '2m', '1h' or '500ms'."""
    match = DURATION.match(str(value))
    if not match:
        raise ValueError("%s must be seconds or a number with ms, s, m or h (like 30s or 2m), got %r" % (name, value))
    return float(match.group(1)) * UNITS[match.group(2)]


# --- conditions: a small, safe subset of Python expressions over `result` ---------------------

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_CMPOPS = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def compile_condition(text, name):
    """Parse once, so a bad condition fails the task before anything is measured."""
    if text is None:
        return None
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ConditionError("%s %r is not an expression (example: result < 5)" % (name, text)) from None
    for node in ast.walk(tree):
        allowed = (
            (
                ast.Expression,
                ast.BoolOp,
                ast.And,
                ast.Or,
                ast.UnaryOp,
                ast.Not,
                ast.USub,
                ast.BinOp,
                ast.Compare,
                ast.Constant,
                ast.Name,
                ast.Load,
            )
            + tuple(_BINOPS)
            + tuple(_CMPOPS)
        )
        if not isinstance(node, allowed):
            raise ConditionError("%s %r may only compare `result` with numbers (and, or, not, + - * /)" % (name, text))
        if isinstance(node, ast.Name) and node.id != "result":
            raise ConditionError("%s %r: unknown name %r, only `result` is known" % (name, text, node.id))
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ConditionError("%s %r: only numbers may be compared" % (name, text))
    return tree.body


def evaluate(node, result):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return result
    if isinstance(node, ast.BoolOp):
        values = [evaluate(v, result) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = evaluate(node.operand, result)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](evaluate(node.left, result), evaluate(node.right, result))
    left = evaluate(node.left, result)
    for index, op in enumerate(node.ops):  # zip(strict=) is Python 3.10+
        right = evaluate(node.comparators[index], result)
        if not _CMPOPS[type(op)](left, right):
            return False
        left = right
    return True


# --- providers ----------------------------------------------------------------------------------


def _get_json(url, headers, timeout, validate_certs):
    try:
        response = open_url(url, headers=headers, timeout=timeout, validate_certs=validate_certs, method="GET")
        body = response.read()
    except Exception as err:  # open_url raises HTTPError, URLError, socket errors, SSL errors
        raise AnalysisError("GET %s failed: %s" % (redact_url(url.split("?")[0]), err)) from None
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise AnalysisError("%s did not answer JSON: %s" % (redact_url(url.split("?")[0]), err)) from None


def _number(value):
    """A float, or None for no data (NaN, which Prometheus gives for 0/0, is no data)."""
    if isinstance(value, bool):
        raise AnalysisError("value %r is a boolean, not a number" % value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnalysisError("value %r is not a number" % (value,)) from None
    return None if math.isnan(number) else number


def prometheus_value(address, query, headers, timeout, validate_certs):
    url = "%s/api/v1/query?%s" % (address.rstrip("/"), urlencode({"query": query}))
    reply = _get_json(url, headers, timeout, validate_certs)
    if not isinstance(reply, dict) or reply.get("status") != "success":
        raise AnalysisError(
            "Prometheus refused the query: %s" % (reply.get("error") if isinstance(reply, dict) else reply)
        )
    data = reply.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _number(result[1])
    if kind == "vector":
        return _number(result[0]["value"][1]) if result else None
    raise AnalysisError("query must return a scalar or an instant vector, got %s" % kind)


def json_value(url, path, headers, timeout, validate_certs):
    value = _get_json(url, headers, timeout, validate_certs)
    for key in [p for p in (path or "").split(".") if p]:
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return None  # the path leads nowhere: no data
    return None if value is None else _number(value)


# --- the run --------------------------------------------------------------------------------------


class Metric:
    """One metric's measurements and its phase under Argo's limits."""

    def __init__(self, spec, fetch):
        self.spec = spec
        self.fetch = fetch
        self.success = compile_condition(spec.get("success_condition"), "success_condition")
        self.failure = compile_condition(spec.get("failure_condition"), "failure_condition")
        self.no_data = NO_DATA[spec.get("no_data") or "failed"]
        self.measurements = []
        self.consecutive_errors = 0

    def count(self, phase):
        return sum(1 for m in self.measurements if m["phase"] == phase)

    def judge(self, value):
        if value is None:
            return self.no_data, "no data"
        failed = self.failure is not None and evaluate(self.failure, value)
        if failed:
            return FAILED, "failure_condition met"
        if self.success is not None:
            if evaluate(self.success, value):
                return SUCCESSFUL, "success_condition met"
            return (
                (INCONCLUSIVE, "neither condition met")
                if self.failure is not None
                else (FAILED, "success_condition not met")
            )
        return SUCCESSFUL, "failure_condition not met"

    def measure(self):
        started = utcnow_iso()
        try:
            value = self.fetch()
            phase, message = self.judge(value)
            self.consecutive_errors = 0
        except AnalysisError as err:
            value, phase, message = None, ERROR, str(err)
            self.consecutive_errors += 1
        self.measurements.append({"ts": started, "value": value, "phase": phase, "message": message})

    @property
    def phase(self):
        """Decided phase, or None while more measurements are needed."""
        s = self.spec
        if self.count(FAILED) > s["failure_limit"]:
            return FAILED
        if self.consecutive_errors > s["consecutive_error_limit"]:
            return ERROR
        if self.count(INCONCLUSIVE) > s["inconclusive_limit"]:
            return INCONCLUSIVE
        return None

    def summary(self, rounds):
        phase = self.phase or SUCCESSFUL
        return {
            "name": self.spec["name"],
            "phase": phase,
            "count": len(self.measurements),
            "rounds": rounds,
            "successful": self.count(SUCCESSFUL),
            "failed": self.count(FAILED),
            "inconclusive": self.count(INCONCLUSIVE),
            "error": self.count(ERROR),
            "measurements": self.measurements,
        }


def run(metrics, count, interval, initial_delay, sleep=time.sleep):
    """Measure every metric `count` times, `interval` apart; stop early once a metric is decided.

    Like Argo, a run ends as soon as a metric reaches Failed, Error or Inconclusive; the run's
    phase is the worst of its metrics' (Successful < Inconclusive < Error < Failed).
    """
    if initial_delay:
        sleep(initial_delay)
    rounds = 0
    for number in range(count):
        if number:
            sleep(interval)
        rounds += 1
        for metric in metrics:
            metric.measure()
        if any(metric.phase for metric in metrics):
            break
    summaries = [metric.summary(rounds) for metric in metrics]
    return worst([s["phase"] for s in summaries]), summaries
