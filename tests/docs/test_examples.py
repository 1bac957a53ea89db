"""Docs as tests: every fenced block of README.md and roles/*/README.md runs against the sandbox.

The sandbox is tests/harness/shop.py's (the shop behind nginx) plus the harness's PostgreSQL, Redis,
memcached and stand-ins for the CDN, Stripe, Square and Slack, all described to Ansible by
inventories/sandbox through $ROLLBACK_SANDBOX/services.json. Each block runs as printed, apart
from the placeholders of the README's "Placeholders in the examples" table (PLACEHOLDERS below),
and each check asserts what the text around the block says it does.

A block without an entry in CHECKS fails test_every_block_has_a_check: a new example cannot
land without a test.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.docs.docsource import BIN, REPO, all_blocks, ansible_env
from tests.harness import pki as pki_mod
from tests.harness import services, shop
from tests.harness.database import SCHEMA, make_alembic_project
from tests.harness.providers import SLACK_TOKEN, SQUARE_TOKEN, STRIPE_KEY, SlackStandIn, SquareStandIn, StripeStandIn
from tests.harness.sslcache import memcached, pki, start_purge_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

RELEASES = [rid for rid, _version, _broken in shop.RELEASES]
STRIPE_ID = "we_1Mr5jULkdIwHu7ix1ibLTM0x"
GREEN, BLUE = "https://green.shop.example.com/webhooks/%s", "https://blue.shop.example.com/webhooks/%s"
DB_PASSWORD = "rollback-Sandbox-3f9a"
REDIS_PASSWORD = "redis-Sandbox-81c2"
CDN_TOKEN = "cdn-Sandbox-token-55e0"


# The README's placeholder table: {word as printed: what the sandbox has in its place}.
PLACEHOLDERS = {
    "inventories/production": lambda box: "inventories/sandbox",
    "inventory": lambda box: "inventories/sandbox",
    "web1": lambda box: "sandbox",
    "web2": lambda box: "sandbox",
    "db1": lambda box: "sandbox",
    "https://shop.example.com/health": lambda box: box.url + "/health",
    "http://127.0.0.1:8080/health": lambda box: box.url + "/health",
    "/srv/shop": lambda box: str(box.root),
    "/etc/nginx/tls": lambda box: str(box.path / "tls"),
    "app.example.com": lambda box: pki_mod.NAMES[0],
    "https://api.stripe.com": lambda box: box.stripe.url,
    "https://connect.squareup.com": lambda box: box.square.url,
    "https://api.cdn.example": lambda box: box.purge.url,
    "10.0.0.6:11211": lambda box: "127.0.0.1:%d" % box.memcached.port,
    "vault/webhooks.yml": lambda box: str(box.path / "plays/vault/webhooks.yml"),
    # After /etc/nginx/tls: what is left of /etc/nginx is the sandbox nginx's prefix.
    "/etc/nginx": lambda box: str(box.sandbox.nginx.prefix),
    "listen 80": lambda box: "listen 127.0.0.1:%d" % box.lb_port,
    # The URLs first: an address after "//" is not replaced on its own.
    "http://10.0.0.11:8080/healthz": lambda box: "http://%s/healthz" % box.backend("green", 0),
    "http://10.0.0.12:8080/healthz": lambda box: "http://%s/healthz" % box.backend("green", 1),
    "10.0.0.11:8080": lambda box: box.backend("green", 0),
    "10.0.0.12:8080": lambda box: box.backend("green", 1),
    "10.0.0.21:8080": lambda box: box.backend("blue", 0),
    "10.0.0.22:8080": lambda box: box.backend("blue", 1),
}


def substitute(text, box):
    for word, value in PLACEHOLDERS.items():
        replacement = value(box).replace("\\", "\\\\")  # literal, whatever the path holds
        text = re.sub(r"(?<![\w/-])%s(?![\w-])" % re.escape(word), replacement, text)
    return text


class Box:
    """The running sandbox and how to run things in it."""

    def __init__(self, sandbox, **parts):
        self.sandbox = sandbox
        self.__dict__.update(parts)
        self.path, self.root, self.url = sandbox.path, sandbox.root, sandbox.url
        self.env = dict(
            ansible_env(),
            ROLLBACK_SANDBOX=str(self.path),
            ROLLBACKCTL_STATE_DIR=str(self.path / "rollbackctl"),
            ANSIBLE_LOCAL_TEMP=str(self.path / ".ansible-local"),
            ANSIBLE_REMOTE_TEMP=str(self.path / ".ansible-remote"),
        )

    def sh(self, command, **env):
        return subprocess.run(
            ["bash", "-c", command],
            cwd=REPO,
            env=dict(self.env, **env),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def play(self, block):
        """Write a README's example play to a file and run it against the sandbox inventory."""
        return self.playbook(block.id, substitute(block.text, self))

    def playbook(self, name, text):
        plays = self.path / "plays"
        plays.mkdir(exist_ok=True)
        path = plays / (re.sub(r"\W", "_", name) + ".yml")
        path.write_text(text)
        return self.sh("%s -i inventories/sandbox %s" % (BIN / "ansible-playbook", path))

    def live(self):
        return os.readlink(self.root / "current").rsplit("/", 1)[-1]

    def health(self):
        return shop.get(self.url + "/health")[0]

    def reset_app(self, live):
        """The shop as deployed: no deploy history, no bad marks, `current` -> live, restarted."""
        shutil.rmtree(self.root / ".rollback", ignore_errors=True)
        (self.root / "current").unlink()
        (self.root / "current").symlink_to("releases/%s" % live)
        subprocess.run([str(self.sandbox.restart)], check=True, stdout=subprocess.DEVNULL)

    def backend(self, pool, index):
        return "127.0.0.1:%d" % self.backends[pool][index]

    def lb_wait(self, predicate, path="/", timeout=10.0):
        """Poll the site until predicate(answer) holds: a reload swaps workers within moments."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self.lb_get(path)
            except OSError as err:
                answer = (None, None, repr(err))
            if predicate(answer) or time.monotonic() > deadline:
                return answer
            time.sleep(0.05)

    def lb_get(self, path="/"):
        """(status, Retry-After, body) of the load balancer site of roles/traffic/README.md."""
        conn = http.client.HTTPConnection("127.0.0.1", self.lb_port, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Retry-After"), resp.read().decode().strip()
        finally:
            conn.close()

    def sql(self, query, db="shop"):
        with psycopg.connect(self.postgres.dsn(db), autocommit=True) as conn:
            cur = conn.execute(query)
            return cur.fetchall() if cur.description else None


def commands(block):
    """A bash block's commands, continuation lines joined."""
    lines = block.text.replace("\\\n", " ").splitlines()
    return [c.strip() for c in lines if c.strip() and not c.lstrip().startswith("#")]


