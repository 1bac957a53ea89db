"""The repository as an AWX project: playbooks resolve from a plain checkout and from an installed collection."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.awx import EE_IMAGE, clean_environment, copy_checkout, ee_built, run_job

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ROLE_PLAYBOOKS = ["rollback_app", "rollback_cache", "rollback_database", "rollback_ssl", "rollback_webhooks"]


def clean_env(home):
    """No collections path from the Makefile or the user: only what the project itself sets up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["HOME"] = str(home)
    return env


def syntax_check(playbook, cwd, env):
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", playbook, "--syntax-check"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    return copy_checkout(REPO, tmp_path_factory.mktemp("project") / "emergency-rollback")


def test_checkout_finds_its_own_collection(checkout, tmp_path):
    listed = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "list", "emergency.rollback"],
        cwd=checkout,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "# %s/collections/ansible_collections" % checkout in listed
    assert re.search(r"^emergency\.rollback\s+\d", listed, re.M)


@pytest.mark.parametrize("playbook", ROLE_PLAYBOOKS)
def test_playbook_resolves_from_a_checkout(checkout, tmp_path, playbook):
    code, output = syntax_check("playbooks/%s.yml" % playbook, checkout, clean_env(tmp_path))
    assert code == 0, output


def test_checkout_without_the_project_config_does_not_resolve(checkout, tmp_path):
    """The control case: the project ansible.cfg is what makes the FQCNs resolve."""
    bare = tmp_path / "bare"
    shutil.copytree(checkout, bare, symlinks=True)
    (bare / "ansible.cfg").unlink()
    code, output = syntax_check("playbooks/rollback_app.yml", bare, clean_env(tmp_path))
    assert code != 0
    assert "emergency.rollback" in output


def test_awx_lists_each_playbook_once(checkout):
    """AWX's project scan: *.yml with hosts:/import_playbook: outside roles, tasks and vars dirs, links not followed."""
    skip = {"roles", "tasks", "group_vars", "host_vars"}
    found = []
    for dirpath, dirnames, filenames in os.walk(checkout):
        dirnames[:] = [d for d in dirnames if d not in skip and not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.endswith(".yml") and re.search(r"^\s*-?\s*(hosts|import_playbook):", path.read_text(), re.M):
                found.append(str(path.relative_to(checkout)))
    for playbook in ROLE_PLAYBOOKS:
        assert found.count("playbooks/%s.yml" % playbook) == 1
    assert not [p for p in found if p.startswith("collections/")]


def test_fqcn_playbooks_resolve_from_the_installed_collection(tmp_path):
    env = dict(clean_env(tmp_path), ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"))
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    [tarball] = tmp_path.glob("emergency-rollback-*.tar.gz")
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", env["ANSIBLE_COLLECTIONS_PATH"]]
        + [str(tarball)],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    installed = tmp_path / "collections" / "ansible_collections" / "emergency" / "rollback"
    assert not (installed / "collections").exists() and not (installed / "ansible.cfg").exists()
    for playbook in ROLE_PLAYBOOKS:
        code, output = syntax_check("emergency.rollback.%s" % playbook, tmp_path, env)
        assert code == 0, output


REASON = "checkout 500s {{ lookup('pipe', 'id') }} $HOME"  # must arrive as typed: AWX answers are !unsafe


@pytest.mark.parametrize(
    "where",
    [
        "host",
        pytest.param("ee", marks=pytest.mark.skipif(not ee_built(), reason="no %s: make ee builds it" % EE_IMAGE)),
    ],
)
def test_awx_style_job_runs_rollback_app_with_a_limit(where, checkout, nginx_factory, tmp_path, monkeypatch):
    """A job as AWX hands it to ansible-runner: project/ synced, inventory/, env/extravars, env/cmdline;
    on the host, or inside the execution environment image with process isolation as AWX runs it."""
    from rollbackctl import survey
    from tests.harness.app import SITE, live_of, make_layout

    web1 = make_layout(tmp_path / "web1", ["r1", "r2", "r3"], live="r3")
    web2 = make_layout(tmp_path / "web2", ["r1", "r2", "r3"], live="r3")
    server = nginx_factory(SITE % web1)
    python = sys.executable if where == "host" else "/usr/bin/python3"
    host = {"ansible_connection": "local", "ansible_python_interpreter": python}
    inventory = {
        "web": {
            "hosts": {
                name: dict(host, app_root=str(root), rollback_state_dir=str(tmp_path / ("state-" + name)))
                for name, root in (("web1", web1), ("web2", web2))
            }
        }
    }
    answers = {  # survey answers, as AWX's survey form produces them
        "app_rollback_to": "previous",
        "app_reason": REASON,
        "app_force": "false",
        "app_health_attempts": 5,
        "app_health_interval": 0.2,
    }
    questions = {q["variable"]: q for q in survey.build("rollback_app", REPO)["spec"]}
    for name, value in answers.items():
        assert name in questions and isinstance(value, survey.DEFAULT_TYPES[questions[name]["type"]])
    extravars = dict(
        answers,
        app_health_urls=["http://127.0.0.1:%d/health" % server.http_port],  # template extra vars
        awx_job_id=4242,
        awx_job_template_name="rollback app",
        awx_user_name="oncall",
        awx_project_revision="0" * 40,
        tower_job_id=4242,
    )
    # AWX sets no collections path of its own for a project: the project's ansible.cfg must do it.
    clean_environment(monkeypatch, tmp_path, BIN)
    isolation = {}
    if where == "ee":  # the sandbox (tmp_path, nginx on loopback) seen from inside the container
        isolation = dict(
            process_isolation=True,
            process_isolation_executable="podman",
            container_image=EE_IMAGE,
            container_volume_mounts=["%s:%s:Z" % (tmp_path, tmp_path)],
            # keep-id as AWX does for a rootless podman: the job files belong to the host user (root here)
            container_options=["--network=host", "--user=0"],
        )
    runner, artifacts = run_job(
        tmp_path / "job", checkout, "playbooks/rollback_app.yml", inventory, extravars, limit="web1", **isolation
    )
    stdout = (artifacts / "stdout").read_text()
    assert (runner.status, runner.rc) == ("successful", 0), stdout[-3000:]
    assert live_of(web1) == "r2" and live_of(web2) == "r3"  # the limit held
    command = json.loads((artifacts / "command").read_text())["command"]
    assert command[0] == ("podman" if where == "ee" else "ansible-playbook")
    assert (EE_IMAGE in command) == (where == "ee")
    assert (artifacts / "rc").read_text() == "0" and (artifacts / "status").read_text() == "successful"
    events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
    hosts = {e["event_data"].get("host") for e in events if e["event"].startswith("runner_on_")}
    assert hosts == {"web1"}
    switched = [
        e["event_data"]["res"]
        for e in events
        if e["event"] == "runner_on_ok" and e["event_data"].get("task_action") == "emergency.rollback.release"
    ]
    assert [(r["from"], r["to"]) for r in switched if r.get("changed")] == [("r3", "r2")]
    stats = [e for e in events if e["event"] == "playbook_on_stats"]
    assert stats and stats[0]["event_data"]["failures"] == {}
    assert (tmp_path / "state-web1" / "journal.jsonl").is_file() and not (tmp_path / "state-web2").exists()
    [bad] = web1.rglob("bad.json")
    assert json.loads(bad.read_text())["r3"]["reason"] == REASON  # as typed, not templated
