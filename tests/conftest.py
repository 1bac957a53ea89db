"""Shared fixtures: the collection on sys.path, throwaway real services, playbook runs."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from tests.harness import services
from tests.harness.ansible import four_runs, link_collection, run_playbook, run_task

# Unit tests import plugins as ansible_collections.emergency.rollback.*
sys.path.insert(0, str(link_collection()))


@pytest.fixture
def state_dir(tmp_path):
    """A per-test state dir (journal, snapshots, lock) in place of /var/lib/emergency-rollback."""
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs (root only) whose fill() leaves no byte free: a state dir that runs full."""
    disk = services.SmallDisk(tmp_path / "small-disk")
    if not disk.mount():
        pytest.skip("mounting a tmpfs needs root")
    yield disk
    disk.umount()


@pytest.fixture(scope="session")
def postgres():
    # Outside pytest's basetemp: that tree is 0700 and the server runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="rollback-pg-"))
    os.chmod(base, 0o711)
    server = services.start_postgres(base / "server")
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = services.start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_factory(tmp_path_factory):
    """Start extra Redis servers (e.g. with a password); all are stopped after the test."""
    started = []

    def start(password=None):
        server = services.start_redis(tmp_path_factory.mktemp("redis"), password=password)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def nginx_factory(tmp_path_factory):
    """nginx_factory(server_blocks) -> a running NginxServer; stopped after the test.

    server_blocks is a format string; {http_port}, {https_port} and {prefix} are filled in.
    """
    started = []

    def start(server_blocks, run=True):
        server = services.new_nginx(tmp_path_factory.mktemp("nginx"))
        server.prepare(
            server_blocks.format(http_port=server.http_port, https_port=server.https_port, prefix=server.prefix)
        )
        started.append(server)
        return server.start() if run else server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def playbook(tmp_path):
    """playbook(plays_or_path, **kw) -> PlaybookRun, in a fresh private data dir."""

    def run(plays, **kwargs):
        return run_playbook(tmp_path, plays, **kwargs)

    return run


@pytest.fixture
def four(tmp_path):
    """four(module, args, expect=...) -> the results of check, real, check again, real again."""

    def run(module, args, **kwargs):
        return four_runs(tmp_path, module, args, **kwargs)

    return run


@pytest.fixture
def task(tmp_path):
    """task(module, args, check=False) -> (event, result, run) of one task run once."""

    def run(module, args, **kwargs):
        return run_task(tmp_path, module, args, **kwargs)

    return run


@pytest.fixture(scope="session")
def metrics_app():
    """A tiny app exporting an error rate and a p95 latency the test sets (MetricsApp.values)."""
    from tests.harness.monitoring import MetricsApp

    app = MetricsApp().start()
    yield app
    app.stop()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory, metrics_app):
    """A real Prometheus scraping metrics_app every half second."""
    from tests.harness.monitoring import Prometheus

    server = Prometheus(tmp_path_factory.mktemp("prometheus"), ["127.0.0.1:%d" % metrics_app.port]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory):
    from tests.harness.monitoring import Alertmanager

    server = Alertmanager(tmp_path_factory.mktemp("alertmanager")).start()
    yield server
    server.stop()
