from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.integration


def test_lock_four_runs_then_release(four, state_dir):
    args = {"run_id": "rb-1", "state_dir": str(state_dir), "pid": os.getpid(), "owner": "alice"}
    results = four("emergency.rollback.lock", args)
    assert results[0]["diff"]["after"]["run_id"] == "rb-1"
    assert results[1]["holder"]["run_id"] == "rb-1" and results[2]["changed"] is False
    holder = json.loads((state_dir / "rollback.lock").read_text())
    assert (holder["run_id"], holder["pid"], holder["user"]) == ("rb-1", os.getpid(), "alice")
    released = four("emergency.rollback.lock", dict(args, state="absent"))
    assert released[1]["previous_holder"]["run_id"] == "rb-1"
    assert not (state_dir / "rollback.lock").exists()
    actions = [json.loads(line)["action"] for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert actions == ["acquire", "release"]


def test_second_run_fails_fast_naming_holder(task, state_dir):
    first = {"run_id": "rb-1", "state_dir": str(state_dir), "pid": os.getpid(), "owner": "alice"}
    event, _res, _ = task("emergency.rollback.lock", first)
    assert event == "runner_on_ok"
    before = (state_dir / "rollback.lock").read_bytes()
    event, res, _ = task("emergency.rollback.lock", dict(first, run_id="rb-2", owner="bob"))
    assert event == "runner_on_failed"
    assert "run_id=rb-1" in res["msg"] and "pid=%d" % os.getpid() in res["msg"] and "alice" in res["msg"]
    assert (state_dir / "rollback.lock").read_bytes() == before


def test_stale_lock_taken_over_with_warning(task, state_dir):
    (state_dir / "rollback.lock").write_text(
        json.dumps(
            {"run_id": "old", "pid": 2**22 + 7, "machine": os.uname().nodename, "user": "x", "since": 1, "ttl": None}
        )
    )
    event, res, _ = task("emergency.rollback.lock", {"run_id": "rb-3", "state_dir": str(state_dir)})
    assert event == "runner_on_ok" and res["changed"] is True
    assert any("stale" in w and "old" in w for w in res.get("warnings", []))
    assert json.loads((state_dir / "rollback.lock").read_text())["run_id"] == "rb-3"


def test_journal_record_and_info_with_a_corrupt_line(playbook, state_dir):
    common = {"state_dir": str(state_dir), "run_id": "rb-9"}
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "record",
                    "emergency.rollback.journal_record": dict(
                        common,
                        component="app",
                        action="restart",
                        result="changed",
                        summary="shop restarted",
                        duration_s=1.5,
                    ),
                },
                {"name": "corrupt", "ansible.builtin.shell": "printf '{broken' >> %s/journal.jsonl" % state_dir},
                {
                    "name": "record again",
                    "emergency.rollback.journal_record": dict(
                        common, component="cache", action="flush", details={"keys": 3}
                    ),
                },
                {
                    "name": "read",
                    "emergency.rollback.journal_info": {"state_dir": str(state_dir), "filter_run_id": "rb-9"},
                },
                {
                    "name": "read cache",
                    "emergency.rollback.journal_info": {"state_dir": str(state_dir), "component": "cache"},
                },
            ],
        }
    ]
    run = playbook(plays)
    assert run.rc == 0, run.stdout[-3000:]
    info = run.result("read")
    assert [(e["component"], e["action"]) for e in info["entries"]] == [("app", "restart"), ("cache", "flush")]
    assert info["entries"][0]["duration_s"] == 1.5 and info["entries"][0]["message"] == "shop restarted"
    assert info["entries"][1]["details"] == {"keys": 3}
    assert info["problems"] == [{"line": 2, "error": info["problems"][0]["error"]}]
    assert run.result("read cache")["total"] == 1


def test_release_info_takes_the_lock_and_the_lock_goes_with_the_verdict(task, state_dir, tmp_path):
    """The two merged steps of a role run: read under a lock this task takes, then verdict + release."""
    from tests.harness.app import make_layout

    root = make_layout(tmp_path / "shop", ["r1", "r2"], live="r2")
    args = {"root": str(root), "run_id": "rb-1", "state_dir": str(state_dir), "lock": {"owner": "alice"}}
    event, res, _ = task("emergency.rollback.release_info", dict(args, resolve="previous"))
    assert event == "runner_on_ok", res
    assert res["target"] == "r1" and res["lock"]["holder"]["run_id"] == "rb-1"
    assert json.loads((state_dir / "rollback.lock").read_text())["user"] == "alice"
    # another run: refused naming the holder, the lock untouched
    before = (state_dir / "rollback.lock").read_bytes()
    event, res, _ = task("emergency.rollback.release_info", dict(args, run_id="rb-2"))
    assert event == "runner_on_failed" and "run_id=rb-1" in res["msg"] and "alice" in res["msg"]
    assert (state_dir / "rollback.lock").read_bytes() == before
    verdict = {"component": "app", "action": "verify", "result": "ok", "summary": "health checked"}
    release = {"run_id": "rb-1", "state_dir": str(state_dir), "state": "absent", "verdict": verdict}
    event, res, _ = task("emergency.rollback.lock", release)
    assert event == "runner_on_ok" and res["journal_entry"]["action"] == "verify"
    assert not (state_dir / "rollback.lock").exists()
    journal = map(json.loads, (state_dir / "journal.jsonl").read_text().splitlines())
    steps = [(j["component"], j["action"]) for j in journal]
    assert steps == [("lock", "acquire"), ("app", "verify"), ("lock", "release")]
    # a read that fails gives back the lock it took
    event, res, _ = task("emergency.rollback.release_info", dict(args, root=str(tmp_path / "missing")))
    assert event == "runner_on_failed" and res["msg"].startswith("release_info: ")
    assert not (state_dir / "rollback.lock").exists()
