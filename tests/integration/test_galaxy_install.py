"""The built collection works on its own: build, install, FQCN use, ansible-doc."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("galaxy")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp / "collections"))
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp), str(REPO)],
        check=True,
        capture_output=True,
        env=env,
    )
    [tarball] = tmp.glob("emergency-rollback-*.tar.gz")
    subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            "-p",
            str(tmp / "collections"),
            str(tarball),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    return tmp, tarball


def test_tarball_holds_only_the_collection(installed):
    _tmp, tarball = installed
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    tops = {n.split("/")[0] for n in names}
    assert {"meta", "plugins", "playbooks", "galaxy.yml", "README.md"} - tops == {"galaxy.yml"}
    assert {"MANIFEST.json", "FILES.json"} <= tops
    for excluded in ("tests", "molecule", "bench", ".ci", "rollbackctl", ".venv", "build"):
        assert excluded not in tops
    assert "plugins/modules/health_check.py" in names
    # ansible-rulebook finds the event source and the rulebook there in an installed collection
    assert {"extensions/eda/plugins/event_source/alertmanager.py", "extensions/eda/rulebooks/auto_rollback.yml"} <= set(
        names
    )


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args):
        pass


def test_fqcn_playbook_runs_from_the_installed_collection(installed, playbook, tmp_path):
    tmp, _ = installed
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        play = {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "probe",
                    "emergency.rollback.health_check": {
                        "url": "http://127.0.0.1:%d/" % server.server_address[1],
                        "state_dir": str(tmp_path / "state"),
                    },
                }
            ],
        }
        run = playbook([play], envvars={"ANSIBLE_COLLECTIONS_PATH": str(tmp / "collections")})
    finally:
        server.shutdown()
    assert run.rc == 0, run.stdout[-3000:]
    assert run.result("probe")["healthy"] is True
    # the only collection path ansible saw was the installed copy, not the working tree
    envvars = yaml.safe_load((run.artifact_dir.parents[1] / "env" / "envvars").read_text())
    assert envvars["ANSIBLE_COLLECTIONS_PATH"] == str(tmp / "collections")


def test_ansible_doc_renders(installed):
    tmp, _ = installed
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp / "collections"), ANSIBLE_NOCOLOR="1")
    out = subprocess.run(
        [str(BIN / "ansible-doc"), "emergency.rollback.health_check"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    for text in ("consecutive", "latency_ms", "state_dir", "EXAMPLES", "RETURN VALUES", "check_mode"):
        assert text in out.stdout, text
    listing = subprocess.run(
        [str(BIN / "ansible-doc"), "-l", "emergency.rollback"], capture_output=True, text=True, env=env, check=True
    )
    for module in ("health_check", "lock", "journal_info", "journal_record"):
        assert "emergency.rollback.%s" % module in listing.stdout
