"""rollbackctl end to end: called by its absolute path with a bare PATH, as cron or AWX would."""

from __future__ import annotations

import http.server
import json
import re
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


def ctl(tmp_path, *args, env_extra=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", **(env_extra or {})}
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


def app_inventory(tmp_path, root, **hostvars):
    """One local host in the `web` group that rollback_app.yml targets, with an app root."""
    extra = "".join("      %s: %s\n" % (k, json.dumps(v)) for k, v in hostvars.items())
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    web:\n      hosts:\n        h1:\n"
        "          ansible_connection: local\n          ansible_python_interpreter: %s\n"
        "          app_root: %s\n%s"
        "  vars:\n    rollback_state_dir: %s\n"
        % (sys.executable, json.dumps(str(root)), extra.replace("      ", "          "), tmp_path / "state")
    )
    return inventory


def verdict_lines(out):
    return [line for line in out.stdout.splitlines() if line.startswith("h1 => ")]


def test_empty_health_urls_is_not_verified(tmp_path):
    """Nothing checked after a switch: the verdict says so and the exit status is 3, not 0."""
    from tests.harness.app import live_of, make_layout

    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    inventory = app_inventory(tmp_path, root)
    out = ctl(tmp_path, "run", "app", "-i", str(inventory))
    assert live_of(root) == "r2", out.stdout + out.stderr
    assert out.returncode == 3, out.stdout + out.stderr
    [line] = verdict_lines(out)
    assert "changed, not verified" in line and "no health URLs" in line
    assert "all hosts verified" not in out.stdout
    again = ctl(tmp_path, "run", "app", "-i", str(inventory))
    assert again.returncode == 3 and "unchanged, not verified" in verdict_lines(again)[0]


def test_health_urls_verified(service, tmp_path):
    from tests.harness.app import make_layout

    root = make_layout(tmp_path / "shop", ["r1", "r2"], live="r2")
    inventory = app_inventory(tmp_path, root, app_health_urls=["%s/health" % service])
    out = ctl(tmp_path, "run", "app", "-i", str(inventory))
    assert out.returncode == 0, out.stdout + out.stderr
    [line] = verdict_lines(out)
    assert line.split()[2] == "verified:" and "/health" in line
    assert "all hosts verified" in out.stdout


@pytest.mark.parametrize("limit", ["nosuchhost", "db1"])
def test_no_host_matched_exits_1_with_one_line(tmp_path, limit):
    """--limit naming no host of the inventory, or no host of the play's group: an error, not success."""
    from tests.harness.app import live_of, make_layout

    root = make_layout(tmp_path / "shop", ["r1", "r2"], live="r2")
    inventory = app_inventory(tmp_path, root)
    text = inventory.read_text().replace("  vars:", "    db:\n      hosts:\n        db1:\n  vars:")
    inventory.write_text(text)
    out = ctl(tmp_path, "run", "app", "-i", str(inventory), "--limit", limit)
    assert out.returncode == 1, out.stdout + out.stderr
    [line] = [line for line in out.stdout.splitlines() if "no host matched" in line]
    assert limit in line and str(inventory) in line
    assert "all hosts verified" not in out.stdout
    assert live_of(root) == "r2"


def test_json_stdout_callback_changes_nothing(service, sandbox):
    """ANSIBLE_STDOUT_CALLBACK=json (CI, AWX-like setups): same progress, verdict and status."""
    tmp_path, inventory = sandbox
    args = ["run", "verify", "-i", str(inventory), "-e", "rollback_health_urls=[%s/health]" % service]
    args += ["-e", "rollback_health_consecutive=1"]
    plain = ctl(tmp_path, *args)
    as_json = ctl(tmp_path, *args, env_extra={"ANSIBLE_STDOUT_CALLBACK": "json"})
    assert plain.returncode == as_json.returncode == 0, as_json.stdout + as_json.stderr

    def tasks(out):
        lines = [line for line in out.stdout.splitlines() if line.startswith("  h1 ")]
        return [" ".join(re.sub(r" \(\d+\.\d+s\)$", "", line).split()) for line in lines]

    assert tasks(as_json) == tasks(plain) and "h1 ok Check the health URLs" in tasks(as_json)
    assert [v.split(":")[0] for v in verdict_lines(as_json)] == ["h1 => verified"]
    [artifacts] = [line.split(" in ", 1)[1] for line in as_json.stdout.splitlines() if "artifacts in" in line]
    assert (Path(artifacts) / "stdout").is_file() and (Path(artifacts) / "job_events").is_dir()
    status = ctl(tmp_path, "status", "-i", str(inventory), "--json", env_extra={"ANSIBLE_STDOUT_CALLBACK": "json"})
    assert status.returncode == 0, status.stderr
    assert len(json.loads(status.stdout)["h1"]["journal"]["entries"]) == 2


def test_failure_shows_ansible_error_line(tmp_path):
    """A failing task's own message, with its task and host, not only 'ansible-playbook exited 2'."""
    from tests.harness.app import make_layout

    root = make_layout(tmp_path / "shop", ["r1"], live="r1")
    inventory = app_inventory(tmp_path, root)
    out = ctl(tmp_path, "run", "app", "-i", str(inventory), env_extra={"ANSIBLE_STDOUT_CALLBACK": "json"})
    assert out.returncode == 1
    [line] = verdict_lines(out)
    assert line.split()[2] == "failed:" and "nothing to roll back to" in line


