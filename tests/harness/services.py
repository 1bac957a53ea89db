"""Throwaway real services for tests: PostgreSQL, Redis, nginx.

Each starts from Debian's binaries on a free loopback port in a temp dir and is
stopped at the end. Nothing here ever talks to a server that was already running.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.fill import fill

PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=20.0, host="127.0.0.1", proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening on %d%s" % (proc.returncode, port, _tail(log)))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listened on %s:%d within %.0fs%s" % (host, port, timeout, _tail(log)))


def _tail(log):
    if log and Path(log).exists():
        return "\n--- %s ---\n%s" % (log, Path(log).read_text(errors="replace")[-2000:])
    return ""


def _require(binary):
    path = shutil.which(binary) or next((str(p / binary) for p in PG_BIN_CANDIDATES if (p / binary).exists()), None)
    if not path:
        raise RuntimeError("%s is not installed: run `make deps` (apt-get install) first" % binary)
    return path


# --- PostgreSQL --------------------------------------------------------------------------


@dataclass
class PostgresServer:
    base: Path
    port: int
    password: str
    bin_dir: Path
    host: str = "127.0.0.1"
    user: str = "postgres"
    log: Path = field(init=False)

    def __post_init__(self):
        self.data = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.log = self.base / "postgres.log"

    @property
    def as_postgres(self):
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, argv, **kwargs):
        return subprocess.run(self.as_postgres + argv, check=True, capture_output=True, text=True, **kwargs)

    def start(self):
        self.base.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            for path in (self.base, self.socket_dir, pwfile):
                os.chown(path, pg.pw_uid, pg.pw_gid)
            # the temp dirs above us must be traversable by the postgres user
            for parent in self.base.parents:
                if str(parent).startswith(("/tmp/", "/var/tmp/")) and parent.stat().st_mode & 0o001 == 0:
                    os.chmod(parent, parent.stat().st_mode | 0o711)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        pwfile.unlink()
        opts = (
            "-p %d -k %s -c listen_addresses=%s -c fsync=off -c full_page_writes=off "
            "-c synchronous_commit=off -c max_connections=50 -c shared_buffers=64MB"
            % (self.port, self.socket_dir, self.host)
        )
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        return self

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                self.as_postgres
                + [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                check=False,
                capture_output=True,
            )

    def dsn(self, dbname="postgres"):
        return "host=%s port=%d user=%s password=%s dbname=%s" % (
            self.host,
            self.port,
            self.user,
            self.password,
            dbname,
        )

    def params(self, dbname="postgres"):
        """Connection options in the shape the collection's PostgreSQL modules take."""
        return {
            "login_host": self.host,
            "login_port": self.port,
            "login_user": self.user,
            "login_password": self.password,
            "database": dbname,
        }

    def psql(self, sql, dbname="postgres"):
        """Run SQL through the real psql client (ON_ERROR_STOP); returns stdout rows."""
        env = dict(os.environ, PGPASSWORD=self.password)
        out = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                dbname,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return out.stdout.strip()


def start_postgres(base):
    bin_dir = Path(_require("pg_ctl")).resolve().parent
    server = PostgresServer(base=Path(base), port=free_port(), password=secrets.token_urlsafe(12), bin_dir=bin_dir)
    return server.start()


# --- Redis ---------------------------------------------------------------------------------


@dataclass
class RedisServer:
    base: Path
    port: int
    password: str | None = None
    proc: subprocess.Popen | None = None
    host: str = "127.0.0.1"

    def start(self):
        self.base.mkdir(parents=True, exist_ok=True)
        log = self.base / "redis.log"
        argv = [
            _require("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.base),
            "--logfile",
            str(log),
        ]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc, log=log)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def client(self, db=0):
        import redis

        return redis.Redis(host=self.host, port=self.port, password=self.password, db=db)


def start_redis(base, password=None):
    return RedisServer(base=Path(base), port=free_port(), password=password).start()


# --- nginx ---------------------------------------------------------------------------------

NGINX_MAIN = """\
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type text/plain;
    include {prefix}/conf.d/*.conf;
}}
"""


@dataclass
class NginxServer:
    """An nginx of our own: conf, pid, logs and temp paths all under prefix."""

    prefix: Path
    http_port: int
    https_port: int
    proc: subprocess.Popen | None = None

    @property
    def conf(self):
        return self.prefix / "nginx.conf"

    @property
    def conf_d(self):
        return self.prefix / "conf.d"

    def prepare(self, server_blocks=""):
        for sub in ("logs", "tmp", "conf.d"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        user = "user root root;" if os.geteuid() == 0 else ""
        self.conf.write_text(NGINX_MAIN.format(prefix=self.prefix, user=user))
        if server_blocks:
            self.write_site("site", server_blocks)
        return self

    def write_site(self, name, text):
        (self.conf_d / ("%s.conf" % name)).write_text(text)

    def argv(self, *extra):
        return [
            _require("nginx"),
            "-p",
            str(self.prefix),
            "-c",
            str(self.conf),
            "-e",
            str(self.prefix / "logs" / "error.log"),
            *extra,
        ]

    def test_config(self):
        return subprocess.run(self.argv("-t"), check=False, capture_output=True, text=True)

    def start(self):
        check = self.test_config()
        if check.returncode != 0:
            raise RuntimeError("nginx -t failed:\n%s" % check.stderr)
        self.proc = subprocess.Popen(self.argv("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(self.http_port, proc=self.proc, log=self.prefix / "logs" / "error.log")
        return self

    def reload(self):
        subprocess.run(self.argv("-s", "reload"), check=True, capture_output=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def new_nginx(prefix):
    return NginxServer(prefix=Path(prefix), http_port=free_port(), https_port=free_port())


@dataclass
class SmallDisk:
    """A tiny tmpfs: fill() writes until not one byte is left (ENOSPC for every later write)."""

    path: Path
    size: str = "1m"
    mounted: bool = False

    def mount(self):
        self.path.mkdir(parents=True, exist_ok=True)
        argv = ["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % self.size, "small-disk", str(self.path)]
        self.mounted = os.geteuid() == 0 and subprocess.run(argv, capture_output=True, check=False).returncode == 0
        return self.mounted

    def fill(self):
        fill(self.path / ".fill")

    def umount(self):
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)
            self.mounted = False
