"""AWX execution nodes: a job streamed through ansible-runner transmit | worker | process, the worker
inside the execution environment image, and what arrives back on the controller."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness.awx import (
    EE_IMAGE,
    artifacts_text,
    clean_environment,
    copy_checkout,
    ee_built,
    render_injectors,
    stream_job,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ee_built(), reason="no %s: make ee builds it (root, podman)" % EE_IMAGE),
]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REASON = "checkout 500s {{ lookup('pipe', 'id') }} $HOME"  # a survey answer: must arrive as typed
SECRETS = {  # what a notifications credential attached to the template holds
    "slack_url": "https://hooks.slack.example/services/T0/B0/stream-slack-token-7f3a",
    "webhook_url": "https://hooks.example/rollback?token=stream-webhook-token-91c2",
    "webhook_secret": "stream-hmac-secret-5d0e",
}


def worker_in_ee(sandbox):
    """The execution node's side: `ansible-runner worker` in the EE, stdin and stdout piped.
    The sandbox (app layouts, state dirs) and nginx on loopback are reached at the same paths and
    addresses as on the host; root inside, because the sandbox files belong to root here."""
    return [
        "podman",
        "run",
        "--rm",
        "-i",
        "--network=host",
        "--user=0",
        "-v",
        "%s:%s:Z" % (sandbox, sandbox),
        EE_IMAGE,
        "ansible-runner",
        "worker",
    ]


def test_streamed_job_runs_rollback_app_on_the_ee_worker(nginx_factory, tmp_path, monkeypatch):
    from tests.harness.app import SITE, live_of, make_layout

    web1 = make_layout(tmp_path / "web1", ["r1", "r2", "r3"], live="r3")
    web2 = make_layout(tmp_path / "web2", ["r1", "r2", "r3"], live="r3")
    server = nginx_factory(SITE % web1)
    host = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    inventory = {
        "web": {
            "hosts": {
                name: dict(host, app_root=str(root), rollback_state_dir=str(tmp_path / ("state-" + name)))
                for name, root in (("web1", web1), ("web2", web2))
            }
        }
    }
    credential_type = yaml.safe_load((REPO / "awx" / "credential_types" / "notifications.yml").read_text())
    extravars = dict(
        {  # survey answers as AWX's form produces them
            "app_rollback_to": "previous",
            "app_reason": REASON,
            "app_force": "false",
            "app_health_attempts": 5,
            "app_health_interval": 0.2,
        },
        app_health_urls=["http://127.0.0.1:%d/health" % server.http_port],
        awx_job_id=4242,
        awx_job_template_name="rollback app",
        awx_execution_node="exec-1",
        awx_user_name="oncall",
        **render_injectors(credential_type, SECRETS),
    )
    clean_environment(monkeypatch, tmp_path, BIN)  # AWX sets no collections path for a project
    project = copy_checkout(REPO, tmp_path / "checkout")

    job = stream_job(
        tmp_path / "job",
        project,
        "playbooks/rollback_app.yml",
        inventory,
        extravars,
        worker_in_ee(tmp_path),
        limit="web1",
    )

    stdout = "\n".join(e["stdout"] for e in job.events if e.get("stdout"))
    assert job.worker_rc == 0, job.worker_stderr[-2000:]
    assert job.runner.status == "successful", stdout[-3000:]  # the processor has no rc: AWX reads the artifact
    assert live_of(web1) == "r2" and live_of(web2) == "r3"  # switched, and the limit held
    [bad] = web1.rglob("bad.json")
    assert json.loads(bad.read_text())["r3"]["reason"] == REASON  # !unsafe: as typed, not templated

    # The events arrive on the controller as the process side's event handler sees them.
    kinds = [e["event"] for e in job.events]
    assert kinds[0] == "playbook_on_start" and kinds[-1] == "playbook_on_stats"
    on_hosts = [e for e in job.events if e["event"].startswith("runner_on_")]
    assert {e["event_data"]["host"] for e in on_hosts} == {"web1"}
    ok_roles = {e["event_data"].get("role") for e in on_hosts if e["event"] == "runner_on_ok"}
    assert "app" in ok_roles
    switched = [
        e["event_data"]["res"]
        for e in on_hosts
        if e["event"] == "runner_on_ok" and e["event_data"].get("task_action") == "emergency.rollback.release"
    ]
    assert [(r["from"], r["to"]) for r in switched if r.get("changed")] == [("r3", "r2")]
    [stats] = [e for e in job.events if e["event"] == "playbook_on_stats"]
    assert stats["event_data"]["failures"] == {} and set(stats["event_data"]["ok"]) == {"web1"}

    # ... and the worker's artifacts come back with them.
    assert (job.artifacts / "rc").read_text() == "0" and (job.artifacts / "status").read_text() == "successful"
    saved = sorted((job.artifacts / "job_events").glob("*.json"))
    assert {json.loads(p.read_text())["uuid"] for p in saved} == {e["uuid"] for e in job.events}
    command = json.loads((job.artifacts / "command").read_text())["command"]
    assert command[0].endswith("ansible-playbook") and "podman" not in command  # ran in the EE, not the host
    assert (tmp_path / "state-web1" / "journal.jsonl").is_file() and not (tmp_path / "state-web2").exists()

    # Credential secrets go to the worker in env/extravars, never come back in events, artifacts or journal.
    seen = "\n".join(
        [json.dumps(job.events), artifacts_text(job.artifacts), (tmp_path / "state-web1" / "journal.jsonl").read_text()]
    )
    for secret in SECRETS.values():
        assert secret not in seen
