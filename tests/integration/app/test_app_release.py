"""release and release_info through Ansible: four runs, bad input leaves the tree untouched."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.harness.app import fingerprint, live_of, make_layout

pytestmark = pytest.mark.integration


def test_release_previous_four_runs(four, tmp_path, state_dir):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3")
    args = {"root": str(root), "to": "previous", "state_dir": str(state_dir), "run_id": "rb-1", "reason": "500s"}
    results = four("emergency.rollback.release", args)
    assert results[0]["to"] == "r2" and results[0]["diff"]["after"] == "current -> releases/r2\n"
    assert results[1]["from"] == "r3" and results[1]["to"] == "r2" and results[1]["marked_bad"] == "r3"
    # the second run resolves to the same release: no second step back
    assert results[3]["from"] == "r2" and results[3]["to"] == "r2"
    assert live_of(root) == "r2" and os.readlink(root / "current") == "releases/r2"
    assert (root / "releases/r3").is_dir(), "the bad release is kept, not deleted"
    mark = json.loads((root / ".rollback/bad.json").read_text())["r3"]
    assert mark["reason"] == "500s" and mark["run_id"] == "rb-1" and mark["at"]
    history = json.loads((root / ".rollback/history.json").read_text())
    assert [(e["id"], e["kind"]) for e in history] == [
        ("r1", "deploy"),
        ("r2", "deploy"),
        ("r3", "deploy"),
        ("r2", "rollback"),
    ]
    journal = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(j["component"], j["action"], j["from"], j["to"]) for j in journal] == [("app", "release", "r3", "r2")]


def test_release_by_id_absolute_link_and_info(four, task, tmp_path, state_dir):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r3", relative=False)
    four("emergency.rollback.release", {"root": str(root), "to": "r1", "state_dir": str(state_dir)})
    assert os.readlink(root / "current") == str(root / "releases/r1")
    event, info, _ = task("emergency.rollback.release_info", {"root": str(root), "resolve": "previous"})
    assert event == "runner_on_ok" and info["changed"] is False
    assert info["live"] == "r1" and info["bad"] == ["r3"] and info["target"] == "r2"
    assert [r["revision"] for r in info["releases"]] == ["rev-r1", "rev-r2", "rev-r3"]


def test_keep_releases_never_prunes_live_previous_or_young_bad(task, tmp_path, state_dir):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3", "r4", "r5"], live="r5")
    args = {"root": str(root), "to": "previous", "keep": 2, "state_dir": str(state_dir)}
    event, res, _ = task("emergency.rollback.release", args)
    assert event == "runner_on_ok", res
    assert res["to"] == "r4" and res["pruned"] == ["r1", "r2"]
    assert sorted(os.listdir(root / "releases")) == ["r3", "r4", "r5"]


BAD_INPUT = [
    ("unknown id", ["r1", "r2"], "r2", {"to": "r7"}, "release r7 not found"),
    ("only one", ["r1"], "r1", {}, "only one release"),
    ("dangling", ["r1", "r2"], "gone", {}, "dangling"),
    ("marked bad", ["r1", "r2"], "r2", {"to": "r1"}, "marked bad"),
]


@pytest.mark.parametrize(("case", "ids", "live", "extra", "message"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_one_line_error_and_nothing_changed(task, tmp_path, state_dir, case, ids, live, extra, message):
    root = make_layout(tmp_path / "app", ids, live=None)
    os.symlink("releases/%s" % live, root / "current")
    if case == "marked bad":
        (root / ".rollback").mkdir()
        (root / ".rollback/bad.json").write_text(
            json.dumps({"r1": {"by": "bob", "at": "2026-11-20T10:00:00Z", "at_ts": time.time(), "reason": "broken"}})
        )
    before = fingerprint(root)
    event, res, _ = task("emergency.rollback.release", dict({"root": str(root), "state_dir": str(state_dir)}, **extra))
    assert event == "runner_on_failed"
    assert message in res["msg"] and "\n" not in res["msg"] and "nothing was changed" in res["msg"]
    assert "Traceback" not in json.dumps(res)
    assert fingerprint(root) == before
    # the refusal is journaled, and that line is all the state dir gains
    [entry] = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert (entry["action"], entry["result"], entry["message"]) == ("release", "failed", res["msg"])
    assert sorted(os.listdir(state_dir)) == ["journal.jsonl"]


def test_directory_restore_four_runs_keeps_replaced_tree(four, tmp_path, state_dir):
    live = tmp_path / "www"
    backup = tmp_path / "backups" / "1.4.2"
    for path, text in ((live, "broken 1.5.0"), (backup, "good 1.4.2")):
        (path / "static").mkdir(parents=True)
        (path / "index.html").write_text(text)
        (path / "static" / "app.js").write_text("// %s" % text)
    backup_before = fingerprint(backup)
    results = four(
        "emergency.rollback.release", {"live_path": str(live), "backup_path": str(backup), "state_dir": str(state_dir)}
    )
    assert (live / "index.html").read_text() == "good 1.4.2"
    assert fingerprint(backup) == backup_before
    kept = results[1]["snapshot"]["path"]
    assert open(os.path.join(kept, "index.html")).read() == "broken 1.5.0"
    assert results[1]["atomic_exchange"] is True
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".www")], "no staging left behind"