def recap(proc):
    """{host: {ok: n, changed: n, ...}} from ansible-playbook's PLAY RECAP."""
    out = {}
    for host, stats in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", stats)}
    return out


def ran_on_sandbox(proc, controller=False, unmatched=False):
    """Exit 0, and the play matched the sandbox host and failed nowhere.

    controller: the complete rollback's announce and verdict plays also run on localhost.
    unmatched: a partial rollback skips the plays of the components it leaves out."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert unmatched or "no hosts matched" not in proc.stdout + proc.stderr
    stats = recap(proc)
    assert set(stats) == ({"sandbox", "localhost"} if controller else {"sandbox"}), proc.stdout[-2000:]
    for host in stats.values():
        assert host["failed"] == 0 and host["unreachable"] == 0
    return stats["sandbox"]


@pytest.fixture(scope="module")
def box(postgres, memcached, pki, tmp_path_factory):  # noqa: F811
    path = Path(tempfile.mkdtemp(prefix="rollback-docs-"))
    os.chmod(path, 0o711)
    started = []
    try:
        sandbox = shop.start(path)
        started.append(sandbox)
        redis = services.start_redis(path / "redis", password=REDIS_PASSWORD)
        started.append(redis)
        stripe = StripeStandIn(STRIPE_KEY)
        square = SquareStandIn(SQUARE_TOKEN)
        slack = SlackStandIn(path="/services/T0ROLLBACK/B0ROLLBACK/%s" % SLACK_TOKEN)
        for server in (stripe, square, slack):
            server.start()
            started.append(server)
        purge = start_purge_server()
        started.append(purge)
        tls = path / "tls"
        tls.mkdir()
        _tls_site(sandbox.nginx, tls, pki)
        _database(postgres)
        backends, lb_port = _traffic_backends(sandbox.nginx)
        sandbox.write_services(
            app_health_attempts=10,
            database_login_host=postgres.host,
            database_login_port=postgres.port,
            database_login_user="rollback",
            database_login_password=DB_PASSWORD,
            database_bin_dir=str(postgres.bin_dir),
            database_alembic_environment={
                "DATABASE_URL": "postgresql+psycopg://rollback:%s@%s:%d/shop"
                % (DB_PASSWORD, postgres.host, postgres.port)
            },
            vault_shop_rollback_password=DB_PASSWORD,
            cache_redis_port=redis.port,
            vault_redis_password=REDIS_PASSWORD,
            vault_cdn_token=CDN_TOKEN,
            ssl_ca_path=str(pki.ca),
            ssl_test_command=[str(a) for a in sandbox.nginx.argv("-t")],
            ssl_reload_command=[str(a) for a in sandbox.nginx.argv("-s", "reload")],
            ssl_probe_port=sandbox.nginx.https_port,
            vault_app_key_passphrase=pki_mod.PASSPHRASE,
            webhooks_backoff=0.01,
            # The traffic role's defaults name /etc/nginx: the sandbox nginx keeps those files in its prefix.
            traffic_nginx_conf=str(sandbox.nginx.conf),
            traffic_test_command=[str(a) for a in sandbox.nginx.argv("-t")],
            traffic_reload_command=[str(a) for a in sandbox.nginx.argv("-s", "reload")],
            traffic_maintenance_path=str(sandbox.nginx.prefix / "snippets/emergency-rollback-maintenance.conf"),
            traffic_upstream_path=str(sandbox.nginx.conf_d / "emergency-rollback-upstream.conf"),
            traffic_soak_seconds=1,
        )
        yield Box(
            sandbox,
            postgres=postgres,
            redis=redis,
            memcached=memcached,
            pki=pki,
            stripe=stripe,
            square=square,
            slack=slack,
            purge=purge,
            backends=backends,
            lb_port=lb_port,
        )
    finally:
        for part in reversed(started):
            part.stop()
        try:
            with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
                for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'shop%'").fetchall():
                    conn.execute('DROP DATABASE "%s" WITH (FORCE)' % name)
                conn.execute("DROP ROLE IF EXISTS rollback")
        except psycopg.Error:
            pass
        shutil.rmtree(path, ignore_errors=True)


def _tls_site(nginx, tls, pki):  # noqa: F811
    """nginx serves the `current` set as app.crt/app.key; *.backup hold the good set (key encrypted)."""
    current, backup = pki["current"], pki["passphrase"]
    shutil.copyfile(current.fullchain, tls / "app.crt")
    shutil.copyfile(current.key, tls / "app.key")
    shutil.copyfile(backup.fullchain, tls / "app.crt.backup")
    shutil.copyfile(backup.key, tls / "app.key.backup")
    for key in ("app.key", "app.key.backup"):
        (tls / key).chmod(0o600)
    # The example's candidate key is encrypted: nginx reads it with ssl_password_file, as the README says.
    (tls / "passphrase").write_text(pki_mod.PASSPHRASE + "\n")
    nginx.write_site(
        "tls",
        "server { listen 127.0.0.1:%d ssl; server_name %s; ssl_certificate %s; ssl_certificate_key %s;"
        ' ssl_password_file %s; return 200 "tls\\n"; }'
        % (nginx.https_port, " ".join(pki_mod.NAMES), tls / "app.crt", tls / "app.key", tls / "passphrase"),
    )
    nginx.reload()


def _traffic_backends(nginx):
    """Two app servers per pool (server blocks of the sandbox nginx), and the site's free port."""
    (nginx.prefix / "snippets").mkdir()  # as packaged nginx has /etc/nginx/snippets
    backends = {pool: [services.free_port(), services.free_port()] for pool in ("green", "blue")}
    nginx.write_site(
        "backends",
        "".join(
            'server { listen 127.0.0.1:%d; location = /healthz { return 200 "ok\\n"; }'
            ' location / { return 200 "%s %d\\n"; } }\n' % (port, pool, n)
            for pool, ports in backends.items()
            for n, port in enumerate(ports, 1)
        ),
    )
    _blue_live(nginx, backends)
    nginx.reload()
    for port in backends["green"] + backends["blue"]:
        services.wait_for_port(port)
    return backends, services.free_port()


