"""playbooks/rollback_complete.yml on a localhost sandbox: a real nginx load balancer in front of a
real nginx app proxy serving an ansistrano layout, a real Redis, and a client loop counting answers."""

from __future__ import annotations

import json
import ssl
import sys
import time
from pathlib import Path

import pytest

from tests.harness import services
from tests.harness.app import live_of, make_layout
from tests.harness.database import new_database
from tests.harness.providers import STRIPE_KEY, SlackStandIn, StripeStandIn
from tests.harness.sslcache import pki, tls_site  # noqa: F401 - fixtures
from tests.harness.traffic import ClientLoop
from tests.integration.test_ssl_cache_roles import ssl_vars

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
COMPLETE = str(REPO / "playbooks" / "rollback_complete.yml")
PARTIAL = str(REPO / "playbooks" / "rollback_partial.yml")
VERDICT = "Fail listing what was reverted and why"
GOOD_HOOK = "https://shop.example.com/webhooks/stripe"
BAD_HOOK = "https://shop.example.com/v2/webhooks/stripe"

# The app proxy serves the live release; the load balancer includes the maintenance file and
# balances the managed upstream (the app proxy). Both are server blocks of one nginx.
SITE = """\
server {{{{
    listen 127.0.0.1:{app};
    root {root}/current/public;
    open_file_cache off;
    location = /health {{{{ try_files /health =500; }}}}
    location / {{{{ try_files $uri /index.html =404; }}}}
}}}}
server {{{{
    listen 127.0.0.1:{{http_port}};
    include {maintenance};
    location / {{{{
        proxy_pass http://app;
        proxy_next_upstream off;
    }}}}
}}}}
"""


