"""Journal entries shaped like the ones the roles' run frame writes, for filter and report tests.

Per role per host: the steps of its modules, then one verdict entry (action verify) whose
details.phases lists the finished phases; a failed role names failed_phase and what it reverted.
"""

from __future__ import annotations

import datetime

PHASES = ("preflight", "snapshot", "rollback", "verify")
T0 = datetime.datetime(2026, 11, 23, 18, 45, tzinfo=datetime.UTC)


def ts(seconds):
    return (T0 + datetime.timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry(run_id, host, component, action, result, at, **fields):
    data = {
        "run_id": run_id,
        "ts": ts(at),
        "host": host,
        "component": component,
        "action": action,
        "from": fields.pop("from_", None),
        "to": fields.pop("to", None),
        "snapshot": fields.pop("snapshot", None),
        "duration_s": fields.pop("duration_s", None),
        "result": result,
        "message": fields.pop("message", None),
    }
    if fields:
        data["details"] = fields
    return data


def role_run(run_id, host, component, start, took=(1.0, 2.0, 3.0, 4.0), fail_in=None, reverted=None):
    """Entries of one role on one host starting at `start` seconds after T0."""
    entries, cursor, done = [], start, []
    for phase, seconds in zip(PHASES, took, strict=False):
        if phase == fail_in:
            cursor += seconds
            break
        done.append({"phase": phase, "duration_s": seconds})
        cursor += seconds
        if phase == "snapshot":
            entries.append(
                entry(run_id, host, component, "snapshot", "changed", cursor, snapshot="20261123T184500Z", duration_s=1)
            )
        if phase == "rollback":
            entries.append(
                entry(run_id, host, component, "switch", "changed", cursor, from_="v2", to="v1", duration_s=seconds)
            )
    if fail_in:
        entries.append(
            entry(
                run_id,
                host,
                component,
                "auto_revert",
                "reverted",
                cursor + 2,
                from_="v1",
                to="v2",
                duration_s=2,
                message="switched back to v2",
            )
        )
        cursor += 2
        entries.append(
            entry(
                run_id,
                host,
                component,
                "verify",
                "failed",
                cursor,
                duration_s=cursor - start,
                message="failed in %s" % fail_in,
                phases=done,
                failed_phase=fail_in,
                reverted=reverted or ["release back to v2"],
            )
        )
    else:
        entries.append(
            entry(
                run_id,
                host,
                component,
                "verify",
                "ok",
                cursor,
                duration_s=cursor - start,
                message="health checks passed",
                phases=done,
            )
        )
    return entries


def fleet_run(run_id="rb-test-1", hosts=("web1", "web2", "web3"), fail=None):
    """A run of the app role on every host (and the database role on the first); fail=host fails its verify."""
    entries = role_run(run_id, hosts[0], "database", 0)
    for number, host in enumerate(hosts):
        entries += role_run(run_id, host, "app", 10 + number, fail_in="verify" if host == fail else None)
    return entries
