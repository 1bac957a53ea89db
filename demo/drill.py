"""make demo: a real app rollback drill in a local sandbox.

Builds, in a directory it prints (ROLLBACK_SANDBOX, else a new temp dir; no root-only paths):
- an ansistrano layout with three releases of a small Python web app, the newest one broken
  (its /health answers 500), `current` pointing at it;
- the app running from `current`, and a real nginx on a free localhost port proxying to it;
- $ROLLBACK_SANDBOX/services.json, the variables inventories/sandbox reads for those services.
Then it shows the health check failing, runs the app rollback through rollbackctl
(`rollbackctl run app`), shows the health check passing and `rollbackctl status` with the
journal, and stops what it started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import services  # noqa: E402  (nginx in a prefix of our own, on free ports)

RELEASES = [
    ("20261121T090000Z", "1.4.1", False),
    ("20261122T090000Z", "1.4.2", False),
    ("20261123T090000Z", "1.5.0", True),
]

APP = '''"""shop {version}: a tiny web app (release {rid})."""
import http.server
import json
import sys

VERSION = "{version}"
BROKEN = {broken}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            status = 500 if BROKEN else 200
            body = {{"status": "error: payment provider client fails to start" if BROKEN else "ok", "version": VERSION}}
        else:
            status, body = 200, {{"shop": VERSION}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''

APPCTL = '''#!{python}
"""Restart the shop: stop the running process, start the one in current/ again."""
import os
import signal
import socket
import subprocess
import sys
import time

ROOT, PORT, PIDFILE = {root!r}, {port}, {pidfile!r}

try:
    with open(PIDFILE) as handle:
        os.kill(int(handle.read()), signal.SIGTERM)
    time.sleep(0.3)
except (OSError, ValueError):
    pass
log = open(os.path.join(os.path.dirname(PIDFILE), "app.log"), "ab")
proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "current", "app.py"), str(PORT)],
                        stdout=log, stderr=log, start_new_session=True)
with open(PIDFILE, "w") as handle:
    handle.write(str(proc.pid))
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", PORT), 0.2).close()
        break
    except OSError:
        time.sleep(0.05)
print("shop restarted from", os.path.realpath(os.path.join(ROOT, "current")), "pid", proc.pid)
'''

SITE = """
server {{
    listen 127.0.0.1:{http_port};
    location / {{ proxy_pass http://127.0.0.1:%d; }}
}}
"""


def banner(text):
    print("\n\033[1m== %s\033[0m" % text, flush=True)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError as err:
        return None, str(err)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(sandbox):
    root = sandbox / "shop"
    for rid, version, broken in RELEASES:
        release = root / "releases" / rid
        release.mkdir(parents=True, exist_ok=True)
        (release / "app.py").write_text(APP.format(version=version, rid=rid, broken=broken))
        (release / "REVISION").write_text("v%s\n" % version)
    (root / "shared").mkdir(exist_ok=True)
    (root / "shared" / ".env").write_text("DB_PASSWORD=demo-secret\nENABLE_NEW_PAYMENT_FLOW=true\n")
    if not (root / "current").is_symlink():
        (root / "current").symlink_to("releases/%s" % RELEASES[-1][0])
    return root


def rollbackctl(args, env):
    """rollbackctl as a module; ansible-playbook directly if it is not installed here."""
    probe = subprocess.run([sys.executable, "-c", "import rollbackctl"], env=env, capture_output=True, check=False)
    if probe.returncode == 0:
        return subprocess.call([sys.executable, "-m", "rollbackctl", *args], cwd=REPO, env=env)
    if args[0] != "run":
        print("(rollbackctl is not installed; skipping `rollbackctl %s`)" % " ".join(args))
        return 0
    bin_dir = Path(sys.executable).parent
    argv = [str(bin_dir / "ansible-playbook"), str(REPO / "playbooks" / "rollback_app.yml"), *args[2:]]
    return subprocess.call(argv, cwd=REPO, env=env)


@dataclass
class Sandbox:
    """The drill's sandbox running: the shop on app_port behind nginx at url."""

    path: Path
    root: Path
    restart: Path
    app_port: int
    nginx: services.NginxServer
    url: str
    vars: dict = field(default_factory=dict)

    def write_services(self, **extra):
        """$ROLLBACK_SANDBOX/services.json: what inventories/sandbox adds to every host."""
        self.vars.update(extra)
        (self.path / "services.json").write_text(json.dumps(self.vars, indent=2, sort_keys=True))

    def stop(self):
        self.nginx.stop()
        try:
            os.kill(int((self.path / "run" / "app.pid").read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def start(sandbox):
    """Build the sandbox in `sandbox`, start the shop and nginx, write services.json."""
    root = build(sandbox)
    run_dir = sandbox / "run"
    run_dir.mkdir(exist_ok=True)
    app_port = free_port()
    restart = root / "bin" / "restart"
    restart.parent.mkdir(exist_ok=True)
    restart.write_text(
        APPCTL.format(python=sys.executable, root=str(root), port=app_port, pidfile=str(run_dir / "app.pid"))
    )
    restart.chmod(0o755)
    subprocess.run([str(restart)], check=True, stdout=subprocess.DEVNULL)
    nginx = services.new_nginx(sandbox / "nginx")
    nginx.prepare(SITE.format(http_port=nginx.http_port) % app_port)
    nginx.start()
    url = "http://127.0.0.1:%d" % nginx.http_port
    box = Sandbox(path=sandbox, root=root, restart=restart, app_port=app_port, nginx=nginx, url=url)
    box.write_services(
        app_root=str(root),
        app_config_files=[str(root / "shared" / ".env")],
        app_restart="command",
        app_restart_command=[str(restart)],
        app_health_urls=[url + "/health"],
        app_health_attempts=5,
        app_health_interval=0.5,
        app_reason="drill: /health answers 500 after the 1.5.0 deploy",
    )
    return box


INVENTORY = REPO / "inventories" / "sandbox"


def main():
    sandbox = Path(os.environ.get("ROLLBACK_SANDBOX") or tempfile.mkdtemp(prefix="rollback-demo-")).resolve()
    sandbox.mkdir(parents=True, exist_ok=True)
    banner("sandbox: %s" % sandbox)
    box = start(sandbox)
    root, url, state, inventory = box.root, box.url, sandbox / "state", INVENTORY
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        ROLLBACK_SANDBOX=str(sandbox),
        ROLLBACKCTL_COLLECTION=str(REPO),
        ROLLBACKCTL_STATE_DIR=str(sandbox / "rollbackctl"),
    )
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "build" / "collections")
    rc = 1
    try:
        banner("before: nginx on %s serves release %s" % (url, os.readlink(root / "current")))
        status, body = get(url + "/health")
        print("GET /health -> %s %s" % (status, body))
        banner("rollbackctl run app -i %s" % inventory)
        rc = rollbackctl(["run", "app", "-i", str(inventory)], env)
        banner("after: current -> %s" % os.readlink(root / "current"))
        status, body = get(url + "/health")
        print("GET /health -> %s %s" % (status, body))
        print("GET /       -> %s %s" % get(url + "/"))
        if status != 200:
            rc = rc or 1
        marks = root / ".rollback" / "bad.json"
        if marks.exists():
            for rid, mark in json.loads(marks.read_text()).items():
                print(
                    "release %s marked bad by %s at %s: %s (kept for debugging)"
                    % (rid, mark["by"], mark["at"], mark["reason"])
                )
        banner("rollbackctl status -i %s" % inventory)
        status_rc = rollbackctl(["status", "-i", str(inventory)], env)
        if status_rc != 0:
            print("(rollbackctl status exited %d)" % status_rc)
        banner("journal %s" % (state / "journal.jsonl"))
        for line in (state / "journal.jsonl").read_text().splitlines():
            entry = json.loads(line)
            print(
                "%s  %-6s %-12s %-8s %s -> %s  %s"
                % (
                    entry.get("ts", "")[11:23],
                    entry.get("component"),
                    entry.get("action"),
                    entry.get("result"),
                    entry.get("from"),
                    entry.get("to"),
                    entry.get("message") or "",
                )
            )
        banner("drill %s; sandbox kept in %s" % ("verified" if rc == 0 else "FAILED", sandbox))
    finally:
        box.stop()
        if os.environ.get("ROLLBACK_DEMO_CLEAN"):
            shutil.rmtree(sandbox, ignore_errors=True)
    return rc


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print("(%.1f s)" % (time.monotonic() - started))
    sys.exit(code)
