"""Constraints declared in the argument spec: a one-line error, and nothing on disk changed."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.emergency.rollback.plugins.modules import cache_flush, config_snapshot, git_rollback
from tests.harness.app import fingerprint
from tests.harness.modules import run

NO_MODE = "cache_flush: backend=redis needs patterns, flushdb=true or flushall=true; nothing was deleted"


def _refused(module, args, tmp_path, expected):
    before = fingerprint(tmp_path)
    ok, res = run(module, args)
    assert not ok, res
    assert res["msg"] == expected
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, "backend is redis but any of the following are missing: patterns, flushdb, flushall"),
        ({"patterns": ["page:*"], "flushdb": True}, "parameters are mutually exclusive: patterns|flushdb|flushall"),
        ({"flushdb": True, "flushall": True}, "parameters are mutually exclusive: patterns|flushdb|flushall"),
        # A mode given as false satisfies the spec but names nothing to flush.
        ({"flushall": False}, NO_MODE),
    ],
)  # fmt: skip
def test_cache_flush_needs_exactly_one_redis_mode(tmp_path, args, expected):
    # port 9 (discard): were anything sent, the test would fail on a connection error instead
    args = dict(args, backend="redis", port=9, state_dir=str(tmp_path / "state"))
    _refused(cache_flush, args, tmp_path, expected)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"state": "snapshot"}, "state is snapshot but all of the following are missing: paths"),
        ({"state": "set", "paths": ["/x/.env"]}, "state is set but all of the following are missing: env"),
        ({"state": "set", "env": {"A": "1"}}, "state is set but all of the following are missing: paths"),
    ],
)
def test_config_snapshot_declares_what_each_state_needs(tmp_path, args, expected):
    _refused(config_snapshot, dict(args, state_dir=str(tmp_path / "state")), tmp_path, expected)


def test_git_revert_without_commits_is_refused(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", *ident, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    args = {"repo": str(repo), "method": "revert", "state_dir": str(tmp_path / "state")}
    _refused(git_rollback, args, tmp_path, "method is revert but all of the following are missing: commits")
    # an empty list satisfies the spec; it is refused as well rather than reported as 'nothing to revert'
    expected = "git_rollback: commits must name at least one commit to revert; nothing was changed"
    _refused(git_rollback, dict(args, commits=[]), tmp_path, expected)