class Sandbox:
    def __init__(self, nginx_factory, redis_server, postgres, task, tmp_path, state_dir, tls_site, pki):  # noqa: F811
        self.root = make_layout(tmp_path / "app", ["r1", "r2"], live="r2")  # r2: the bad deploy
        self.app_port = services.free_port()
        self.maintenance = tmp_path / "maintenance.conf"
        self.maintenance.write_text("# maintenance: off\n")
        self.nginx = nginx_factory(
            SITE.format(app=self.app_port, root=self.root, maintenance=self.maintenance), run=False
        )
        self.upstream = self.nginx.conf_d / "upstream.conf"
        self.upstream.write_text("upstream app {\n    server 127.0.0.1:%d;\n}\n" % self.app_port)
        self.nginx.start()
        services.wait_for_port(self.app_port)
        self.redis = redis_server.client()
        self.redis.flushdb()
        self.redis.mset({"page:%d" % i: "bad" for i in range(50)} | {"session:1": "keep"})
        self.redis_port = redis_server.port
        self.state_dir = state_dir
        # the database: snapshot "good" taken before the deploy, then the bad release lost orders
        self.postgres = postgres
        self.db = new_database(postgres)
        event, res, _ = task(
            "emergency.rollback.pg_snapshot", self.db.params(state_dir=str(state_dir), snapshot_id="good")
        )
        assert event == "runner_on_ok", res
        self.db.execute("DELETE FROM billing.invoices; DELETE FROM orders")
        self.bad_db = (self.db.oid(), self.db.counts())
        # the provider: the bad release re-pointed the Stripe endpoint at its own URL
        self.stripe = StripeStandIn(STRIPE_KEY)
        self.stripe.start()
        self.hook_id = self.stripe.add(BAD_HOOK, ["charge.failed"])
        self.slack = SlackStandIn()
        self.slack.start()

        # the certificates: the bad release installed "current", the rollback target is "good"
        self.tls, self.pki = tls_site, pki
        self.bad_tls = tls_site.files()

    def served_certificate(self):
        """DER of the certificate the TLS site serves now."""
        pem = ssl.get_server_certificate(("127.0.0.1", self.tls.nginx.https_port))
        return ssl.PEM_cert_to_DER_cert(pem)

    def certificate_of(self, name):
        fullchain = self.pki[name].fullchain.read_text()
        first = fullchain[: fullchain.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
        return ssl.PEM_cert_to_DER_cert(first)

    @property
    def hook_url(self):
        return self.stripe.endpoints[self.hook_id]["url"]

    @property
    def http_port(self):
        return self.nginx.http_port

    def get(self, path="/"):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode()
        finally:
            conn.close()

    def inventory(self):
        host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        groups = ("web", "cache", "loadbalancers", "databases", "webhooks")
        return {"all": {"children": {g: {"hosts": {"localhost": host}} for g in groups}}}

    def extravars(self, **extra):
        argv = [str(x) for x in self.nginx.argv("-t")], [str(x) for x in self.nginx.argv("-s", "reload")]
        # smoke checks go to the app behind the load balancer: its maintenance page is still on
        app = "http://127.0.0.1:%d" % self.app_port
        variables = ssl_vars(self.tls, self.state_dir, self.pki["good"])
        del variables["rollback_hosts"]
        variables.update(
            {
                "rollback_state_dir": str(self.state_dir),
                "app_root": str(self.root),
                "app_rollback_to": "r1",
                "app_health_urls": ["http://127.0.0.1:%d/health" % self.app_port],
                "database_name": self.db.name,
                "database_login_host": self.postgres.host,
                "database_login_port": self.postgres.port,
                "database_login_user": self.postgres.user,
                "database_login_password": self.postgres.password,
                "database_bin_dir": str(self.postgres.bin_dir),
                "database_snapshot_verify": False,
                "database_restore_snapshot": "good",
                "webhooks_stripe_api_key": STRIPE_KEY,
                "webhooks_backoff": 0.01,
                "webhooks_notify_retries": 0,
                "webhooks_endpoints": [
                    {
                        "name": "stripe payments",
                        "provider": "stripe",
                        "endpoint_id": self.hook_id,
                        "url": GOOD_HOOK,
                        "api_base_url": self.stripe.url,
                    }
                ],
                "cache_redis_enabled": True,
                "cache_redis_port": self.redis_port,
                "cache_redis_patterns": ["page:*"],
                "traffic_test_command": argv[0],
                "traffic_reload_command": argv[1],
                "traffic_maintenance_path": str(self.maintenance),
                "traffic_maintenance_retry_after": 9,
                "traffic_maintenance_allow_paths": ["/health"],
                "traffic_upstream_path": str(self.upstream),
                "rollback_smoke_checks": [{"url": app + "/", "status": 200, "body_regex": "release r1"}],
            }
        )
        variables.update(extra)
        return variables

    def journal(self):
        path = self.state_dir / "journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def sandbox(nginx_factory, redis_server, postgres, task, tmp_path, state_dir, tls_site, pki):  # noqa: F811
    box = Sandbox(nginx_factory, redis_server, postgres, task, tmp_path, state_dir, tls_site, pki)
    yield box
    box.stripe.stop()
    box.slack.stop()
    box.db.drop_all()


def changed_tasks(run):
    return [
        (name, r["host"])
        for name, results in run.results.items()
        for r in results
        if r["event"] == "runner_on_ok" and r["res"].get("changed")
    ]


def test_complete_rollback_under_load_then_rerun_changes_nothing(playbook, sandbox):
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
    assert verdicts == {"database": "ok", "app": "ok", "ssl": "ok", "cache": "ok", "webhooks": "ok"}, verdicts
    assert sandbox.hook_url == GOOD_HOOK
    assert sandbox.served_certificate() == sandbox.certificate_of("good")
    assert STRIPE_KEY not in run.artifacts_text() and sandbox.slack.path not in run.artifacts_text()
    # announced once at the start and once at the end (the webhooks role announces its own run too)
    texts = [json.dumps(r.json()) for r in sandbox.slack.seen("POST")]
    assert len([t for t in texts if "complete rollback started" in t]) == 1, texts
    assert len([t for t in texts if "complete rollback succeeded" in t]) == 1, texts
    # the database went back before the app switched
    order = [e["component"] for e in entries if e["action"] == "verify"]
    assert order == ["database", "app", "ssl", "cache", "webhooks"], order
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


def test_failed_verify_reverts_the_whole_stack(playbook, sandbox):
    failing = [{"url": "http://127.0.0.1:%d/" % sandbox.app_port, "status": 200, "body_regex": "release r9"}]
    run = playbook(
        COMPLETE,
        inventory=sandbox.inventory(),
        extravars=sandbox.extravars(rollback_smoke_checks=failing, rollback_smoke_attempts=1),
    )
    assert run.rc != 0
    msg = run.result(VERDICT)["msg"]
    assert msg.startswith("The complete rollback failed and the stack was reverted"), msg
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


def test_partial_app_only_leaves_the_cache_alone(playbook, sandbox):
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


def test_partial_requires_components(playbook, sandbox):
    run = playbook(PARTIAL, inventory=sandbox.inventory(), extravars=sandbox.extravars())
    assert run.rc != 0
    assert live_of(sandbox.root) == "r2"
    assert len(sandbox.redis.keys("page:*")) == 50


def test_check_diff_changes_nothing(playbook, sandbox):
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


def test_failed_app_phase_swaps_the_database_back_and_skips_the_rest(playbook, sandbox):
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
