"""The app role's container strategy with real images, on podman and on a real Docker engine.

The runbooks' `docker tag app:previous app:latest` + `docker-compose up -d`: the role moves the
tag back, restores the compose file from the snapshot store, restarts the container and
verifies it. The images are built here FROM the locally built base image (no registry). With
docker the restart is Debian's docker-compose against a dockerd the fixture starts on its own
socket; with podman it is a podman run reading the same compose file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.harness.dockerd import Engine, dockerd  # noqa: F401 - fixture
from tests.harness.services import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
BASE = "localhost/rollback-base:bookworm"
PLAYBOOK = str(REPO / "playbooks" / "rollback_app.yml")

APP = """
import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"version": "%s", "flag": os.environ.get("SHOP_FLAG", "")}).encode()
        self.send_response(%d)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""

COMPOSE = """services:
  shop:
    image: {image}:latest
    network_mode: host
    environment:
      PORT: "{port}"
      SHOP_FLAG: "old"
"""

PODMAN_RESTART = """#!/bin/bash
# docker-compose up -d, reduced to what the test needs: the flag comes from the compose file.
set -euo pipefail
flag=$(sed -n 's/.*SHOP_FLAG: "\\(.*\\)"/\\1/p' {compose})
podman rm -f {name} >/dev/null 2>&1 || true
podman run -d --name {name} --network host -e PORT={port} -e SHOP_FLAG="$flag" {image}:latest >/dev/null
"""

DOCKER_RESTART = """#!/bin/bash
set -euo pipefail
exec docker-compose --no-ansi -p {name} -f {compose} up -d
"""


@pytest.fixture(params=["podman", "docker"])
def shop(request, tmp_path):
    if subprocess.run(["podman", "image", "exists", BASE], check=False).returncode != 0:
        subprocess.run(
            ["bash", str(REPO / "molecule" / "prepare-hosts.sh")],
            env=dict(os.environ, ROLLBACK_SUITES="bookworm"),
            check=True,
        )
    engine = Engine("podman") if request.param == "podman" else Engine("docker", request.getfixturevalue("dockerd"))
    repo = "localhost/rb-shop-%s" % uuid.uuid4().hex[:8]
    ids = {}
    for version, status in (("v1", 200), ("v2", 500)):
        ctx = tmp_path / version
        ctx.mkdir()
        (ctx / "app.py").write_text(APP % (version, status))
        (ctx / "Containerfile").write_text('FROM %s\nCOPY app.py /app.py\nCMD ["python3", "/app.py"]\n' % BASE)
        engine("build", "-q", "-t", "%s:%s" % (repo, version), "-f", str(ctx / "Containerfile"), str(ctx))
        ids[version] = engine.image_id("%s:%s" % (repo, version))
    name = repo.rsplit("/", 1)[1]
    port = free_port()
    compose = tmp_path / "docker-compose.yml"
    restart = tmp_path / "restart.sh"
    template = DOCKER_RESTART if engine.dockerd else PODMAN_RESTART
    restart.write_text(template.format(compose=compose, name=name, port=port, image=repo))
    yield {
        "engine": engine,
        "repo": repo,
        "ids": ids,
        "name": name,
        "port": port,
        "compose": compose,
        "restart": restart,
    }
    if engine.dockerd:
        subprocess.run(
            ["docker-compose", "-p", name, "-f", str(compose), "down"],
            env=engine.dockerd.env(),
            capture_output=True,
            check=False,
        )
        for ref in ids.values():
            engine.dockerd.run("rmi", "-f", ref, check=False)
    else:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
        for ref in ids.values():
            subprocess.run(["podman", "rmi", "-f", ref], capture_output=True, check=False)


def health(port, attempts=100):
    """(status, body) of /health, waiting (bounded) for a just-started container to listen."""
    for _ in range(attempts):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("nothing answered on port %d" % port)


