# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decision matrix: metrics + policy -> level, triggers, deadline, approvers (controller side).

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import datetime
import math
import operator
import os

import yaml

# Most severe first: the first level with a fired trigger is the decision.
LEVELS = ("immediate", "urgent", "consideration")
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne}
DEFAULT_POLICY_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "filter", "policies", "default.yml")
TRIGGER_KEYS = {"metric", "op", "threshold", "duration_s", "description"}
LEVEL_KEYS = {"description", "max_decision_time_s", "approvers", "triggers"}


class PolicyError(ValueError):
    """A policy or metrics input that cannot be used; the message is one line."""


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_policy(policy=None):
    """The policy as a validated dict: None -> the shipped default, a str -> a YAML file, a dict as is."""
    if policy is None:
        policy = DEFAULT_POLICY_PATH
    if isinstance(policy, str):
        try:
            with open(policy, encoding="utf-8") as handle:
                policy = yaml.safe_load(handle)
        except OSError as err:
            raise PolicyError("cannot read policy file %s: %s" % (policy, err.strerror)) from None
        except yaml.YAMLError as err:
            raise PolicyError("policy file is not valid YAML: %s" % str(err).replace("\n", " ")) from None
    validate_policy(policy)
    return policy


def validate_policy(policy):
    if not isinstance(policy, dict):
        raise PolicyError("policy must be a mapping, got %s" % type(policy).__name__)
    metrics = policy.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise PolicyError("policy must declare its metrics (a mapping of metric name to description)")
    levels = policy.get("levels")
    if not isinstance(levels, dict) or not levels:
        raise PolicyError("policy must have levels (%s)" % ", ".join(LEVELS))
    for level, spec in levels.items():
        where = "level %s" % level
        if level not in LEVELS:
            raise PolicyError("unknown level %r (known: %s)" % (level, ", ".join(LEVELS)))
        if not isinstance(spec, dict):
            raise PolicyError("%s must be a mapping" % where)
        extra = set(spec) - LEVEL_KEYS
        if extra:
            raise PolicyError("%s: unknown key(s) %s" % (where, ", ".join(sorted(extra))))
        mdt = spec.get("max_decision_time_s")
        if not _number(mdt) or mdt < 0:
            raise PolicyError("%s: max_decision_time_s must be a number of seconds >= 0, got %r" % (where, mdt))
        approvers = spec.get("approvers")
        if not isinstance(approvers, list) or not approvers or not all(isinstance(a, str) and a for a in approvers):
            raise PolicyError("%s: approvers must be a non-empty list of names" % where)
        triggers = spec.get("triggers")
        if not isinstance(triggers, list) or not triggers:
            raise PolicyError("%s: triggers must be a non-empty list" % where)
        for number, trigger in enumerate(triggers, start=1):
            _validate_trigger(trigger, "%s trigger %d" % (where, number), metrics)


def _validate_trigger(trigger, where, metrics):
    if not isinstance(trigger, dict):
        raise PolicyError("%s must be a mapping" % where)
    extra = set(trigger) - TRIGGER_KEYS
    if extra:
        raise PolicyError("%s: unknown key(s) %s" % (where, ", ".join(sorted(extra))))
    metric = trigger.get("metric")
    if metric not in metrics:
        raise PolicyError("%s: unknown metric %r (declared: %s)" % (where, metric, ", ".join(sorted(metrics))))
    if trigger.get("op") not in OPS:
        raise PolicyError("%s: op must be one of %s, got %r" % (where, " ".join(OPS), trigger.get("op")))
    if not _number(trigger.get("threshold")):
        threshold = trigger.get("threshold")
        raise PolicyError("%s: bad threshold %r for %s (a number is needed)" % (where, threshold, metric))
    if "duration_s" not in trigger:
        raise PolicyError("%s: missing duration_s for %s (0 fires on the first measurement)" % (where, metric))
    duration = trigger["duration_s"]
    if not _number(duration) or duration < 0:
        raise PolicyError("%s: duration_s must be a number of seconds >= 0, got %r" % (where, duration))


def _observation(name, raw):
    """(value, for_s) of one metric. A plain number was measured over the whole window (for_s None)."""
    if _number(raw):
        return raw, None
    if isinstance(raw, dict) and _number(raw.get("value")):
        for_s = raw.get("for_s")
        if for_s is not None and (not _number(for_s) or for_s < 0):
            raise PolicyError("metric %s: for_s must be a number of seconds >= 0, got %r" % (name, for_s))
        return raw["value"], for_s
    raise PolicyError("metric %s: value must be a number or {value, for_s}, got %r" % (name, raw))


def _parse_now(now):
    if now is None:
        return datetime.datetime.now(datetime.UTC)
    if isinstance(now, datetime.datetime):
        return now if now.tzinfo else now.replace(tzinfo=datetime.UTC)
    try:
        parsed = datetime.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
    except ValueError:
        raise PolicyError("now must be an ISO 8601 time, got %r" % now) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def iso(moment):
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _describe(trigger):
    return "%s %s %s for %ss" % (trigger["metric"], trigger["op"], trigger["threshold"], trigger["duration_s"])