def _blue_live(nginx, backends):
    """The hand-written upstream of the site before the rollback: blue serves, green is down."""
    servers = ["    server 127.0.0.1:%d weight=1;\n" % port for port in backends["blue"]]
    servers += ["    server 127.0.0.1:%d down;\n" % port for port in backends["green"]]
    (nginx.conf_d / "emergency-rollback-upstream.conf").write_text("upstream app {\n%s}\n" % "".join(servers))


def _database(postgres):
    """The shop database, owned by a `rollback` login that may create databases."""
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS rollback")
        conn.execute("CREATE ROLE rollback LOGIN CREATEDB PASSWORD '%s'" % DB_PASSWORD)
        conn.execute('CREATE DATABASE shop OWNER "rollback"')
    with psycopg.connect(
        postgres.dsn("shop")
        .replace("user=postgres", "user=rollback")
        .replace("password=%s" % postgres.password, "password=%s" % DB_PASSWORD),
        autocommit=True,
    ) as conn:
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO users (name) SELECT 'user' || g FROM generate_series(1, 20) g")
        conn.execute(
            "INSERT INTO orders (user_id, total, created_at)"
            " SELECT 1 + g % 20, g * 1.25, now() - interval '1 hour' FROM generate_series(1, 50) g"
        )


# --- the checks, one per block ---------------------------------------------------------------


