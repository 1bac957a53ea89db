"""make demo: a health verification drill against a local sandbox.

Starts a small HTTP service on a free localhost port, runs the collection's verify
playbook through rollbackctl, then shows `rollbackctl status` with the journal.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/health"
        body = b'{"status": "ok"}' if ok else b"not found"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def main():
    sandbox = Path(os.environ.get("ROLLBACK_SANDBOX") or tempfile.mkdtemp(prefix="rollback-sandbox-"))
    sandbox.mkdir(parents=True, exist_ok=True)
    print("sandbox: %s" % sandbox)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/health" % server.server_address[1]
    inventory = sandbox / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    sandbox:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: %s\n  vars:\n    rollback_state_dir: %s\n"
        % (sys.executable, sandbox / "state")
    )
    ctl = [sys.executable, "-m", "rollbackctl", "--state-dir", str(sandbox / "rollbackctl")]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rc = subprocess.call(
        ctl + ["run", "verify", "-i", str(inventory), "-e", "rollback_health_urls=[%s]" % url], cwd=REPO, env=env
    )
    subprocess.call(ctl + ["status", "-i", str(inventory)], cwd=REPO, env=env)
    server.shutdown()
    return rc


if __name__ == "__main__":
    sys.exit(main())
