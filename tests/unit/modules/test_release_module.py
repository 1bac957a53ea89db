"""release, release_info and config_snapshot as whole modules (ansible-core >= 2.19 patch_module_args)."""

from __future__ import annotations

import json

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