def readme_make(block, box):
    lines = commands(block)
    assert [c.split("#")[0].strip() for c in lines] == ["make demo", "make test"]
    # `make test` is this suite (and lint, sanity and Molecule) itself: it is not run from here.
    proc = box.sh("make demo", ROLLBACK_SANDBOX=str(box.path / "demo"), ROLLBACK_DEMO_CLEAN="1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    before, _, after = proc.stdout.partition("== after")
    assert "current -> r2 (rev-r2), /health 500" in before and "orders=0" in before, proc.stdout[-3000:]
    assert "current -> r1 (rev-r1), /health 200" in after and "orders=50" in after, proc.stdout[-3000:]
    assert "served certificate" in after and "(good)" in after and "maintenance: off" in after
    assert "rollbackctl: all hosts verified" in proc.stdout and "sandbox => verified" in proc.stdout
    assert "rollbackctl: report of run" in proc.stdout
    assert "drill verified" in proc.stdout


def readme_module_defaults(block, box):
    box.reset_app(RELEASES[1])
    stats = ran_on_sandbox(box.play(block))
    assert stats["ok"] >= 1


def readme_install(block, box):
    box.reset_app(RELEASES[1])
    installed = box.path / "installed"
    lines = commands(block)
    assert lines[0] == "make build"
    for line in lines:
        proc = box.sh(substitute(line, box), ANSIBLE_COLLECTIONS_PATH=str(installed))
        assert proc.returncode == 0, (line, proc.stdout[-3000:], proc.stderr[-2000:])
    # The playbook ran from the installed tarball, not from the working tree.
    assert (installed / "ansible_collections/emergency/rollback/MANIFEST.json").is_file()
    ran_on_sandbox(proc)


def readme_rollbackctl(block, box):
    run_verify, plan, status = [substitute(c, box) for c in commands(block)]
    box.reset_app(RELEASES[1])
    proc = box.sh(run_verify)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert re.search(r"^sandbox\s+\d+\s+0\s+0\s+0", proc.stdout, re.M), proc.stdout[-2000:]

    box.reset_app(RELEASES[2])
    proc = box.sh(plan)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "check mode, nothing changes" in proc.stdout and "sandbox" in proc.stdout
    assert box.live() == RELEASES[2], "plan switched the release"

    proc = box.sh(status)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "== sandbox" in proc.stdout and "lock: free" in proc.stdout
    assert re.search(r"release %s\s+LIVE" % RELEASES[2], proc.stdout)


def app_play(block, box):
    box.reset_app(RELEASES[2])
    assert box.health() == 500
    stats = ran_on_sandbox(box.play(block))
    assert stats["changed"] > 0
    assert box.live() == RELEASES[1]
    assert box.health() == 200
    assert "ENABLE_NEW_PAYMENT_FLOW=false" in (box.root / "shared/.env").read_text()
    marks = json.loads((box.root / ".rollback/bad.json").read_text())
    assert marks[RELEASES[2]]["reason"] == "checkout 500s after the 1.5.0 deploy"


def app_commands(block, box):
    check, run = [substitute(c, box) for c in commands(block)]
    box.reset_app(RELEASES[2])
    proc = box.sh(check)
    ran_on_sandbox(proc)
    assert box.live() == RELEASES[2], "--check switched the release"
    assert "releases/%s" % RELEASES[0] in proc.stdout, "the diff does not show the target"
    proc = box.sh(run)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert box.live() == RELEASES[0]
    assert box.health() == 200


def cache_play(block, box):
    client = box.redis.client()
    client.flushdb()
    client.mset({"page:1": "a", "page:2": "b", "fragment:v42:nav": "c", "session:9": "keep"})
    box.memcached.set("page", "cached")
    box.purge.requests.clear()
    ran_on_sandbox(box.play(block))
    assert sorted(k.decode() for k in client.keys("*")) == ["session:9"]
    assert box.memcached.get("page") is None
    assert len(box.purge.requests) == 1
    request = box.purge.requests[0]
    assert request["path"] == "/v1/zones/app/purge"
    assert request["headers"]["Authorization"] == "Bearer %s" % CDN_TOKEN
    assert json.loads(request["body"]) == {"purge_everything": True}


def take_snapshot(box, name):
    """A deliberate snapshot of shop with this id, through the packaged playbook (no restore)."""
    playbook = BIN / "ansible-playbook"
    ran_on_sandbox(
        box.sh(
            "%s -i inventories/sandbox playbooks/rollback_database.yml -e database_name=shop"
            " -e database_snapshot_name=%s -e database_snapshot_verify=false" % (playbook, name)
        )
    )


def database_play(block, box):
    snapshot_id = re.search(r"database_restore_snapshot: (\S+)", block.text).group(1)
    take_snapshot(box, snapshot_id)
    box.sql("INSERT INTO users (name) SELECT 'late' || g FROM generate_series(1, 5) g")
    assert box.sql("SELECT count(*) FROM users")[0][0] == 25
    ran_on_sandbox(box.play(block))
    assert box.sql("SELECT count(*) FROM users")[0][0] == 20
    kept = box.sql("SELECT datname FROM pg_database WHERE datname LIKE 'shop\\_pre\\_rollback\\_%'", db="postgres")
    assert len(kept) == 1


def database_previous(block, box):
    """`previous` is the deliberate snapshot before the latest one (docs/vocabulary.md#targets)."""
    box.sql("DELETE FROM users WHERE name LIKE 'docs-%'")
    box.sql("INSERT INTO users (name) VALUES ('docs-previous')")
    take_snapshot(box, "docs-previous-1")
    box.sql("INSERT INTO users (name) VALUES ('docs-latest')")
    take_snapshot(box, "docs-previous-2")
    box.sql("INSERT INTO users (name) VALUES ('docs-after')")
    (command,) = commands(block)
    ran_on_sandbox(box.sh(substitute(command, box)))
    assert box.sql("SELECT name FROM users WHERE name LIKE 'docs-%' ORDER BY id") == [("docs-previous",)]


def alembic_at_head(box):
    """The bad release carries the Alembic project; shop is migrated to its head, 0003_audit."""
    release = box.root / "releases" / RELEASES[2]
    if not (release / "alembic.ini").exists():
        make_alembic_project(release)
        (release / ".venv/bin").mkdir(parents=True)
        (release / ".venv/bin/alembic").symlink_to(BIN / "alembic")
    url = json.loads((box.path / "services.json").read_text())["database_alembic_environment"]
    subprocess.run(
        [str(BIN / "alembic"), "upgrade", "head"],
        cwd=release,
        env=dict(os.environ, **url),
        check=True,
        capture_output=True,
    )
    assert box.sql("SELECT version_num FROM alembic_version") == [("0003_audit",)]


def database_alembic(block, box):
    box.reset_app(RELEASES[2])
    alembic_at_head(box)
    (command,) = commands(block)
    ran_on_sandbox(box.sh(substitute(command, box)))
    assert box.sql("SELECT version_num FROM alembic_version") == [("0002_email",)]


def ssl_play(block, box):
    before = (box.path / "tls/app.crt").read_bytes()
    stats = ran_on_sandbox(box.play(block))
    assert stats["changed"] > 0
    assert (box.path / "tls/app.crt").read_bytes() == (box.path / "tls/app.crt.backup").read_bytes() != before
    served = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            "127.0.0.1:%d" % box.sandbox.nginx.https_port,
            "-servername",
            pki_mod.NAMES[0],
        ],
        input="",
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "BEGIN CERTIFICATE" in served
    fingerprint = box.pki["passphrase"].fingerprint
    leaf = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", served, re.S).group(0)
    assert pki_mod.fingerprint(pki_mod.x509.load_pem_x509_certificate(leaf.encode())) == fingerprint


