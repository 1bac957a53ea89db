"""Plain ansible-playbook rollbacks (no rollbackctl, no run id) against one host lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.ansible import REPO, ansible_env
from tests.harness.app import live_of, make_layout

pytestmark = pytest.mark.integration

PLAYBOOK = str(REPO / "playbooks" / "rollback_app.yml")


def inventory(tmp_path, root, restart_seconds):
    path = tmp_path / "hosts.yml"
    hostvars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "app_root": str(root),
        "app_restart": "command",
        # Keeps the first run inside its lock while the second one starts.
        "app_restart_command": ["sleep", str(restart_seconds)],
    }
    path.write_text(
        json.dumps(
            {
                "all": {
                    "children": {"web": {"hosts": {"h1": hostvars}}},
                    "vars": {"rollback_state_dir": str(tmp_path / "state")},
                }
            }
        )
    )
    return path


def start(tmp_path, inv, name):
    out = open(tmp_path / ("%s.out" % name), "w")  # noqa: SIM115 - closed by finish()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inv), PLAYBOOK],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **ansible_env(tmp_path)},
        start_new_session=True,
    )
    proc.out = out
    return proc


def finish(tmp_path, proc, name):
    rc = proc.wait(timeout=300)
    proc.out.close()
    return rc, (tmp_path / ("%s.out" % name)).read_text()


def lock_of(tmp_path):
    path = tmp_path / "state" / "rollback.lock"
    return json.loads(path.read_text()) if path.exists() else None


def test_two_concurrent_runs_one_switches_other_names_holder(tmp_path):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    inv = inventory(tmp_path, root, restart_seconds=6)
    runs = {name: start(tmp_path, inv, name) for name in ("a", "b")}
    # While the winner restarts, its lock is held: by it, and released only by it.
    deadline = time.monotonic() + 120
    holder = None
    while time.monotonic() < deadline and holder is None:
        holder = lock_of(tmp_path)
        time.sleep(0.05)
    assert holder and holder["run_id"].startswith("adhoc-") and holder["pid"] and holder["user"] != "unknown"
    results = {name: finish(tmp_path, proc, name) for name, proc in runs.items()}
    winners = [n for n, (rc, _out) in results.items() if rc == 0]
    assert len(winners) == 1, {n: out[-2000:] for n, (_rc, out) in results.items()}
    [loser] = [n for n in results if n not in winners]
    loser_out = results[loser][1]
    assert "another rollback holds the lock" in loser_out and "run_id=%s" % holder["run_id"] in loser_out
    assert "pid=%s" % holder["pid"] in loser_out
    assert results[winners[0]][1].count("changed: [h1]") >= 1
    assert live_of(root) == "r2", "one step back, not two"
    assert lock_of(tmp_path) is None, "the winner released its lock at the end"
    journal = [json.loads(line) for line in (tmp_path / "state" / "journal.jsonl").read_text().splitlines()]
    switches = [e for e in journal if (e["component"], e["action"]) == ("app", "release")]
    assert len(switches) == 1 and switches[0]["run_id"] == holder["run_id"]


def test_killed_controller_lock_taken_over_at_once(tmp_path):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    inv = inventory(tmp_path, root, restart_seconds=60)
    first = start(tmp_path, inv, "first")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (lock_of(tmp_path) and live_of(root) == "r2"):
        time.sleep(0.05)
    holder = lock_of(tmp_path)
    assert holder and live_of(root) == "r2"
    assert holder["pid"] == first.pid, "the lock names the ansible-playbook process"
    os.killpg(first.pid, signal.SIGKILL)
    finish(tmp_path, first, "first")
    inv = inventory(tmp_path, root, restart_seconds=0)
    started = time.monotonic()
    second = start(tmp_path, inv, "second")
    rc, out = finish(tmp_path, second, "second")
    assert rc == 0, out[-3000:]
    assert time.monotonic() - started < 120, "not after the ttl of 3600 s"
    assert "taking over a stale lock" in out and "pid %s" % holder["pid"] in out and "is gone" in out
    assert lock_of(tmp_path) is None