def decide(metrics, policy=None, now=None):
    """Evaluate every trigger of every level; the most severe level with a fired trigger wins."""
    policy = load_policy(policy)
    moment = _parse_now(now)
    if not isinstance(metrics, dict):
        raise PolicyError("metrics must be a mapping of metric name to value, got %s" % type(metrics).__name__)
    unknown = sorted(set(metrics) - set(policy["metrics"]))
    if unknown:
        raise PolicyError(
            "unknown metric(s) %s (the policy knows: %s)" % (", ".join(unknown), ", ".join(sorted(policy["metrics"])))
        )
    observed = {name: _observation(name, raw) for name, raw in metrics.items() if raw is not None}
    fired = []
    for level in LEVELS:
        spec = policy["levels"].get(level)
        for trigger in (spec or {}).get("triggers", []):
            if trigger["metric"] not in observed:
                continue
            value, for_s = observed[trigger["metric"]]
            held = for_s is None or for_s >= trigger["duration_s"]
            if OPS[trigger["op"]](value, trigger["threshold"]) and held:
                fired.append(
                    {
                        "level": level,
                        "metric": trigger["metric"],
                        "op": trigger["op"],
                        "threshold": trigger["threshold"],
                        "duration_s": trigger["duration_s"],
                        "value": value,
                        "for_s": for_s,
                        "description": trigger.get("description") or _describe(trigger),
                    }
                )
    missing = sorted({t["metric"] for spec in policy["levels"].values() for t in spec["triggers"]} - set(observed))
    result = {
        "level": "none",
        "triggers": fired,
        "deadline": None,
        "max_decision_time_s": None,
        "approvers": [],
        "missing_metrics": missing,
        "policy": {"name": policy.get("name"), "version": policy.get("version")},
    }
    if fired:
        level = fired[0]["level"]
        spec = policy["levels"][level]
        result.update(
            level=level,
            max_decision_time_s=spec["max_decision_time_s"],
            approvers=list(spec["approvers"]),
            deadline=iso(moment + datetime.timedelta(seconds=spec["max_decision_time_s"])),
        )
    return result


# Analysis phases that mean the release is bad (Argo Rollouts and CodeDeploy roll back on both).
BAD_PHASES = ("Failed", "Error")
PHASES = ("Successful", "Inconclusive", "Error", "Failed")


def _by_decision(decision, approved_by):
    """(proceed, reason) from a rollback_decision result."""
    level = decision.get("level")
    fired = "; ".join(
        "%s (%s = %s)" % (t["description"], t["metric"], t["value"]) for t in decision.get("triggers", [])
    )
    if level == "immediate":
        return True, "immediate: %s" % fired
    if level in ("urgent", "consideration"):
        approvers = ", ".join(decision.get("approvers") or [])
        if approved_by:
            return True, "%s: %s; approved by %s" % (level, fired, approved_by)
        return False, "%s: %s; needs the approval of %s before %s (rollback_approved_by)" % (
            level,
            fired,
            approvers,
            decision.get("deadline"),
        )
    if level == "none":
        return False, "level none: no trigger of policy %s fired" % (decision.get("policy") or {}).get("name")
    raise PolicyError("decision level must be immediate, urgent, consideration or none, got %r" % level)


def _by_analysis(phase):
    if phase in BAD_PHASES:
        return True, "analysis %s" % phase
    if phase == "Inconclusive":
        return False, "analysis Inconclusive: a person decides"
    if phase == "Successful":
        return False, "analysis Successful: the release is healthy"
    raise PolicyError("analysis phase must be one of %s, got %r" % (", ".join(PHASES), phase))


def proceed(decision=None, analysis=None, approved_by=None, force=False):
    """Whether a rollback goes ahead: {proceed, reason}. Without a decision or an analysis it proceeds.

    Either one saying "roll back" is enough (an immediate level, a Failed or Error analysis); urgent and
    consideration levels need a named approver; force overrides a stop and says so.
    """
    if decision is not None and not isinstance(decision, dict):
        raise PolicyError("decision must be the mapping rollback_decision returns, got %s" % type(decision).__name__)
    verdicts = []
    if decision:
        verdicts.append(_by_decision(decision, approved_by))
    if analysis:
        verdicts.append(_by_analysis(analysis))
    if not verdicts:
        return {"proceed": True, "reason": "no metrics or analysis given: proceed"}
    reasons = "; ".join(reason for _go, reason in verdicts)
    if any(go for go, _reason in verdicts):
        return {"proceed": True, "reason": reasons}
    if force:
        return {"proceed": True, "reason": "forced (rollback_force) over: %s" % reasons}
    return {"proceed": False, "reason": reasons}