def webhooks_setup(box):
    """The stand-ins serve the green URLs; vault/webhooks.yml holds the credentials."""
    box.stripe.endpoints.clear()
    box.stripe.add(GREEN % "stripe", ["charge.failed"], endpoint_id=STRIPE_ID)
    box.square.subscriptions.clear()
    box.square.add(GREEN % "square", ["payment.created"])
    vault = box.path / "plays" / "vault"
    vault.mkdir(parents=True, exist_ok=True)
    (vault / "webhooks.yml").write_text(
        json.dumps(
            {
                "webhooks_stripe_api_key": STRIPE_KEY,
                "webhooks_square_access_token": SQUARE_TOKEN,
                "webhooks_notify_slack_url": box.slack.hook_url,
            }
        )
    )


def webhooks_play(block, box):
    webhooks_setup(box)
    ran_on_sandbox(box.play(block))
    assert box.stripe.endpoints[STRIPE_ID]["url"] == BLUE % "stripe"
    assert sorted(box.stripe.endpoints[STRIPE_ID]["enabled_events"]) == ["charge.failed", "charge.succeeded"]
    assert [s["notification_url"] for s in box.square.subscriptions.values()] == [BLUE % "square"]
    assert box.slack.seen("POST"), "the rollback was not announced"


def webhooks_command(block, box):
    webhooks_setup(box)
    box.sandbox.write_services(
        webhooks_endpoints=[
            {"provider": "stripe", "endpoint_id": STRIPE_ID, "url": BLUE % "stripe", "api_base_url": box.stripe.url},
            {
                "provider": "square",
                "match_url": GREEN % "square",
                "url": BLUE % "square",
                "api_base_url": box.square.url,
            },
        ]
    )
    (command,) = commands(block)
    proc = box.sh(substitute(command, box))
    stats = ran_on_sandbox(proc)
    assert stats["changed"] > 0, "check mode shows no change to make"
    assert BLUE % "stripe" in proc.stdout and GREEN % "stripe" in proc.stdout, "no before/after diff"
    assert box.stripe.endpoints[STRIPE_ID]["url"] == GREEN % "stripe"
    assert [s["notification_url"] for s in box.square.subscriptions.values()] == [GREEN % "square"]


