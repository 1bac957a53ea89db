"""A bad deploy in every component on localhost: what rollback_complete.yml starts from.

- the app: an ansistrano layout with releases r1 and r2, r2 live, served by an nginx app proxy;
- the load balancer: a server block of the same nginx with the maintenance include and the
  managed upstream (the app proxy);
- PostgreSQL: a database whose snapshot "good" was taken before the deploy, then lost its
  orders and invoices;
- Redis: page:* keys written by the bad release, and a session key a flush must keep;
- certificates: a second nginx serving the `current` set over TLS; the rollback target is `good`;
- Stripe: the stand-in's endpoint re-pointed at the bad release's URL (BAD_HOOK); and a Slack
  stand-in for the announcements.

Usable from pytest (pass the session's services) and from a plain script (Stack.start() starts
PostgreSQL and Redis and builds a PKI itself); stop() stops what the stack started. Test modules
import the fixture: `from tests.harness.stack import sandbox` (with `pki` from sslcache).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import ssl
import sys
from pathlib import Path

import pytest

from tests.harness import pki as pki_mod
from tests.harness import services
from tests.harness.ansible import run_task
from tests.harness.app import live_of, make_layout
from tests.harness.database import new_database
from tests.harness.providers import STRIPE_KEY, SlackStandIn, StripeStandIn
from tests.harness.sslcache import TlsSite, install_set, ssl_vars

REPO = Path(__file__).resolve().parents[2]
COMPLETE = str(REPO / "playbooks" / "rollback_complete.yml")
PARTIAL = str(REPO / "playbooks" / "rollback_partial.yml")
VERDICT = "Fail listing what was reverted and why"
GOOD_HOOK = "https://shop.example.com/webhooks/stripe"
BAD_HOOK = "https://shop.example.com/v2/webhooks/stripe"
GROUPS = ("web", "cache", "loadbalancers", "databases", "webhooks")

# The app proxy serves the live release; the load balancer includes the maintenance file and
# balances the managed upstream (the app proxy). Both are server blocks of one nginx.
SITE = """\
server {{
    listen 127.0.0.1:{app};
    root {root}/current/public;
    open_file_cache off;
    location = /health {{ try_files /health =500; }}
    location / {{ try_files $uri /index.html =404; }}
}}
server {{
    listen 127.0.0.1:{http_port};
    include {maintenance};
    location / {{
        proxy_pass http://app;
        proxy_next_upstream off;
    }}
}}
"""


class Stack:
    """The bad deploy, built in `base` on the given PostgreSQL and Redis servers and PKI.

    broken: releases without a /health file (nginx answers 500 for them)."""

    def __init__(self, base, postgres, redis, pki, broken=()):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.postgres, self.redis_server, self.pki = postgres, redis, pki
        self._owned = []  # services started by Stack.start(), stopped last
        self._parts = []
        try:
            self._build(broken)
        except BaseException:
            self.stop()
            raise

    @classmethod
    def start(cls, base, broken=()):
        """Start PostgreSQL and Redis and build a PKI under base, then the stack on them."""
        base = Path(base)
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o711)  # the postgres user traverses it to its data dir
        owned = []
        try:
            owned.append(services.start_postgres(base / "postgres"))
            owned.append(services.start_redis(base / "redis"))
            pki = pki_mod.build(base / "pki")
            stack = cls(base, owned[0], owned[1], pki, broken=broken)
        except BaseException:
            for server in reversed(owned):
                server.stop()
            raise
        stack._owned = owned
        return stack

    def _build(self, broken):
        base = self.base
        self.state_dir = base / "state"
        self.state_dir.mkdir(exist_ok=True)
        self.root = make_layout(base / "app", ["r1", "r2"], live="r2", broken=broken)  # r2: the bad deploy

        # nginx: app proxy + load balancer
        self.app_port = services.free_port()
        self.maintenance = base / "maintenance.conf"
        self.maintenance.write_text("# maintenance: off\n")
        self.nginx = services.new_nginx(base / "nginx")
        self.nginx.prepare(
            SITE.format(app=self.app_port, root=self.root, maintenance=self.maintenance, http_port=self.nginx.http_port)
        )
        self.upstream = self.nginx.conf_d / "upstream.conf"
        self.upstream.write_text("upstream app {\n    server 127.0.0.1:%d;\n}\n" % self.app_port)
        self._parts.append(self.nginx.start())
        services.wait_for_port(self.app_port)

        # the certificates: the bad release installed "current", the rollback target is "good"
        live = base / "live"
        install_set(live, self.pki["current"])
        tls_nginx = services.new_nginx(base / "tls-nginx")
        self.tls = TlsSite(nginx=tls_nginx, live=live, pki=self.pki)
        tls_nginx.prepare()
        self.tls.write_conf()
        self._parts.append(tls_nginx.start())
        self.bad_tls = self.tls.files()

        # the cache: the bad release's pages, and a session that must survive the flush
        self.redis = self.redis_server.client()
        self.redis.flushdb()
        self.redis.mset({"page:%d" % i: "bad" for i in range(50)} | {"session:1": "keep"})
        self.redis_port = self.redis_server.port

        # the database: snapshot "good" taken before the deploy, then the bad release lost orders
        self.db = new_database(self.postgres)
        self._parts.append(self.db)
        with contextlib.redirect_stdout(io.StringIO()):  # the setup's play output is noise to a script
            event, res, _ = run_task(
                base / "ansible",
                "emergency.rollback.pg_snapshot",
                self.db.params(state_dir=str(self.state_dir), snapshot_id="good"),
            )
        if event != "runner_on_ok":
            raise RuntimeError("the pre-deploy snapshot failed: %s" % res.get("msg", res))
        self.db.execute("DELETE FROM billing.invoices; DELETE FROM orders")
        self.bad_db = (self.db.oid(), self.db.counts())

        # the provider: the bad release re-pointed the Stripe endpoint at its own URL
        self.stripe = StripeStandIn(STRIPE_KEY)
        self.stripe.start()
        self._parts.append(self.stripe)
        self.hook_id = self.stripe.add(BAD_HOOK, ["charge.failed"])
        self.slack = SlackStandIn()
        self.slack.start()
        self._parts.append(self.slack)

    def stop(self):
        """Stop the stack's nginx and stand-ins, drop its databases, then what start() started."""
        for part in reversed(self._parts):
            try:
                part.drop_all() if hasattr(part, "drop_all") else part.stop()
            except Exception as err:  # noqa: BLE001 - one part failing must not keep the rest running
                sys.stderr.write("stack: stopping %r failed: %s\n" % (part, err))
        self._parts = []
        for server in reversed(self._owned):
            server.stop()
        self._owned = []

    # --- what a component serves now -----------------------------------------------------------

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

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http_port

    def get(self, path="/", port=None):
        """(status, headers, body) of a GET to the load balancer (or another local port)."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.http_port, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode()
        finally:
            conn.close()

    def live(self):
        return live_of(self.root)

    def state(self):
        """Each component as a client or operator sees it: for the demo's before/after."""
        certs = {hashlib.sha256(self.certificate_of(n)).hexdigest(): n for n in ("current", "good")}
        served = hashlib.sha256(self.served_certificate()).hexdigest()
        status, _headers, body = self.get("/")
        return {
            "app": {
                "live": self.live(),
                "revision": (self.root / "current" / "REVISION").read_text().strip(),
                "health": self.get("/health", port=self.app_port)[0],
                "lb": "%s %s" % (status, body.strip()),
            },
            "database": {"oid": self.db.oid(), "rows": self.db.counts()},
            "ssl": {"served": "%s (%s)" % (served[:16], certs.get(served, "unknown"))},
            "cache": {"page:*": len(self.redis.keys("page:*")), "session:1": self.redis.exists("session:1")},
            "webhooks": {"stripe %s" % self.hook_id: self.hook_url},
            "maintenance": next((x for x in self.maintenance.read_text().splitlines() if "maintenance:" in x), "?"),
        }

    # --- what the playbook needs -------------------------------------------------------------------

    def inventory(self, host="localhost"):
        host_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        return {"all": {"children": {g: {"hosts": {host: host_vars}} for g in GROUPS}}}

    def extravars(self, **extra):
        """Every variable rollback_complete.yml needs for this stack (the secrets included)."""
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
                "app_health_urls": [app + "/health"],
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
                "traffic_maintenance_check_url": "http://127.0.0.1:%d/" % self.http_port,
                "traffic_upstream_path": str(self.upstream),
                "rollback_smoke_checks": [{"url": app + "/", "status": 200, "body_regex": "release r1"}],
            }
        )
        variables.update(extra)
        return variables

    def journal(self):
        path = self.state_dir / "journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


Sandbox = Stack  # the name the complete rollback tests knew it by


@pytest.fixture
def sandbox(redis_server, postgres, tmp_path, pki):
    box = Stack(tmp_path / "stack", postgres, redis_server, pki)
    yield box
    box.stop()


def changed_tasks(run):
    """(task, host) of every task that reported changed in a PlaybookRun."""
    return [
        (name, r["host"])
        for name, results in run.results.items()
        for r in results
        if r["event"] == "runner_on_ok" and r["res"].get("changed")
    ]
