# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Journal entries of a run -> phases per host, verdicts, RTO (controller side).

PRIVATE to this collection: the leading underscore means no API promise.

Each role writes one verdict entry per host per run (action verify, result ok | not_verified |
failed) whose details.phases lists the phases it finished with their durations, and, when it
failed, details.failed_phase and details.reverted. The verdict's ts is the end of the role's
run and its duration_s the whole run, so the phases are laid out backwards from there.
Entries of roles that wrote no verdict give one bar per component from their first to last step.
"""

from __future__ import annotations

import datetime
import re

VERDICTS = {"ok": "verified", "not_verified": "changed but not verified", "failed": "failed"}
# Worst first: a host's verdict is the worst of its components'.
VERDICT_ORDER = ("failed", "changed but not verified", "verified", "unchanged")
# Steps that change no part of the stack (the host lock, announcements): they fail a host, never leave it unverified.
BOOKKEEPING = ("lock", "notify")
STAMP = re.compile(r"^(\d{8}T\d{6})")


def natural(name):
    """web2 before web10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(name))]


class TimelineError(ValueError):
    pass


def parse_ts(value):
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise TimelineError("not an ISO 8601 time: %r" % (value,)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def iso(moment):
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _duration(entry):
    value = entry.get("duration_s")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def check_entries(entries):
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TimelineError("expects a list of journal entries (dicts), got %s" % type(entries).__name__)
    for number, entry in enumerate(entries, start=1):
        for key in ("ts", "host", "component", "action", "result"):
            if not entry.get(key):
                raise TimelineError("journal entry %d has no %s" % (number, key))


def select(entries, run_id=None):
    return [e for e in entries if run_id is None or e.get("run_id") == run_id]


def is_verdict(entry):
    return entry.get("action") == "verify" and entry.get("result") in VERDICTS


def phases(entries, run_id=None):
    """{host: [{component, phase, start, end, duration_s, result}]} ordered by start."""
    check_entries(entries)
    entries = select(entries, run_id)
    per_host = {}
    with_verdict = {(e["host"], e["component"]) for e in entries if is_verdict(e)}
    for entry in entries:
        if is_verdict(entry):
            per_host.setdefault(entry["host"], []).extend(_verdict_phases(entry, entries))
    loose = {}
    for entry in entries:
        key = (entry["host"], entry["component"])
        if key in with_verdict:
            continue
        end = parse_ts(entry["ts"])
        start = end - datetime.timedelta(seconds=_duration(entry))
        span = loose.setdefault(key, {"start": start, "end": end, "results": []})
        span["start"], span["end"] = min(span["start"], start), max(span["end"], end)
        span["results"].append(entry["result"])
    for (host, component), span in loose.items():
        result = "failed" if "failed" in span["results"] else "reverted" if "reverted" in span["results"] else "ok"
        per_host.setdefault(host, []).append(_bar(component, "run", span["start"], span["end"], result))
    hosts = sorted(per_host, key=natural)
    return {host: sorted(per_host[host], key=lambda b: (b["start"], b["component"])) for host in hosts}


def _bar(component, phase, start, end, result):
    return {
        "component": component,
        "phase": phase,
        "start": iso(start),
        "end": iso(end),
        "duration_s": round((end - start).total_seconds(), 3),
        "result": result,
    }


def _verdict_phases(verdict, entries):
    details = verdict.get("details") or {}
    end = parse_ts(verdict["ts"])
    start = end - datetime.timedelta(seconds=_duration(verdict))
    bars, cursor = [], start
    for item in details.get("phases") or []:
        took = float(item.get("duration_s") or 0)
        bars.append(
            _bar(verdict["component"], item.get("phase", "?"), cursor, cursor + datetime.timedelta(seconds=took), "ok")
        )
        cursor += datetime.timedelta(seconds=took)
    if verdict["result"] == "failed":
        # The failed phase ran until the revert began; the revert ran until the verdict.
        reverts = [
            e
            for e in entries
            if e.get("host") == verdict["host"]
            and e.get("component") == verdict["component"]
            and e.get("result") == "reverted"
            and start <= parse_ts(e["ts"]) <= end
        ]
        revert_start = min((parse_ts(e["ts"]) - datetime.timedelta(seconds=_duration(e)) for e in reverts), default=end)
        revert_start = max(revert_start, cursor)
        bars.append(_bar(verdict["component"], details.get("failed_phase") or "?", cursor, revert_start, "failed"))
        if reverts or details.get("reverted"):
            bars.append(_bar(verdict["component"], "revert", revert_start, end, "reverted"))
    elif bars:
        bars[-1]["end"] = iso(max(parse_ts(bars[-1]["end"]), end))
        bars[-1]["result"] = verdict["result"]
    return bars


def verdicts(entries, run_id=None):
    """{host: {verdict, components: {component: verdict}, reverted: [...], message}}."""
    check_entries(entries)
    result = {}
    for entry in select(entries, run_id):
        host = result.setdefault(entry["host"], {"verdict": "unchanged", "components": {}, "reverted": []})
        if is_verdict(entry):
            host["components"][entry["component"]] = VERDICTS[entry["result"]]
            host["reverted"].extend((entry.get("details") or {}).get("reverted") or [])
        elif entry.get("result") == "reverted" and entry.get("message"):
            host["reverted"].append("%s: %s" % (entry["component"], entry["message"]))
        elif entry.get("result") == "failed":
            host["components"].setdefault(entry["component"], "failed")
        elif entry.get("result") == "changed" and entry["component"] not in BOOKKEEPING:
            host["components"].setdefault(entry["component"], "changed but not verified")
    for host in result.values():
        found = set(host["components"].values()) or {"unchanged"}
        host["verdict"] = next(v for v in VERDICT_ORDER if v in found)
        host["reverted"] = list(dict.fromkeys(host["reverted"]))
    return {host: result[host] for host in sorted(result, key=natural)}


def _snapshot_time(snapshot_id):
    match = STAMP.match(str(snapshot_id or ""))
    if not match:
        return None
    return datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=datetime.UTC)