def stack_services(box):
    """What a production inventory's group_vars hold for the roles: the sandbox's services.json.
    The example's TLS site serves the `current` set; the good set is its *.backup. Returns the
    sandbox's own settings, to put back afterwards."""
    saved = dict(box.sandbox.vars)
    tls = box.path / "tls"
    tls_current(box)
    webhooks_setup(box)
    box.sandbox.write_services(
        ssl_cert_path=str(tls / "app.crt"),
        ssl_key_path=str(tls / "app.key"),
        ssl_src_cert=str(tls / "app.crt.backup"),
        ssl_src_key=str(tls / "app.key.backup"),
        ssl_key_passphrase=pki_mod.PASSPHRASE,
        ssl_expected_names=list(pki_mod.NAMES),
        cache_redis_enabled=True,
        cache_redis_password=REDIS_PASSWORD,
        cache_redis_patterns=["page:*"],
        webhooks_stripe_api_key=STRIPE_KEY,
        webhooks_endpoints=[
            {"provider": "stripe", "endpoint_id": STRIPE_ID, "url": BLUE % "stripe", "api_base_url": box.stripe.url}
        ],
    )
    return saved


def restore_services(box, saved):
    """The sandbox as the other examples expect it: their own settings, the `current` TLS set."""
    box.sandbox.vars.clear()
    box.sandbox.write_services(**saved)
    tls_current(box)


def readme_complete(block, box):
    complete, partial, by_service = [substitute(c, box) for c in commands(block)]
    saved = stack_services(box)
    tls = box.path / "tls"
    client = box.redis.client()
    journal = box.path / "state/journal.jsonl"
    try:
        # The complete run: every component back, verified, the hosts matched.
        box.reset_app(RELEASES[2])
        alembic_at_head(box)
        client.flushdb()
        client.mset({"page:1": "bad", "session:1": "keep"})
        assert box.health() == 500
        seen = len(journal.read_text().splitlines()) if journal.exists() else 0
        ran_on_sandbox(box.sh(complete), controller=True)
        assert box.live() == RELEASES[1] and box.health() == 200
        assert box.sql("SELECT version_num FROM alembic_version") == [("0002_email",)]
        assert (tls / "app.crt").read_bytes() == (tls / "app.crt.backup").read_bytes()
        assert sorted(k.decode() for k in client.keys("*")) == ["session:1"]
        assert box.stripe.endpoints[STRIPE_ID]["url"] == BLUE % "stripe"
        entries = [json.loads(line) for line in journal.read_text().splitlines()[seen:]]
        verdicts = {e["component"]: e["result"] for e in entries if e["action"] == "verify"}
        assert verdicts == dict.fromkeys(["database", "app", "ssl", "cache", "webhooks"], "ok"), verdicts

        # The partial run: app and cache only; the database, certificate and endpoint stay.
        box.reset_app(RELEASES[2])
        alembic_at_head(box)
        client.mset({"page:1": "bad"})
        box.stripe.endpoints[STRIPE_ID]["url"] = GREEN % "stripe"
        tls_before = (tls / "app.crt").read_bytes()
        seen = len(journal.read_text().splitlines())
        ran_on_sandbox(box.sh(partial), controller=True, unmatched=True)
        assert box.live() == RELEASES[1] and box.health() == 200
        assert sorted(k.decode() for k in client.keys("*")) == ["session:1"]
        assert box.sql("SELECT version_num FROM alembic_version") == [("0003_audit",)]
        assert (tls / "app.crt").read_bytes() == tls_before
        assert box.stripe.endpoints[STRIPE_ID]["url"] == GREEN % "stripe"
        entries = [json.loads(line) for line in journal.read_text().splitlines()[seen:]]
        assert {e["component"] for e in entries if e["action"] == "verify"} == {"app", "cache"}

        # By service: payments maps to the page keys here; nothing else of the stack moves.
        box.sandbox.write_services(rollback_service_map={"payments": {"cache_patterns": ["page:*"]}})
        client.mset({"page:1": "bad"})
        live, revision = box.live(), box.sql("SELECT version_num FROM alembic_version")
        seen = len(journal.read_text().splitlines())
        ran_on_sandbox(box.sh(by_service), controller=True, unmatched=True)
        assert sorted(k.decode() for k in client.keys("*")) == ["session:1"]
        assert box.live() == live and box.sql("SELECT version_num FROM alembic_version") == revision
        assert (tls / "app.crt").read_bytes() == tls_before
        entries = [json.loads(line) for line in journal.read_text().splitlines()[seen:]]
        assert {e["component"] for e in entries if e["action"] == "verify"} == {"cache"}
    finally:
        restore_services(box, saved)


