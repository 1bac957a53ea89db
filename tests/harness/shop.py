"""The docs tests' shop: three releases of a small Python web app behind a real nginx.

Built in a directory given to start() (no root-only paths):
- an ansistrano layout with three releases of a small Python web app, the newest one broken
  (its /health answers 500), `current` pointing at it;
- the app running from `current`, and a real nginx on a free localhost port proxying to it;
- <dir>/services.json, the variables inventories/sandbox reads for those services.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import services

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


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError as err:
        return None, str(err)


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


@dataclass
class Sandbox:
    """The shop running: the shop on app_port behind nginx at url."""

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
    app_port = services.free_port()
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
