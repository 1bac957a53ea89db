"""Relative targets recorded once per rollback (_targets)."""

from __future__ import annotations

import os

from ansible_collections.emergency.rollback.plugins.module_utils._targets import Targets


def test_a_retry_from_the_start_or_the_landing_finds_the_same_target(tmp_path):
    targets = Targets(str(tmp_path), "database", {"database": "shop"})
    assert targets.find("latest", {"oid": 1}) is None
    targets.record("latest", {"oid": 1}, "good", run_id="rb-1")
    assert oct(os.stat(targets.path).st_mode & 0o777) == "0o600"
    # a new process reads it back: from the start (a retry after a failure)
    again = Targets(str(tmp_path), "database", {"database": "shop"})
    assert again.find("latest", {"oid": 1})["target"] == "good"
    assert again.find("latest", {"oid": 2}) is None and again.find("previous", {"oid": 1}) is None
    again.landed("latest", {"oid": 2})
    assert Targets(str(tmp_path), "database", {"database": "shop"}).find("latest", {"oid": 2})["target"] == "good"
    # another scope does not see it
    assert Targets(str(tmp_path), "database", {"database": "other"}).find("latest", {"oid": 1}) is None


def test_none_is_a_state_only_once_landed(tmp_path):
    # Alembic's base revision is None: an entry that has not landed must not match it
    targets = Targets(str(tmp_path), "database", {"alembic": ["/srv/app", "alembic.ini"]})
    targets.record("downgrade -1", "0001", None)
    assert targets.find("downgrade -1", None) is None
    targets.landed("downgrade -1", None)
    assert targets.find("downgrade -1", None)["target"] is None
