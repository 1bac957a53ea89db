"""rollbackctl's live view in a real terminal (tmux): hosts x phases redrawn in place, plain lines when piped."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CTL = str(Path(sys.executable).parent / "rollbackctl")


class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        time.sleep(0.4)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args):
        pass


@pytest.fixture
def slow_service():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/health" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def tmux(tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed: run `make deps`")
    socket = str(tmp_path / "tmux.sock")  # our own server, never the user's

    def run(*args):
        return subprocess.run(["tmux", "-S", socket, *args], capture_output=True, text=True, check=True).stdout

    yield run
    subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)


def command(tmp_path, url):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    web1:\n    web2:\n  vars:\n    ansible_connection: local\n"
        "    ansible_python_interpreter: %s\n    rollback_state_dir: %s\n" % (sys.executable, tmp_path / "state")
    )
    return [
        CTL, "--state-dir", str(tmp_path / "ctl"), "run", "verify", "-i", str(inventory),
        "-e", "rollback_health_urls=[%s]" % url, "-e", "rollback_health_consecutive=6",
        "-e", "rollback_health_interval=0.5",
    ]  # fmt: skip


def test_live_view_in_a_terminal(tmp_path, slow_service, tmux):
    argv = command(tmp_path, slow_service)
    shell = "%s; echo DONE rc=$?; sleep 60" % " ".join(argv)
    tmux("new-session", "-d", "-s", "live", "-x", "150", "-y", "40", "env", "TERM=xterm-256color", "sh", "-c", shell)
    seen_running = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pane = tmux("capture-pane", "-p", "-t", "live")
        if seen_running is None and "running" in pane and "Check the health URLs" in pane:
            seen_running = pane
        if "DONE rc=" in pane:
            break
        time.sleep(0.2)
    assert "DONE rc=0" in pane, pane
    # While it ran: a row per host with its phase, state, elapsed time and current task.
    assert seen_running is not None, pane
    for host in ("web1", "web2"):
        row = next(line for line in seen_running.splitlines() if " %s " % host in line)
        assert "Verify service health" in row and "running" in row and "Check the health URLs" in row
    # Redrawn in place: one table, whose header is on screen once, then the summary.
    assert pane.count("HOST") == 2  # the live table's header and the summary table's
    assert "all hosts verified" in pane and pane.count("rollbackctl: Verify service health") == 1
    final = [line for line in pane.splitlines() if " web1 " in line]
    assert len(final) == 1 and " ok " in final[0] and "Check the health URLs" not in final[0]


def test_plain_lines_when_not_a_terminal(tmp_path, slow_service):
    out = subprocess.run(command(tmp_path, slow_service), capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "\x1b[" not in out.stdout  # no escape codes in a pipe
    assert "  web1                 ok          Check the health URLs" in out.stdout
