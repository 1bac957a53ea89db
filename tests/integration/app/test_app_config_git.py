"""config_snapshot and git_rollback through Ansible: four runs, secrets masked, bad input changes nothing."""

from __future__ import annotations

import json
import os

import pytest

from tests.harness.app import fingerprint, git, make_repo

pytestmark = pytest.mark.integration

ENV = "DB_HOST=db1\nDB_PASSWORD=hunter2-old\nENABLE_NEW_PAYMENT_FLOW=true\n# keep me\n"


@pytest.fixture
def env_file(tmp_path):
    conf = tmp_path / "etc"
    conf.mkdir()
    path = conf / ".env"
    path.write_text(ENV)
    path.chmod(0o640)
    os.chown(path, 1, 1)
    compose = conf / "compose.yml"
    compose.write_text("services:\n  web:\n    image: shop:1.4.2\n")
    return path, compose


def test_snapshot_then_restore_four_runs_with_masked_diff(four, env_file, state_dir):
    env, compose = env_file
    common = {"state_dir": str(state_dir), "run_id": "rb-7"}
    snap = four("emergency.rollback.config_snapshot", dict(common, paths=[str(env), str(compose)]))
    taken = snap[1]["snapshot"]
    assert snap[0]["snapshot"] is None and taken["path"] == str(state_dir / "snapshots" / "config" / taken["id"])
    assert snap[3]["snapshot"] == taken
    # a bad deploy changes both files (and their mode)
    env.write_text("DB_HOST=db2\nDB_PASSWORD=hunter2-new\nENABLE_NEW_PAYMENT_FLOW=true\n")
    env.chmod(0o644)
    compose.write_text("services:\n  web:\n    image: shop:1.5.0\n")
    restored = four("emergency.rollback.config_snapshot", dict(common, state="restored"))
    assert env.read_text() == ENV and "1.4.2" in compose.read_text()
    st = os.stat(env)
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o640, 1, 1)
    assert restored[1]["restored_from"] == taken and restored[1]["snapshot"]["id"] != taken["id"]
    assert restored[3]["restored_from"] == taken and restored[3]["snapshot"] is None
    diff_text = json.dumps(restored[0]["diff"])
    assert "db2" in diff_text and "DB_PASSWORD=********" in diff_text
    assert "hunter2" not in diff_text
    # the restore itself can be undone: the pre-restore snapshot holds the bad files
    undo = four(
        "emergency.rollback.config_snapshot",
        dict(common, state="restored", snapshot=restored[1]["snapshot"]["id"]),
    )
    assert "db2" in env.read_text() and undo[1]["changed"]
    journal = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(j["component"], j["action"]) for j in journal] == [
        ("config", "snapshot"),
        ("config", "restored"),
        ("config", "restored"),
    ]
    assert "hunter2" not in (state_dir / "journal.jsonl").read_text()


def test_set_feature_flag_four_runs(four, env_file, state_dir):
    env, _compose = env_file
    args = {
        "state": "set",
        "paths": [str(env)],
        "env": {"ENABLE_NEW_PAYMENT_FLOW": False, "API_TOKEN": "s3cr3t"},
        "state_dir": str(state_dir),
    }
    results = four("emergency.rollback.config_snapshot", args)
    assert (
        env.read_text()
        == "DB_HOST=db1\nDB_PASSWORD=hunter2-old\nENABLE_NEW_PAYMENT_FLOW=false\n# keep me\nAPI_TOKEN=s3cr3t\n"
    )
    assert results[1]["changed_keys"] == ["ENABLE_NEW_PAYMENT_FLOW", "API_TOKEN"]
    assert "s3cr3t" not in json.dumps(results[0]["diff"]) and "API_TOKEN=********" in results[0]["diff"]["after"]
    assert oct(os.stat(env).st_mode & 0o777) == oct(0o640)


def test_config_file_missing_fails_and_changes_nothing(task, env_file, state_dir, tmp_path):
    env, _compose = env_file
    before = (fingerprint(env.parent), fingerprint(state_dir))
    event, res, _ = task(
        "emergency.rollback.config_snapshot",
        {"paths": [str(env), str(tmp_path / "etc/missing.env")], "state_dir": str(state_dir)},
    )
    assert event == "runner_on_failed"
    assert "missing.env is missing" in res["msg"] and "\n" not in res["msg"]
    assert (fingerprint(env.parent), fingerprint(state_dir)) == before