def test_container_rollback_then_undo(shop, playbook, tmp_path):
    repo, ids, compose, engine = shop["repo"], shop["ids"], shop["compose"], shop["engine"]
    env = engine.envvars(tmp_path)
    state = tmp_path / "state"
    inventory = {
        "all": {
            "children": {
                "web": {
                    "hosts": {"web1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
                }
            }
        }
    }

    # The good release: v1 with its compose file, snapshotted before the deploy.
    compose.write_text(COMPOSE.format(image=repo, port=shop["port"]))
    run = playbook(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {
                        "name": "snapshot before the deploy",
                        "emergency.rollback.config_snapshot": {
                            "paths": [str(compose)],
                            "snapshot_id": "pre-deploy",
                            "state_dir": str(state),
                        },
                    }
                ],
            }
        ],
        inventory=inventory,
    )
    assert run.rc == 0, run.stdout[-2000:]
    # The bad deploy: latest -> v2, the compose file turns the new flag on, the container restarts.
    engine("tag", "%s:v1" % repo, "%s:previous" % repo)
    engine("tag", "%s:v2" % repo, "%s:latest" % repo)
    compose.write_text(compose.read_text().replace('"old"', '"new"'))
    deploy = subprocess.run(
        ["bash", str(shop["restart"])], check=False, env=dict(os.environ, **env), capture_output=True, text=True
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert health(shop["port"]) == (500, {"version": "v2", "flag": "new"})

    extravars = {
        "rollback_run_id": "rb-container",
        "rollback_state_dir": str(state),
        "app_strategy": "container",
        "app_container_image": repo,
        "app_compose_file": str(compose),
        "app_compose_snapshot": "pre-deploy",
        "app_restart": "command",
        "app_restart_command": ["bash", str(shop["restart"])],
        "app_container_engine": engine.name,
        "app_health_urls": ["http://127.0.0.1:%d/health" % shop["port"]],
        "app_health_attempts": 40,
        "app_health_interval": 0.25,
        "app_health_consecutive": 2,
    }
    run = playbook(PLAYBOOK, inventory=inventory, extravars=extravars, envvars=env)
    assert run.rc == 0, run.stdout[-4000:]
    retag = run.result("Move the image tag back to previous", "web1")
    assert (retag["before_id"], retag["after_id"], retag["engine"]) == (ids["v2"], ids["v1"], engine.name)
    assert engine.image_id("%s:latest" % repo) == ids["v1"]
    assert health(shop["port"]) == (200, {"version": "v1", "flag": "old"})
    assert 'SHOP_FLAG: "old"' in compose.read_text()
    # the replaced image is kept under a tag and recorded
    assert engine.image_id("%s:%s" % (repo, retag["kept_tag"])) == ids["v2"]

    again = playbook(PLAYBOOK, inventory=inventory, extravars=extravars, envvars=env)
    assert again.rc == 0
    assert not [t for t, results in again.results.items() if any(r["res"].get("changed") for r in results)]

    # Undo the rollback: the snapshot the retag returned puts v2 back under latest.
    undo = playbook(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {
                        "name": "undo",
                        "emergency.rollback.container_image": {
                            "image": repo,
                            "snapshot": retag["snapshot"]["id"],
                            "engine": engine.name,
                            "state_dir": str(state),
                        },
                    }
                ],
            }
        ],
        inventory=inventory,
        envvars=env,
    )
    assert undo.rc == 0, undo.stdout[-2000:]
    assert undo.result("undo", "web1")["after_id"] == ids["v2"]
    assert engine.image_id("%s:latest" % repo) == ids["v2"]
    journal = [json.loads(line) for line in (state / "journal.jsonl").read_text().splitlines()]
    retags = [(e["from"], e["to"]) for e in journal if e["action"] == "retag" and e["result"] == "changed"]
    assert retags == [(ids["v2"][:12], ids["v1"][:12]), (ids["v1"][:12], ids["v2"][:12])]
