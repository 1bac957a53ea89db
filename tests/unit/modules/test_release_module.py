"""release, release_info and config_snapshot as whole modules (ansible-core >= 2.19 patch_module_args)."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.emergency.rollback.plugins.modules import config_snapshot, release, release_info
from tests.harness.app import fingerprint, live_of, make_layout
from tests.harness.modules import run


def test_release_check_mode_reports_and_changes_nothing(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2"], live="r2")
    before = fingerprint(root)
    ok, res = run(release, {"root": str(root), "state_dir": str(tmp_path / "s"), "_ansible_check_mode": True})
    assert ok and res["changed"] and res["to"] == "r1"
    assert res["diff"]["before"] == "current -> releases/r2\n" and res["diff"]["after"] == "current -> releases/r1\n"
    assert fingerprint(root) == before


def test_release_then_info(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "s"
    ok, res = run(release, {"root": str(root), "to": "-2", "state_dir": str(state), "run_id": "u1"})
    assert ok and (res["from"], res["to"], res["marked_bad"]) == ("r3", "r1", "r3")
    assert live_of(root) == "r1"
    ok, info = run(release_info, {"root": str(root), "resolve": "previous"})
    assert ok and info["live"] == "r1" and info["target"] == "r2" and info["history_source"] == "history file"
    entry = json.loads((state / "journal.jsonl").read_text())
    assert (entry["from"], entry["to"], entry["run_id"]) == ("r3", "r1", "u1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"root": "/nonexistent/app"}, "does not exist"),
        ({"keep": -1}, "must be 0 or more"),
        ({"live_path": "/x", "backup_path": "/y"}, "mutually exclusive"),
    ],
)
def test_release_bad_arguments(tmp_path, args, message):
    root = make_layout(tmp_path / "app", ["r1", "r2"], live="r2")
    args = dict({"root": str(root), "state_dir": str(tmp_path / "s")}, **args)
    ok, res = run(release, args)
    assert not ok and message in res["msg"]
    assert not (tmp_path / "s").exists()


def test_config_snapshot_set_needs_one_existing_file(tmp_path):
    ok, res = run(config_snapshot, {"state": "set", "paths": [str(tmp_path / "nope.env")], "env": {"A": "1"}})
    assert not ok and "nope.env is missing" in res["msg"]
    ok, res = run(
        config_snapshot, {"state": "set", "paths": [str(tmp_path / "a"), str(tmp_path / "b")], "env": {"A": 1}}
    )
    assert not ok and "exactly one env file" in res["msg"]


def journal_lines(state):
    return [json.loads(line) for line in (state / "journal.jsonl").read_text().splitlines()]


WHOLE_RUN = {
    "run_id": "u1",
    "lock": {"owner": "alice", "ttl": 60},
    "verdict": {
        "component": "app",
        "action": "verify",
        "result": "not_verified",
        "summary": "not verified: no health URLs given",
        "duration_s": 0.5,
    },
}


def test_release_as_a_whole_run_journals_like_lock_release_lock(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "s"
    ok, res = run(release, dict(WHOLE_RUN, root=str(root), state_dir=str(state)))
    assert ok and res["changed"] and (res["from"], res["to"]) == ("r3", "r2") and live_of(root) == "r2"
    lines = journal_lines(state)
    assert [(e["component"], e["action"], e["result"]) for e in lines] == [
        ("lock", "acquire", "changed"),
        ("app", "release", "changed"),
        ("app", "verify", "not_verified"),
        ("lock", "release", "changed"),
    ]
    verdict = lines[2]
    assert res["journal_entry"] == verdict and res["lock"]["holder"] is None
    assert [p["phase"] for p in verdict["details"]["phases"]] == ["preflight", "snapshot", "rollback", "verify"]
    assert (verdict["details"]["live_before"], verdict["details"]["target"]) == ("r3", "r2")
    assert verdict["duration_s"] >= 0.5 and not (state / "rollback.lock").exists()

    # a re-run changes nothing: no release entry, the lock and the verdict still journaled
    ok, res = run(release, dict(WHOLE_RUN, root=str(root), state_dir=str(state), run_id="u2"))
    assert ok and not res["changed"] and res["journal_entry"]["run_id"] == "u2"
    assert [e["action"] for e in journal_lines(state)[4:]] == ["acquire", "verify", "release"]


def test_release_as_a_whole_run_gives_the_lock_back_when_it_fails(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "s"
    ok, res = run(release, dict(WHOLE_RUN, root=str(root), state_dir=str(state), to="r9"))
    assert not ok and "r9" in res["msg"] and live_of(root) == "r3"
    assert [(e["action"], e["result"]) for e in journal_lines(state)] == [
        ("acquire", "changed"),
        ("release", "failed"),
        ("release", "changed"),
    ]
    assert not (state / "rollback.lock").exists()


def test_release_as_a_whole_run_refuses_a_lock_another_run_holds(tmp_path):
    from ansible_collections.emergency.rollback.plugins.module_utils._lock import HostLock

    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "s"
    HostLock.in_state_dir(str(state)).acquire("other", pid=None, user="bob", ttl=600)
    ok, res = run(release, dict(WHOLE_RUN, root=str(root), state_dir=str(state)))
    assert not ok and "run_id=other" in res["msg"] and res["holder"]["run_id"] == "other"
    assert live_of(root) == "r3" and not (state / "journal.jsonl").exists()
    assert HostLock.in_state_dir(str(state)).read()["run_id"] == "other"


def test_release_as_a_whole_run_in_check_mode_writes_nothing(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "s"
    ok, res = run(release, dict(WHOLE_RUN, root=str(root), state_dir=str(state), _ansible_check_mode=True))
    assert ok and res["changed"] and res["to"] == "r2" and "journal_entry" not in res
    assert live_of(root) == "r3" and not (state / "rollback.lock").exists() and not (state / "journal.jsonl").exists()


def test_release_whole_run_options_are_for_the_symlink_layout(tmp_path):
    ok, res = run(release, {"live_path": "/x", "backup_path": "/y", "run_id": "u1", "lock": {}})
    assert not ok and "mutually exclusive" in res["msg"]
    ok, res = run(release, {"root": str(tmp_path), "verdict": {"component": "app", "action": "verify"}})
    assert not ok and "run_id" in res["msg"]


def test_release_as_a_whole_run_says_the_phase_it_failed_in(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    ok, res = run(release, dict(WHOLE_RUN, root=str(root), state_dir=str(tmp_path / "s"), to="r9"))
    assert not ok and res["phase"] == "preflight"


SWITCH_AND_RESTART = {"run_id": "u1", "lock": {"owner": "alice", "ttl": 60}}


def restart_with(tmp_path, code):
    """A restart command that appends to a marker file, then exits with code."""
    marker = tmp_path / "restarts"
    script = "open(%r, 'a').write('x'); raise SystemExit(%d)" % (str(marker), code)
    return marker, {"argv": [sys.executable, "-c", script], "name": "shop"}


def test_release_restarts_after_the_switch_and_journals_it_after_the_switch(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "s"
    marker, restart = restart_with(tmp_path, 0)
    args = dict(SWITCH_AND_RESTART, root=str(root), state_dir=str(state), restart=restart)
    ok, res = run(release, args)
    assert ok and res["changed"] and live_of(root) == "r2" and marker.read_text() == "x"
    assert res["restart"]["rc"] == 0 and res["restart"]["argv"] == restart["argv"]
    assert [(e["component"], e["action"], e["result"], e["to"]) for e in journal_lines(state)] == [
        ("lock", "acquire", "changed", "u1"),
        ("app", "release", "changed", "r2"),
        ("app", "restart", "changed", "shop"),
    ]
    assert journal_lines(state)[2]["message"] == "restarted after the rollback"
    # no verdict: the lock stays held for the caller's health check and verdict
    assert (state / "rollback.lock").exists()
    assert [p["phase"] for p in res["phases"]] == ["preflight", "snapshot", "rollback"]

    # already live: no switch, so no restart
    ok, res = run(release, args)
    assert ok and not res["changed"] and "restart" not in res and marker.read_text() == "x"


def test_release_restart_failure_fails_after_the_switch_and_keeps_the_lock(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "s"
    marker, restart = restart_with(tmp_path, 3)
    ok, res = run(release, dict(SWITCH_AND_RESTART, root=str(root), state_dir=str(state), restart=restart))
    assert not ok and "the restart" in res["msg"] and "rc 3" in res["msg"]
    # the caller's revert needs to know the switch happened, in which phase it failed, and that
    # the lock is still its own
    assert res["changed"] and res["phase"] == "rollback" and res["lock_kept"] is True
    assert (res["from"], res["to"]) == ("r3", "r2") and live_of(root) == "r2" and marker.read_text() == "x"
    assert [(e["action"], e["result"]) for e in journal_lines(state)] == [
        ("acquire", "changed"),
        ("release", "changed"),
        ("restart", "failed"),
    ]
    assert (state / "rollback.lock").exists()


@pytest.mark.parametrize("argv", [[], ["/nonexistent/restart-shop"], ["no-such-command-anywhere"]])
def test_release_refuses_a_restart_it_cannot_run_before_changing_anything(tmp_path, argv):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "s"
    args = dict(SWITCH_AND_RESTART, root=str(root), state_dir=str(state), restart={"argv": argv})
    ok, res = run(release, args)
    assert not ok and "is not an executable command" in res["msg"] and "nothing was changed" in res["msg"]
    assert live_of(root) == "r3" and not state.exists()


def test_release_restart_in_check_mode_runs_nothing(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    marker, restart = restart_with(tmp_path, 0)
    args = dict(SWITCH_AND_RESTART, root=str(root), state_dir=str(tmp_path / "s"), restart=restart)
    ok, res = run(release, dict(args, _ansible_check_mode=True))
    assert ok and res["changed"] and "restart" not in res
    assert live_of(root) == "r3" and not marker.exists()
