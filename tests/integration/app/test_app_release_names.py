"""rollback_app.yml with release names as people write them, and an app root behind a symlink."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.ansible import REPO, ansible_env
from tests.harness.app import live_of, make_layout

pytestmark = pytest.mark.integration

UNICODE_ID = "2026-11-20 release ünïcode"
IDS = ["2026-11-19 old", UNICODE_ID, "2026-11-21 bad"]


def rollback_app(tmp_path, app_root, *extra):
    inventory = tmp_path / "hosts.json"
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "app_root": str(app_root)}
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "children": {"web": {"hosts": {"h1": host}}},
                    "vars": {"rollback_state_dir": str(tmp_path / "state")},
                }
            }
        )
    )
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory),
            str(REPO / "playbooks" / "rollback_app.yml"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != "USER"}, **ansible_env(tmp_path), "LANG": "C.UTF-8"},
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("to", [None, UNICODE_ID])
def test_release_with_spaces_and_non_ascii(tmp_path, to):
    root = make_layout(tmp_path / "shop", IDS, live=IDS[-1])
    extra = ["-e", json.dumps({"app_rollback_to": to})] if to else []
    out = rollback_app(tmp_path, root, *extra)
    assert out.returncode == 0, out.stdout[-3000:]
    assert live_of(root) == UNICODE_ID
    history = json.loads((root / ".rollback" / "history.json").read_text(encoding="utf-8"))
    assert history[-1]["id"] == UNICODE_ID and history[-1]["kind"] == "rollback"
    # who marked it bad: the controller's effective user, even with $USER unset (cron, sudo, AWX)
    bad = json.loads((root / ".rollback" / "bad.json").read_text(encoding="utf-8"))
    assert bad[IDS[-1]]["by"] == pwd.getpwuid(os.geteuid()).pw_name
    again = rollback_app(tmp_path, root, *extra)
    assert again.returncode == 0 and live_of(root) == UNICODE_ID, "a second run stays put"


def test_symlinked_root_absolute_current(tmp_path):
    data = make_layout(tmp_path / "data" / "app", ["r1", "r2", "r3"])
    os.symlink(data / "releases" / "r3", data / "current")
    (tmp_path / "srv").mkdir()
    os.symlink(data, tmp_path / "srv" / "app")
    out = rollback_app(tmp_path, tmp_path / "srv" / "app")
    assert out.returncode == 0, out.stdout[-3000:]
    assert os.readlink(data / "current") == str(data / "releases" / "r2"), "absolute, with the prefix it had"
    assert (tmp_path / "srv" / "app").is_symlink()
