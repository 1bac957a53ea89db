"""A private Docker engine: Debian's dockerd on its own socket, data-root and containerd namespace.

It never touches the host's network set-up (no iptables rules, no bridge, no ip_forward), so
podman's container networks on the same machine keep working; containers use the host network.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

DOCKER = "/usr/bin/docker"  # Debian's CLI, which may not be first on PATH
BASE = "localhost/rollback-base:bookworm"
NEEDED = ("/usr/sbin/dockerd", DOCKER, "/usr/bin/docker-compose")


class DockerdUnavailable(Exception):
    pass


class Dockerd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rb-dockerd.", dir="/var/tmp")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.host = "unix://" + self.sock
        self.log = os.path.join(self.dir, "dockerd.log")
        # containerd accepts only [A-Za-z0-9]+ runs joined by single . _ or -: mkdtemp's suffix may
        # start or end with "_" (about 6% of names), and then every container start is refused.
        self.namespace = "rb-dockerd-" + uuid.uuid4().hex[:12]
        self.proc = None

    def argv(self):
        return [
            "/usr/sbin/dockerd",
            "--host=" + self.host,
            "--data-root=" + os.path.join(self.dir, "data"),
            "--exec-root=" + os.path.join(self.dir, "exec"),
            "--pidfile=" + os.path.join(self.dir, "dockerd.pid"),
            "--containerd-namespace=" + self.namespace,
            "--containerd-plugins-namespace=" + self.namespace + "-plugins",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--bridge=none",
        ]

    def start(self, timeout=60):
        missing = [path for path in NEEDED if not os.path.exists(path)]
        if missing:
            raise FileNotFoundError("missing %s: make deps installs docker.io and docker-compose" % ", ".join(missing))
        if os.geteuid() != 0:
            raise DockerdUnavailable("dockerd needs root")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DockerdUnavailable("dockerd exited (rc=%s): %s" % (self.proc.returncode, self.tail()))
            if self.run("version", check=False).returncode == 0:
                return self
            time.sleep(0.3)
        raise DockerdUnavailable("dockerd did not answer within %ss: %s" % (timeout, self.tail()))

    def tail(self):
        with open(self.log, errors="replace") as log:
            return " | ".join(log.read().strip().splitlines()[-3:])

    def env(self):
        return dict(os.environ, DOCKER_HOST=self.host)

    def run(self, *args, check=True, input=None):
        return subprocess.run(
            [DOCKER, *args], env=self.env(), check=check, capture_output=True, input=input, text=input is None
        )

    def docker(self, *args):
        return self.run(*args).stdout.strip()

    def load_from_podman(self, ref):
        """An image of podman's store (the locally built base image) into this engine."""
        saved = subprocess.run(["podman", "save", ref], check=True, capture_output=True).stdout
        subprocess.run([DOCKER, "load", "-q"], env=self.env(), input=saved, check=True, capture_output=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # dockerd leaves its network namespace and overlay mounts behind under its directories
        with open("/proc/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(self.dir + "/")]
        for point in sorted(points, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def podman(*args):
    return subprocess.run(["podman", *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def dockerd():
    """Debian's dockerd on a private socket, with the base image loaded from podman's store.

    Skips, saying why, where dockerd cannot start; fails where it is not installed.
    """
    # One private dockerd at a time on this machine: two (test files on two xdist workers) would
    # create their compose networks on the same default subnet.
    lock = open("/var/tmp/rb-dockerd.lock", "w")  # noqa: SIM115 - held for the fixture's life
    fcntl.flock(lock, fcntl.LOCK_EX)
    engine = Dockerd()
    try:
        engine.start()
    except DockerdUnavailable as err:
        engine.stop()
        lock.close()
        pytest.skip("no Docker engine on this machine: %s" % err)
    try:
        engine.load_from_podman(BASE)
        yield engine
    finally:
        engine.stop()
        lock.close()


class Engine:
    """The CLI calls the test makes itself, for one engine."""

    def __init__(self, name, dockerd=None):
        self.name, self.dockerd = name, dockerd

    def __call__(self, *args):
        if self.dockerd:
            return self.dockerd.docker(*args)
        return podman(*args)

    def image_id(self, ref):
        image = self("image", "inspect", "--format", "{{.Id}}", ref)
        return image.split(":", 1)[1] if image.startswith("sha256:") else image

    def envvars(self, tmp_path):
        """Ansible's environment: with docker, the private socket and Debian's CLI first on PATH."""
        if not self.dockerd:
            return {}
        bin_dir = tmp_path / "docker-bin"
        bin_dir.mkdir(exist_ok=True)
        if not (bin_dir / "docker").exists():
            (bin_dir / "docker").symlink_to(DOCKER)
        path = "%s:%s:%s" % (bin_dir, os.path.dirname(sys.executable), os.environ.get("PATH", ""))
        return {"DOCKER_HOST": self.dockerd.host, "PATH": path}
