"""The throwaway services are real, ours, and stop when asked."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from tests.harness import services
from tests.harness.dockerd import Dockerd

pytestmark = pytest.mark.integration


def test_postgres_is_ours_and_needs_the_password(postgres):
    import psycopg

    with psycopg.connect(postgres.dsn()) as conn:
        row = conn.execute("SELECT current_setting('port')::int, current_setting('data_directory')").fetchone()
    assert row == (postgres.port, str(postgres.data))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.dsn().replace(postgres.password, "wrong"))
    assert postgres.psql("SELECT 40 + 2") == "42"


def test_redis_is_ours_without_persistence(redis_server, redis_factory):
    client = redis_server.client()
    assert client.ping() is True
    assert client.config_get("save")["save"] == ""
    secured = redis_factory(password="s3cret-pass")
    import redis

    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=secured.port).ping()
    assert secured.client().ping() is True


def test_nginx_serves_and_stops(nginx_factory):
    import urllib.request

    nginx = nginx_factory("server {{ listen 127.0.0.1:{http_port}; location / {{ return 200 'hi from {prefix}'; }} }}")
    body = urllib.request.urlopen("http://127.0.0.1:%d/" % nginx.http_port, timeout=5).read().decode()
    assert body == "hi from %s" % nginx.prefix
    nginx.write_site("broken", "server { listen 127.0.0.1:1; ssl_certificate /nonexistent.pem; }")
    assert nginx.test_config().returncode != 0
    nginx.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:%d/" % nginx.http_port, timeout=2)


def test_free_port_is_free():
    port = services.free_port()
    out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True, check=False).stdout
    assert ":%d " % port not in out


def test_private_dockerd_namespaces_are_ones_containerd_accepts():
    """containerd refuses every container start in a namespace outside this pattern (identifiers.Validate).

    Names derived from mkdtemp's suffix broke about one dockerd in 17 in make test.
    """
    valid = re.compile(r"^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$")
    engines = [Dockerd() for _ in range(200)]
    try:
        flags = [arg.split("=", 1)[1] for e in engines for arg in e.argv() if arg.startswith("--containerd")]
    finally:
        for engine in engines:
            shutil.rmtree(engine.dir)
    assert len(flags) == 400
    assert [name for name in flags if not valid.match(name)] == []


def test_eda_harness_kills_what_left_the_rulebooks_process_group(tmp_path):
    # a playbook started by ansible-runner runs in a session of its own: a process group kill misses it
    from tests.harness.eda import MARK, kill_marked

    marked = subprocess.Popen(["sleep", "60"], env={MARK: str(tmp_path)}, start_new_session=True)
    other = subprocess.Popen(["sleep", "60"], env={MARK: str(tmp_path / "other")}, start_new_session=True)
    try:
        time.sleep(0.2)  # exec done: /proc/<pid>/environ is sleep's
        assert kill_marked(str(tmp_path)) == [marked.pid]
        assert marked.wait(timeout=5) == -9
        assert other.poll() is None
    finally:
        for proc in (marked, other):
            proc.kill()
            proc.wait()