def readme_service_map(block, box):
    """The map format the README shows is what the service_plan filter takes."""
    from ansible_collections.emergency.rollback.plugins.filter.service_plan import service_plan

    service_map = yaml.safe_load(block.text)["rollback_service_map"]
    endpoints = [{"name": "stripe payments", "provider": "stripe", "endpoint_id": STRIPE_ID, "url": BLUE % "stripe"}]
    plan = service_plan(service_map, ["payments"], endpoints=endpoints)
    assert plan["components"] == ["database", "app", "cache", "webhooks"], plan
    assert plan["vars"]["cache"]["cache_redis_patterns"] == ["payments:*", "checkout:*"], plan
    assert plan["vars"]["database"]["database_alembic_downgrade_to"] == "payments@-1", plan
    assert [e["name"] for e in plan["vars"]["webhooks"]["webhooks_endpoints"]] == ["stripe payments"], plan


def readme_snapshot(block, box):
    (command,) = commands(block)
    saved = stack_services(box)
    try:
        proc = box.sh(substitute(command, box))
        ran_on_sandbox(proc, controller=True, unmatched=True)
        point = re.search(r"recovery point (rp-\d{8}T\d{6}Z) taken at (\S+)", proc.stdout)
        assert point, proc.stdout[-3000:]
        manifest = json.loads((box.path / "state" / "recovery_points" / (point.group(1) + ".json")).read_text())
        text = json.dumps(manifest)
        # the live release, and a database dump proven by a test restore
        assert box.live() in text and '"verified": true' in text, manifest
    finally:
        restore_services(box, saved)


def tls_current(box):
    """The TLS site back at the `current` set the fixture installed."""
    tls = box.path / "tls"
    shutil.copyfile(box.pki["current"].fullchain, tls / "app.crt")
    shutil.copyfile(box.pki["current"].key, tls / "app.key")
    (tls / "app.key").chmod(0o600)
    box.sandbox.nginx.reload()


def traffic_role(box, name, **role_vars):
    """The traffic role alone on the loadbalancers group, with these variables."""
    role = {"role": "emergency.rollback.traffic", "vars": role_vars}
    play = {"name": name, "hosts": "loadbalancers", "gather_facts": False, "roles": [role]}
    return box.playbook(name, json.dumps([play]))


def traffic_site(box, block):
    """The README's set-up in its order: the role writes the include file (page off), then the site."""
    text = substitute(block.text, box)
    site = Path(re.match(r"# (\S+)\n", text).group(1))
    assert site.parent == box.sandbox.nginx.conf_d, site
    ran_on_sandbox(traffic_role(box, "traffic-page-off", traffic_maintenance=False))
    site.write_text(text)
    return site


def traffic_upstream(box):
    """The sandbox back to blue live, the site answering from blue."""
    _blue_live(box.sandbox.nginx, box.backends)
    box.sandbox.nginx.reload()


def traffic_snippet(block, box):
    traffic_upstream(box)
    traffic_site(box, block)
    test = box.sandbox.nginx.test_config()
    assert test.returncode == 0, test.stderr
    box.sandbox.nginx.reload()
    assert box.lb_wait(lambda a: a[0] == 200)[2] in ("blue 1", "blue 2")
    # The include turned on by the role: 503 with Retry-After (the role's default 300 s) ...
    ran_on_sandbox(traffic_role(box, "traffic-page-on", traffic_maintenance=True))
    status, retry_after, _body = box.lb_wait(lambda a: a[0] == 503)
    assert (status, retry_after) == (503, "300")
    # ... and off again: the site serves.
    ran_on_sandbox(traffic_role(box, "traffic-page-off", traffic_maintenance=False))
    assert box.lb_wait(lambda a: a[0] == 200)[:2] == (200, None)