def rto(entries, run_id=None, started=None, target_s=None, rpo_target_s=None):
    """RTO achieved (first step -> last step, or from `started`, e.g. the detection time) and RPO."""
    check_entries(entries)
    entries = select(entries, run_id)
    if not entries:
        raise TimelineError("no journal entries%s" % (" for run %s" % run_id if run_id else ""))
    starts = [parse_ts(e["ts"]) - datetime.timedelta(seconds=_duration(e)) for e in entries]
    ends = [parse_ts(e["ts"]) for e in entries]
    first = parse_ts(started) if started else min(starts)
    last = max(ends)
    host_verdicts = verdicts(entries)
    counts = {}
    for host in host_verdicts.values():
        counts[host["verdict"]] = counts.get(host["verdict"], 0) + 1
    recovery_points = []
    for entry in entries:
        # The recovery point is the snapshot a restore put back, not the safety copies a run takes.
        if entry.get("snapshot") and "restore" in entry["action"]:
            taken = _snapshot_time(entry["snapshot"])
            recovery_points.append(
                {
                    "host": entry["host"],
                    "component": entry["component"],
                    "action": entry["action"],
                    "snapshot": entry["snapshot"],
                    "snapshot_time": iso(taken) if taken else None,
                }
            )
    known = [parse_ts(p["snapshot_time"]) for p in recovery_points if p["snapshot_time"]]
    rpo_s = round((first - min(known)).total_seconds(), 3) if known else None
    rto_s = round((last - first).total_seconds(), 3)
    return {
        "run_id": run_id or (entries[0].get("run_id")),
        "started": iso(first),
        "ended": iso(last),
        "rto_s": rto_s,
        "rto_target_s": target_s,
        "rto_met": None if target_s is None else rto_s <= target_s,
        "rpo_s": rpo_s,
        "rpo_target_s": rpo_target_s,
        "rpo_met": None if rpo_target_s is None or rpo_s is None else rpo_s <= rpo_target_s,
        "hosts": len(host_verdicts),
        "verdicts": dict(sorted(counts.items())),
        "verified": bool(host_verdicts) and all(h["verdict"] == "verified" for h in host_verdicts.values()),
        "recovery_points": recovery_points,
    }
