"""playbooks/rollback_complete.yml on a localhost sandbox (tests/harness/stack.py): a real nginx load
balancer in front of a real nginx app proxy serving an ansistrano layout, PostgreSQL, Redis, a TLS
site, the Stripe and Slack stand-ins, and a client loop counting answers."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.harness.app import live_of
from tests.harness.providers import STRIPE_KEY
from tests.harness.services import free_port
from tests.harness.sslcache import pki  # noqa: F401 - fixture
from tests.harness.stack import BAD_HOOK, COMPLETE, GOOD_HOOK, PARTIAL, VERDICT, changed_tasks
from tests.harness.traffic import ClientLoop

pytestmark = pytest.mark.integration


def test_complete_rollback_under_load_then_rerun_changes_nothing(playbook, sandbox):  # noqa: F811
    assert sandbox.get()[2] == "release r2\n"
    with ClientLoop(sandbox) as clients:
        time.sleep(0.3)
        run = playbook(
            COMPLETE,
            inventory=sandbox.inventory(),
            extravars=sandbox.extravars(webhooks_notify_slack_url=sandbox.slack.hook_url),
        )
        time.sleep(1.0)
    assert run.rc == 0, run.stdout[-4000:]

    # every component back at the previous state, and verified
    assert live_of(sandbox.root) == "r1"
    assert sandbox.redis.keys("page:*") == [] and sandbox.redis.exists("session:1") == 1
    assert "# maintenance: off" in sandbox.maintenance.read_text()
    assert sandbox.get()[2] == "release r1\n"
    assert sandbox.db.counts()["orders"] == 50 and sandbox.db.oid() != sandbox.bad_db[0]
    entries = sandbox.journal()
    verdicts = {e["component"]: e["result"] for e in entries if e["action"] == "verify"}
    components = ("database", "app", "ssl", "cache", "webhooks", "traffic")  # traffic: the maintenance switch
    assert verdicts == dict.fromkeys(components, "ok"), verdicts
    checks = [e for e in entries if e["component"] == "traffic" and e["action"] == "verify"]
    assert len(checks) == 2 and all(e["result"] == "ok" for e in checks)  # page on: 503, page off: 200
    assert sandbox.hook_url == GOOD_HOOK
    assert sandbox.served_certificate() == sandbox.certificate_of("good")
    assert STRIPE_KEY not in run.artifacts_text() and sandbox.slack.path not in run.artifacts_text()
    # announced once at the start and once at the end (the webhooks role announces its own run too)
    texts = [json.dumps(r.json()) for r in sandbox.slack.seen("POST")]
    assert len([t for t in texts if "complete rollback started" in t]) == 1, texts
    assert len([t for t in texts if "complete rollback succeeded" in t]) == 1, texts
    # the database went back before the app switched
    order = [e["component"] for e in entries if e["action"] == "verify"]
    assert order == ["traffic", "database", "app", "ssl", "cache", "webhooks", "traffic"], order
    assert [e["action"] for e in entries if e["component"] == "rollback"] == ["assess"]
    assert not (sandbox.state_dir / "rollback.lock").exists()

    # the load balancer: never a 502/504 or a connection error; 503 only with Retry-After
    counts = ClientLoop.count(clients.answers)
    assert set(counts) <= {200, 503}, counts
    assert counts[503] > 0 and counts[200] > 0, counts
    assert {a.retry_after for a in clients.answers if a.status == 503} == {"9"}
    bodies = [a.body for a in clients.answers if a.status == 200]
    assert bodies[0] == "release r2" and bodies[-1] == "release r1"

    # a re-run without the maintenance page changes nothing in any component, the database
    # included: the restore already in place takes no new dump
    again = playbook(COMPLETE, inventory=sandbox.inventory(), extravars=sandbox.extravars(rollback_maintenance=False))
    assert again.rc == 0, again.stdout[-4000:]
    assert changed_tasks(again) == []
    assert live_of(sandbox.root) == "r1"
    assert sandbox.db.counts()["orders"] == 50


def test_failed_verify_reverts_the_whole_stack(playbook, sandbox):  # noqa: F811
    failing = [{"url": "http://127.0.0.1:%d/" % sandbox.app_port, "status": 200, "body_regex": "release r9"}]
    run = playbook(
        COMPLETE,
        inventory=sandbox.inventory(),
        extravars=sandbox.extravars(rollback_smoke_checks=failing, rollback_smoke_attempts=1),
    )
    assert run.rc != 0
    msg = run.result(VERDICT)["msg"]
    assert msg.startswith("The complete rollback failed and the stack was reverted"), msg
    assert "except what cannot be undone (cache on localhost)" in msg, msg
    assert "verify:" in msg and "release r9" in msg
    assert "app on localhost: release r1 -> r2" in msg, msg
    assert "cache on localhost: nothing: a cache flush cannot be undone" in msg, msg
    assert "database on localhost: the pre-rollback database" in msg, msg
    assert "ssl on localhost: the previous certificate set" in msg, msg
    assert "webhooks on localhost: endpoint %s back at %s" % (sandbox.hook_id, BAD_HOOK) in msg, msg
    assert msg.index("webhooks on") < msg.index("app on localhost") < msg.index("database on localhost")  # reverse

    # back at the pre-rollback state: the bad release live, maintenance off, lock free
    assert live_of(sandbox.root) == "r2"
    assert sandbox.get()[2] == "release r2\n"
    assert (sandbox.db.oid(), sandbox.db.counts()) == sandbox.bad_db
    assert sandbox.hook_url == BAD_HOOK
    assert sandbox.tls.files() == sandbox.bad_tls
    assert sandbox.served_certificate() == sandbox.certificate_of("current")
    assert "# maintenance: off" in sandbox.maintenance.read_text()
    assert not (sandbox.state_dir / "rollback.lock").exists()
    entries = sandbox.journal()
    assert ("app", "auto_revert", "reverted") in {(e["component"], e["action"], e["result"]) for e in entries}
    failed = {e["component"] for e in entries if e["action"] == "verify" and e["result"] == "failed"}
    assert failed == {"database", "app", "ssl", "cache", "webhooks"}


def test_partial_app_only_leaves_the_cache_alone(playbook, sandbox):  # noqa: F811
    run = playbook(
        PARTIAL,
        inventory=sandbox.inventory(),
        extravars=sandbox.extravars(rollback_components=["app"], rollback_maintenance=False),
    )
    assert run.rc == 0, run.stdout[-4000:]
    assert live_of(sandbox.root) == "r1"
    assert len(sandbox.redis.keys("page:*")) == 50
    assert (sandbox.db.oid(), sandbox.db.counts()) == sandbox.bad_db
    assert sandbox.hook_url == BAD_HOOK and sandbox.tls.files() == sandbox.bad_tls
    assert {e["component"] for e in sandbox.journal() if e["action"] == "verify"} == {"app"}


def test_partial_requires_components(playbook, sandbox):  # noqa: F811
    run = playbook(PARTIAL, inventory=sandbox.inventory(), extravars=sandbox.extravars())
    assert run.rc != 0
    assert live_of(sandbox.root) == "r2"
    assert len(sandbox.redis.keys("page:*")) == 50


def test_check_diff_changes_nothing(playbook, sandbox):  # noqa: F811
    files = (sandbox.maintenance.read_text(), sandbox.upstream.read_text())
    run = playbook(COMPLETE, inventory=sandbox.inventory(), extravars=sandbox.extravars(), check=True, diff=True)
    assert run.rc == 0, run.stdout[-4000:]
    assert live_of(sandbox.root) == "r2"
    assert len(sandbox.redis.keys("page:*")) == 50
    assert (sandbox.db.oid(), sandbox.db.counts()) == sandbox.bad_db
    assert (sandbox.maintenance.read_text(), sandbox.upstream.read_text()) == files
    assert sandbox.hook_url == BAD_HOOK and sandbox.tls.files() == sandbox.bad_tls
    assert not (sandbox.state_dir / "rollback.lock").exists()
    assert "maintenance: on" in run.stdout  # the planned diff of the maintenance page


def test_failed_app_phase_swaps_the_database_back_and_skips_the_rest(playbook, sandbox):  # noqa: F811
    run = playbook(COMPLETE, inventory=sandbox.inventory(), extravars=sandbox.extravars(app_rollback_to="r9"))
    assert run.rc != 0
    msg = run.result(VERDICT)["msg"]
    assert "Why: app on localhost:" in msg and "r9" in msg, msg
    assert "database on localhost: the pre-rollback database" in msg, msg
    assert "cache on localhost" not in msg  # the phases after the failure did not run
    assert (sandbox.db.oid(), sandbox.db.counts()) == sandbox.bad_db
    assert live_of(sandbox.root) == "r2"
    assert len(sandbox.redis.keys("page:*")) == 50 and sandbox.hook_url == BAD_HOOK
    assert sandbox.tls.files() == sandbox.bad_tls
    assert "# maintenance: off" in sandbox.maintenance.read_text()
    assert not (sandbox.state_dir / "rollback.lock").exists()


def test_a_host_that_does_not_answer_stops_the_run_before_any_change(playbook, sandbox):  # noqa: F811
    """A cache host whose ssh port is closed: ansible-core drops an unreachable host from the play
    and ends the playbook when a whole batch is gone, which no rescue catches. rollback_complete
    ignores unreachable hosts and checks each host still answers at the end of every phase: the
    run stops in the assess phase, closes (locks, report) and the verdict names the host."""
    inventory = sandbox.inventory()
    inventory["all"]["children"]["cache"]["hosts"]["gone"] = {
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": free_port(),
        "ansible_ssh_common_args": "-o ConnectTimeout=2 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    }
    run = playbook(COMPLETE, inventory=inventory, extravars=sandbox.extravars())
    assert run.rc != 0
    msg = run.result(VERDICT)["msg"]
    assert msg.startswith("The complete rollback failed in the assess phase, before any component was changed."), msg
    assert "assess on gone at 'Fail when this host no longer answers': it stopped answering:" in msg, msg
    assert "Closing failed: unlock on gone" in msg and "report on gone" in msg, msg
    # nothing changed on the hosts that answered, and their lock is released
    assert live_of(sandbox.root) == "r2"
    assert (sandbox.db.oid(), sandbox.db.counts()) == sandbox.bad_db
    assert len(sandbox.redis.keys("page:*")) == 50 and sandbox.hook_url == BAD_HOOK
    assert "# maintenance: off" in sandbox.maintenance.read_text()
    assert not (sandbox.state_dir / "rollback.lock").exists()
    run_id = re.search(r"Run (\S+); see the journal", msg).group(1)
    report = (sandbox.state_dir / "reports" / run_id / ("incident-%s.md" % run_id)).read_text()
    assert "journal of gone not read (it stopped answering)" in report, report[:1500]