def traffic_play(block, box):
    (snippet,) = [b for b in all_blocks() if check_of(b) == ("roles/traffic/README.md", "include /etc/nginx/snippets/")]
    traffic_upstream(box)
    traffic_site(box, snippet)
    assert box.lb_wait(lambda a: a[0] == 200)[2] in ("blue 1", "blue 2")
    journal = box.path / "state/journal.jsonl"
    seen = len(journal.read_text().splitlines()) if journal.exists() else 0
    # Two plays around the comment standing for the rest of the rollback: each runs as printed.
    page_on, restore = block.text.split("\n# ... roll back the database and the app hosts ...\n")

    ran_on_sandbox(box.playbook("traffic-example-page-on", substitute(page_on, box)))
    status, retry_after, _body = box.lb_wait(lambda a: a[0] == 503)
    assert (status, retry_after) == (503, "300")
    assert box.lb_get("/healthz") == (200, None, "ok"), "the health check path does not pass through"

    ran_on_sandbox(box.playbook("traffic-example-restore", substitute(restore, box)))
    assert box.lb_wait(lambda a: a[0] == 200)[:2] == (200, None), "the page is still on"
    assert {box.lb_get()[2] for _ in range(20)} == {"green 1", "green 2"}
    upstream = (box.sandbox.nginx.conf_d / "emergency-rollback-upstream.conf").read_text()
    for port in box.backends["blue"]:
        assert "server 127.0.0.1:%d down;" % port in upstream, upstream
    entries = [json.loads(line) for line in journal.read_text().splitlines()[seen:]]
    assert [e["to"] for e in entries if e["action"] == "weights"] == [
        {"blue": 75, "green": 25},
        {"blue": 50, "green": 50},
        {"blue": 25, "green": 75},
        {"blue": 0, "green": 100},
    ]
    assert [e["action"] for e in entries if e["action"].startswith("maintenance_")] == [
        "maintenance_on",
        "maintenance_off",
    ]


# {(file, words only that block contains): its check}. Keyed by content, not position, so blocks
# added around an example (hooks, tags) do not move its check.
CHECKS = {
    ("README.md", "make demo"): readme_make,
    ("README.md", "module_defaults:"): readme_module_defaults,
    ("README.md", "ansible-galaxy collection install"): readme_install,
    ("README.md", "rollbackctl run verify"): readme_rollbackctl,
    ("README.md", "emergency.rollback.rollback_complete"): readme_complete,
    ("README.md", "rollback_service_map:"): readme_service_map,
    ("README.md", "emergency.rollback.snapshot -i"): readme_snapshot,
    ("roles/app/README.md", "- role: emergency.rollback.app"): app_play,
    ("roles/app/README.md", "rollbackctl run app"): app_commands,
    ("roles/cache/README.md", "- role: emergency.rollback.cache"): cache_play,
    ("roles/database/README.md", "- role: emergency.rollback.database"): database_play,
    ("roles/database/README.md", "database_restore_snapshot=previous"): database_previous,
    ("roles/database/README.md", "database_alembic_downgrade_to=-1"): database_alembic,
    ("roles/ssl/README.md", "- role: emergency.rollback.ssl"): ssl_play,
    ("roles/traffic/README.md", "include /etc/nginx/snippets/"): traffic_snippet,
    ("roles/traffic/README.md", "- role: emergency.rollback.traffic"): traffic_play,
    ("roles/webhooks/README.md", "- role: emergency.rollback.webhooks"): webhooks_play,
    ("roles/webhooks/README.md", "rollback_webhooks -i inventory"): webhooks_command,
}

# Examples that fail only because another branch's work has not landed yet: {CHECKS key: reason}.
PENDING = {}


def check_of(block):
    """The one CHECKS key whose words are in this block (None when there is none or several)."""
    keys = [key for key in CHECKS if key[0] == str(block.path.relative_to(REPO)) and key[1] in block.text]
    return keys[0] if len(keys) == 1 else None


def test_every_block_has_a_check():
    blocks = all_blocks()
    assert [b.id for b in blocks if check_of(b) is None] == [], "blocks without exactly one check"
    assert sorted(check_of(b) for b in blocks) == sorted(CHECKS), "checks without exactly one block"


def test_readme_lists_the_placeholders_the_tests_use():
    table = (REPO / "README.md").read_text().split("### Placeholders in the examples", 1)[1].split("\n### ", 1)[0]
    rows = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    shown = {word for row in rows for word in re.findall(r"`([^`]+)`", row)}
    assert set(PLACEHOLDERS) <= shown, set(PLACEHOLDERS) - shown


@pytest.mark.parametrize("block", all_blocks(), ids=lambda b: b.id)
def test_example(block, box, request):
    key = check_of(block)
    assert key, "no check for this block: add one to CHECKS"
    if key in PENDING:
        request.applymarker(pytest.mark.xfail(strict=True, reason=PENDING[key]))
    CHECKS[key](block, box)
