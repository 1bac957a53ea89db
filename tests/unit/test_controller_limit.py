"""rollbackctl keeps the controller in a --limit when the playbook has plays on localhost."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollbackctl.cli import controller_limit

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


@pytest.mark.parametrize("name", ["rollback_complete.yml", "rollback_partial.yml", "snapshot.yml"])
def test_controller_plays_add_localhost(name):
    assert controller_limit(PLAYBOOKS / name, "web2") == "web2,localhost"


@pytest.mark.parametrize("limit", ["web2,localhost", "localhost:web2", None, ""])
def test_limit_that_keeps_the_controller_is_left_as_given(limit):
    assert controller_limit(PLAYBOOKS / "rollback_complete.yml", limit) == limit


def test_playbook_without_controller_plays_is_left_as_given():
    assert controller_limit(PLAYBOOKS / "rollback_app.yml", "web2") == "web2"


def test_unreadable_playbook_is_left_as_given(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("- hosts: [unclosed\n")
    assert controller_limit(bad, "web2") == "web2"
