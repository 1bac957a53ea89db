"""phase_durations and rto_summary on journals shaped like the run frame's."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.filter.phase_durations import phase_durations
from ansible_collections.emergency.rollback.plugins.filter.rto_summary import rto_summary
from tests.harness.journals import entry, fleet_run, role_run


def test_phases_per_host_in_order_with_durations():
    bars = phase_durations(fleet_run())
    assert sorted(bars) == ["web1", "web2", "web3"]
    app = [b for b in bars["web2"] if b["component"] == "app"]
    assert [b["phase"] for b in app] == ["preflight", "snapshot", "rollback", "verify"]
    assert [b["duration_s"] for b in app] == [1.0, 2.0, 3.0, 4.0]
    assert app[0]["start"] == "2026-11-23T18:45:11.000Z" and app[-1]["end"] == "2026-11-23T18:45:21.000Z"
    assert [b["result"] for b in app] == ["ok", "ok", "ok", "ok"]
    assert [b["component"] for b in bars["web1"]][:4] == ["database"] * 4


def test_failed_role_shows_the_failed_phase_and_the_revert():
    bars = phase_durations(fleet_run(fail="web3"))["web3"]
    assert [(b["phase"], b["result"]) for b in bars] == [
        ("preflight", "ok"),
        ("snapshot", "ok"),
        ("rollback", "ok"),
        ("verify", "failed"),
        ("revert", "reverted"),
    ]
    assert bars[-2]["duration_s"] == 4.0 and bars[-1]["duration_s"] == 2.0


def test_steps_without_a_verdict_give_one_bar_per_component():
    entries = [
        entry("r", "cache1", "cache", "flush", "changed", 5, duration_s=2),
        entry("r", "cache1", "cache", "flush", "changed", 9, duration_s=1),
    ]
    assert phase_durations(entries) == {
        "cache1": [
            {
                "component": "cache",
                "phase": "run",
                "start": "2026-11-23T18:45:03.000Z",
                "end": "2026-11-23T18:45:09.000Z",
                "duration_s": 6.0,
                "result": "ok",
            }
        ]
    }


def test_run_id_selects():
    entries = fleet_run("rb-a") + role_run("rb-b", "other", "app", 0)
    assert sorted(phase_durations(entries, run_id="rb-b")) == ["other"]


def test_rto_of_a_verified_run():
    summary = rto_summary(fleet_run(), target_s=30, rpo_target_s=60)
    assert summary["run_id"] == "rb-test-1"
    assert summary["started"] == "2026-11-23T18:45:00.000Z" and summary["ended"] == "2026-11-23T18:45:22.000Z"
    assert (summary["rto_s"], summary["rto_met"]) == (22.0, True)
    assert summary["verified"] is True and summary["verdicts"] == {"verified": 3} and summary["hosts"] == 3
    assert summary["rpo_s"] is None and summary["rpo_met"] is None  # no restore in this run


def test_rto_target_missed_and_failed_host_counted():
    summary = rto_summary(fleet_run(fail="web2"), target_s=10, started="2026-11-23T18:44:00Z")
    assert (summary["rto_s"], summary["rto_met"]) == (83.0, False)
    assert summary["verdicts"] == {"failed": 1, "verified": 2} and summary["verified"] is False


def test_rpo_from_the_snapshot_a_restore_put_back():
    entries = role_run("r", "db1", "database", 0) + [
        entry("r", "db1", "database", "restore", "changed", 3, snapshot="20261123T174500Z", duration_s=1)
    ]
    summary = rto_summary(entries, rpo_target_s=1800)
    assert summary["recovery_points"][0]["snapshot_time"] == "2026-11-23T17:45:00.000Z"
    assert (summary["rpo_s"], summary["rpo_met"]) == (3600.0, False)


@pytest.mark.parametrize(
    "filter_,entries,message",
    [
        (rto_summary, "journal", "rto_summary: expects a list of journal entries (dicts), got str"),
        (phase_durations, [{"ts": "x"}], "phase_durations: journal entry 1 has no host"),
        (rto_summary, [], "rto_summary: no journal entries"),
        (phase_durations, [entry("r", "h", "app", "x", "ok", 0) | {"ts": "yesterday"}], "not an ISO 8601 time"),
    ],
)
def test_bad_input(filter_, entries, message):
    with pytest.raises(AnsibleFilterError) as err:
        filter_(entries)
    assert message in str(err.value)


def test_lock_and_announcements_leave_a_verified_host_verified():
    bookkeeping = [
        entry("rb-test-1", "web1", "lock", "acquire", "changed", 0),
        entry("rb-test-1", "web1", "notify", "slack", "changed", 1),
        entry("rb-test-1", "web1", "lock", "release", "changed", 22),
    ]
    assert rto_summary(fleet_run() + bookkeeping)["verdicts"] == {"verified": 3}
    # a change outside the bookkeeping without a verification still says so
    unverified = [entry("rb-test-1", "web1", "traffic", "maintenance_on", "changed", 2)]
    assert rto_summary(fleet_run() + unverified)["verdicts"] == {"changed but not verified": 1, "verified": 2}