@pytest.mark.parametrize("quoted", [True, False])
def test_release_with_spaces_by_id_and_previous(service, tmp_path, quoted):
    """-e takes a quoted value with spaces; `previous` lands on the same release."""
    from tests.harness.app import live_of, make_layout

    ids = ["2026-11-19 old", "2026-11-20 release ünïcode", "2026-11-21 bad"]
    root = make_layout(tmp_path / "shop", ids, live=ids[-1])
    inventory = app_inventory(tmp_path, root, app_health_urls=["%s/health" % service])
    extra = ["-e", 'app_reason="bad deploy" app_rollback_to="%s"' % ids[1]] if quoted else []
    out = ctl(tmp_path, "run", "app", "-i", str(inventory), *extra)
    assert out.returncode == 0, out.stdout + out.stderr
    assert live_of(root) == ids[1]
    if quoted:
        bad = json.loads((root / ".rollback" / "bad.json").read_text(encoding="utf-8"))
        assert bad[ids[2]]["reason"] == "bad deploy"


def test_help_says_how_to_quote_and_exit_codes():
    from rollbackctl.cli import build_parser

    text = build_parser().format_help()
    assert 'key="value with spaces"' in text or 'app_rollback_to="2026-11-20 release"' in text
    assert "3  not verified" in text and "1  failed, unreachable, or no host matched" in text


def test_plan_prints_each_changed_tasks_diff(tmp_path):
    """plan is run --check --diff: the switch it would make is shown as ansible-playbook --diff shows it."""
    from tests.harness.app import live_of, make_layout

    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    inventory = app_inventory(tmp_path, root)
    out = ctl(tmp_path, "plan", "app", "-i", str(inventory))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line.strip() for line in out.stdout.splitlines()]
    assert "-current -> releases/r3" in lines and "+current -> releases/r2" in lines
    assert "h1 => would change" in lines
    assert live_of(root) == "r3"


def test_playbook_error_before_any_host_is_shown(sandbox):
    """A playbook ansible-playbook cannot load: its own error line and where, not 'no host matched'."""
    tmp_path, inventory = sandbox
    broken = tmp_path / "broken.yml"
    broken.write_text("- hosts: all\n  tasks:\n    - ansible.builtin.debug: {msg: hi}\n      bad: [\n")
    out = ctl(tmp_path, "run", str(broken), "-i", str(inventory), env_extra={"ANSIBLE_STDOUT_CALLBACK": "json"})
    assert out.returncode == 1
    assert "before any host ran" in out.stdout and "YAML parsing failed" in out.stdout
    assert str(broken) in out.stdout and "no host matched" not in out.stdout


def test_limit_name_without_host_is_not_matched(service, sandbox):
    tmp_path, inventory = sandbox
    args = ["run", "verify", "-i", str(inventory), "--limit", "h1,ghost"]
    out = ctl(tmp_path, *args, "-e", "rollback_health_urls=[%s/health] rollback_health_consecutive=1" % service)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "ghost => not matched" in out.stdout and "h1 => verified" in out.stdout


def test_status_lists_safety_copies_apart(tmp_path):
    """The data directories and databases kept to undo a rollback are shown in their own section."""
    state = tmp_path / "state"
    (state / "database").mkdir(parents=True)
    data_dir = tmp_path / "pg" / "main"
    for name in ("main", "main.pre_pitr-20261123T184501Z", "main.reverted_pitr-20261124T090000Z"):
        (tmp_path / "pg" / name).mkdir(parents=True)
    (state / "database" / "pitr-localhost_5432.json").write_text(
        json.dumps({"state": "restored", "pre_dir": "%s.pre_pitr-20261123T184501Z" % data_dir, "restore_points": []})
    )
    (state / "database" / "restore-localhost_5432_shop.json").write_text(
        json.dumps({"state": "restored", "pre_rollback_db": "shop_pre_rollback_20261123184512", "restored_at": "T1"})
    )
    dump = state / "snapshots" / "database" / "safety-1"
    dump.mkdir(parents=True)
    meta = {"id": "safety-1", "source": "postgresql:shop", "created": "T0", "metadata": {"kind": "pre-restore"}}
    (dump / "meta.json").write_text(json.dumps(meta))
    (state / "snapshots" / "database" / "snap-1").mkdir()
    (state / "snapshots" / "database" / "snap-1" / "meta.json").write_text(
        json.dumps(dict(meta, id="snap-1", metadata={"kind": "snapshot"}))
    )
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    db1:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n"
        "  vars:\n    rollback_state_dir: %s\n" % (sys.executable, state)
    )
    out = ctl(tmp_path, "status", "-i", str(inventory), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    copies = [(c["kind"], c["name"]) for c in json.loads(out.stdout)["db1"]["safety_copies"]]
    assert copies == [
        ("pre_pitr data directory", "%s.pre_pitr-20261123T184501Z" % data_dir),
        ("reverted_pitr data directory", "%s.reverted_pitr-20261124T090000Z" % data_dir),
        ("pre-restore database", "shop_pre_rollback_20261123184512"),
        ("pre-restore dump", "safety-1"),
    ]
    text = ctl(tmp_path, "status", "-i", str(inventory)).stdout
    section = text.split("safety copies", 1)[1].split("journal:", 1)[0]
    assert "main.pre_pitr-20261123T184501Z" in section and "shop_pre_rollback_20261123184512 (of" in section
    assert "safety-1" in section and "snap-1" not in text
