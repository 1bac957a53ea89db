"""rollback_webhooks as an AWX job whose secrets come from the shipped credential types, never shown."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from tests.harness.awx import artifacts_text, clean_environment, copy_checkout, render_injectors, run_job
from tests.harness.providers import GENERIC_KEY, HMAC_SECRET, SMTP_PASSWORD, SQUARE_TOKEN, STRIPE_KEY
from tests.integration.webhooks.test_webhooks_role import BLUE, SECRETS, extravars, providers  # noqa: F401

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def credential_type(name):
    return yaml.safe_load((REPO / "awx" / "credential_types" / ("%s.yml" % name)).read_text())


def test_credentials_inject_every_secret_and_no_artifact_shows_one(
    providers,  # noqa: F811
    stripe,
    square,
    generic_api,
    slack,
    signed_receiver,
    smtp_sink,
    state_dir,
    tmp_path,
    monkeypatch,
):
    stripe_id, square_id = providers
    credentials = {
        "stripe": {"api_key": STRIPE_KEY},
        "square": {"access_token": SQUARE_TOKEN},
        "generic_api": {"api_key": GENERIC_KEY},
        "notifications": {
            "slack_url": slack.hook_url,
            "webhook_url": signed_receiver.hook_url,
            "webhook_secret": HMAC_SECRET,
        },
        "smtp": {"username": "rollback", "password": SMTP_PASSWORD},
    }
    injected = {}
    for name, inputs in credentials.items():
        injected.update(render_injectors(credential_type(name), inputs))
    plain = extravars(
        state_dir,
        stripe,
        square,
        generic_api,
        stripe_id,
        webhooks_notify_email_to=["oncall@example.com"],
        webhooks_notify_email_from="rollback@example.com",
        webhooks_notify_smtp_host="127.0.0.1",
        webhooks_notify_smtp_port=smtp_sink.port,
    )
    # The template's extra vars hold no secret: every one comes from a credential.
    template_vars = {k: v for k, v in plain.items() if not any(s in str(v) for s in SECRETS)}
    assert set(plain) - set(template_vars) <= set(injected)
    inventory = {
        "all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}
    }
    clean_environment(monkeypatch, tmp_path, BIN)
    project = copy_checkout(REPO, tmp_path / "checkout")
    runner, artifacts = run_job(
        tmp_path / "job", project, "playbooks/rollback_webhooks.yml", inventory, dict(template_vars, **injected)
    )
    assert (runner.status, runner.rc) == ("successful", 0), (artifacts / "stdout").read_text()[-3000:]
    assert stripe.endpoints[stripe_id]["url"] == BLUE % "stripe"
    assert square.subscriptions[square_id]["notification_url"] == BLUE % "square"
    assert len(slack.seen("POST")) == 1 and signed_receiver.verified == [True]
    assert len(smtp_sink.messages) == 1
    shown = artifacts_text(artifacts)
    journal = (state_dir / "journal.jsonl").read_text()
    stored = "\n".join(p.read_text() for p in (state_dir / "snapshots").rglob("*.json"))
    for secret in SECRETS:
        assert secret not in shown, "secret in the job's artifacts"
        assert secret not in journal and secret not in stored