def test_git_revert_four_runs_with_backup_tag(four, tmp_path, state_dir):
    repo = tmp_path / "repo"
    shas = make_repo(repo, ("v1", "v2", "v3"))
    results = four(
        "emergency.rollback.git_rollback",
        {"repo": str(repo), "method": "revert", "commits": [shas[2], shas[1]], "state_dir": str(state_dir)},
    )
    assert results[1]["reverted"] == [shas[2], shas[1]] and results[3]["already_reverted"] == [shas[2], shas[1]]
    assert (repo / "app.txt").read_text() == "version v1\n"
    assert git(repo, "rev-list", "--count", "HEAD") == "5", "history kept: two revert commits added"
    tag = results[1]["backup_tag"]
    assert tag.startswith("emergency-backup-") and git(repo, "rev-parse", tag + "^{commit}") == shas[2]
    assert git(repo, "tag", "--list", "emergency-backup-*") == tag, "one backup tag, none on the no-op runs"


def test_git_reset_four_runs_and_push_with_lease(four, tmp_path, state_dir):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    repo = tmp_path / "repo"
    shas = make_repo(repo, ("v1", "v2", "v3"))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    args = {
        "repo": str(repo),
        "method": "reset",
        "ref": shas[0],
        "push": True,
        "force_with_lease": True,
        "state_dir": str(state_dir),
    }
    results = four("emergency.rollback.git_rollback", args)
    assert results[0]["after"] == shas[0] and results[1]["after"] == shas[0]
    assert git(repo, "rev-parse", "HEAD") == shas[0] == git(origin, "rev-parse", "main")
    assert git(origin, "rev-parse", results[1]["backup_tag"] + "^{commit}") == shas[2]


def test_git_reset_push_without_lease_refused(task, tmp_path, state_dir):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    repo = tmp_path / "repo"
    shas = make_repo(repo, ("v1", "v2"))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    before = fingerprint(repo)
    event, res, _ = task(
        "emergency.rollback.git_rollback",
        {"repo": str(repo), "method": "reset", "ref": shas[0], "push": True, "state_dir": str(state_dir)},
    )
    assert event == "runner_on_failed" and "force_with_lease=true" in res["msg"]
    assert fingerprint(repo) == before


def test_git_dirty_tree_refused_and_unchanged(task, tmp_path, state_dir):
    repo = tmp_path / "repo"
    shas = make_repo(repo, ("v1", "v2"))
    (repo / "app.txt").write_text("hotfix typed on the server\n")
    before = (fingerprint(repo), fingerprint(state_dir))
    event, res, _ = task(
        "emergency.rollback.git_rollback",
        {"repo": str(repo), "method": "reset", "ref": shas[0], "state_dir": str(state_dir)},
    )
    assert event == "runner_on_failed"
    assert (
        "uncommitted changes in app.txt" in res["msg"]
        and "nothing was changed" in res["msg"]
        and "\n" not in res["msg"]
    )
    assert (fingerprint(repo), fingerprint(state_dir)) == before


def test_git_revert_conflict_is_aborted_leaving_head_and_tags_as_they_were(task, tmp_path, state_dir):
    repo = tmp_path / "repo"
    shas = make_repo(repo, ("v1", "v2", "v3"))  # v3 rewrites app.txt after v2: reverting v2 alone conflicts
    before = (repo / "app.txt").read_bytes(), git(repo, "rev-parse", "HEAD")
    event, res, _ = task(
        "emergency.rollback.git_rollback",
        {"repo": str(repo), "method": "revert", "commits": [shas[1]], "state_dir": str(state_dir)},
    )
    assert event == "runner_on_failed"
    assert "revert was aborted" in res["msg"] and "\n" not in res["msg"]
    assert ((repo / "app.txt").read_bytes(), git(repo, "rev-parse", "HEAD")) == before
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert git(repo, "tag", "--list") == ""
