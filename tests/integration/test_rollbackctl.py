"""rollbackctl end to end: called by its absolute path with a bare PATH, as cron or AWX would."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CTL = str(Path(sys.executable).parent / "rollbackctl")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/health" else 503
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def service():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


@pytest.fixture
def sandbox(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    h1:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n"
        "  vars:\n    rollback_state_dir: %s\n" % (sys.executable, tmp_path / "state")
    )
    return tmp_path, inventory


def ctl(tmp_path, *args):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return subprocess.run(
        [CTL, "--state-dir", str(tmp_path / "ctl"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_run_verify_ok_then_status(service, sandbox):
    tmp_path, inventory = sandbox
    out = ctl(
        tmp_path,
        "run",
        "verify",
        "-i",
        str(inventory),
        "-e",
        "rollback_health_urls=[%s/health]" % service,
        "-e",
        "rollback_health_consecutive=1",
        "--run-id",
        "rb-test-1",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "h1" in out.stdout and "ok" in out.stdout and "Check the health URLs" in out.stdout
    assert "all hosts verified" in out.stdout
    artifacts = tmp_path / "ctl" / "runs" / "rb-test-1"
    assert str(artifacts) in out.stdout and (artifacts / "artifacts").is_dir()
    status = ctl(tmp_path, "status", "-i", str(inventory), "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    [entry] = data["h1"]["journal"]["entries"]
    assert (entry["run_id"], entry["action"], entry["result"]) == ("rb-test-1", "verify", "ok")
    assert data["h1"]["lock"] is None
    text = ctl(tmp_path, "status", "-i", str(inventory))
    assert "rb-test-1" in text.stdout and "lock: free" in text.stdout


def test_unhealthy_exits_non_zero_with_summary(service, sandbox):
    tmp_path, inventory = sandbox
    out = ctl(
        tmp_path,
        "run",
        "verify",
        "-i",
        str(inventory),
        "-e",
        "rollback_health_urls=[%s/broken]" % service,
        "-e",
        "rollback_health_attempts=1",
        "-e",
        "rollback_health_consecutive=1",
    )
    assert out.returncode == 1
    assert "failed" in out.stdout and "status 503" in out.stdout
    assert "did NOT verify" in out.stdout and "h1" in out.stdout


def test_plan_is_check_mode(service, sandbox):
    tmp_path, inventory = sandbox
    out = ctl(
        tmp_path,
        "plan",
        "verify",
        "-i",
        str(inventory),
        "-e",
        "rollback_health_urls=[%s/health]" % service,
        "-e",
        "rollback_health_consecutive=1",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "check mode" in out.stdout and "nothing changed" in out.stdout
    assert not (tmp_path / "state" / "journal.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "verify", "-i", "/nonexistent/inventory"], "rollbackctl: inventory not found: /nonexistent/inventory"),
        (["run", "no_such_playbook", "-i", "INV"], "rollbackctl: unknown playbook 'no_such_playbook'"),
        (["run", "verify", "-i", "INV", "-e", "novalue"], "rollbackctl: extra var 'novalue' is not key=value"),
        (["run", "verify"], "rollbackctl: the following arguments are required: -i/--inventory"),
        (["frobnicate"], "rollbackctl: argument command: invalid choice"),
    ],
)
def test_bad_arguments_one_line_exit_2(sandbox, args, message):
    tmp_path, inventory = sandbox
    args = [str(inventory) if a == "INV" else a for a in args]
    out = ctl(tmp_path, *args)
    assert out.returncode == 2
    assert out.stderr.startswith(message)
    assert out.stderr.count("\n") == 1
    assert not (tmp_path / "ctl" / "runs").exists()


def test_extra_vars_parsing():
    from rollbackctl.cli import parse_extra_vars

    assert parse_extra_vars(["a=1 b=[x,y]", '{"c": {"d": true}}', "e=text"]) == {
        "a": 1,
        "b": ["x", "y"],
        "c": {"d": True},
        "e": "text",
    }


def test_playbook_names_resolve(tmp_path):
    from rollbackctl.collection import UsageError, find_collection, resolve_playbook

    root = find_collection()
    assert resolve_playbook("verify", root) == root / "playbooks" / "verify.yml"
    assert resolve_playbook("emergency.rollback.verify", root) == root / "playbooks" / "verify.yml"
    own = tmp_path / "mine.yml"
    own.write_text("[]")
    assert resolve_playbook(str(own), root) == own
    with pytest.raises(UsageError):
        resolve_playbook("../../etc/passwd", root)
    assert (root / "galaxy.yml").is_file()


def test_status_lists_releases_of_app_hosts(tmp_path):
    from tests.harness.app import make_layout

    root = tmp_path / "shop"
    make_layout(root, ["r1", "r2", "r3"], live="r2")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    h1:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n"
        "      app_root: %s\n    h2:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n"
        "  vars:\n    rollback_state_dir: %s\n" % (sys.executable, root, sys.executable, tmp_path / "state")
    )
    out = ctl(tmp_path, "status", "-i", str(inventory), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(out.stdout)
    assert [(r["id"], r["live"]) for r in data["h1"]["releases"]] == [("r1", False), ("r2", True), ("r3", False)]
    assert data["h2"]["releases"] == []
    text = ctl(tmp_path, "status", "-i", str(inventory))
    assert "release r2" in text.stdout and "LIVE" in text.stdout
