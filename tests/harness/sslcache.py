"""Fixtures of the ssl and cache components: a PKI, nginx serving TLS from live files,
a throwaway memcached, and a local HTTP server standing in for a CDN purge API.

Test modules import the fixtures they use: `from tests.harness.sslcache import pki, tls_site`.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness import pki as pki_mod
from tests.harness import services

SITE = """\
server {{{{
    listen 127.0.0.1:{{http_port}};
    return 200 "plain\\n";
}}}}
server {{{{
    listen 127.0.0.1:{{https_port}} ssl;
    server_name {names};
    ssl_certificate {live}/fullchain.pem;
    ssl_certificate_key {live}/privkey.pem;
    ssl_trusted_certificate {live}/chain.pem;
    {extra}
    return 200 "tls\\n";
}}}}
"""


@dataclass
class TlsSite:
    """nginx serving TLS on https_port from the live files in `live` (fullchain, privkey, chain)."""

    nginx: services.NginxServer
    live: Path
    pki: pki_mod.PKI
    extra_conf: str = ""
    cert: Path = field(init=False)
    key: Path = field(init=False)
    chain: Path = field(init=False)

    def __post_init__(self):
        self.cert = self.live / "fullchain.pem"
        self.key = self.live / "privkey.pem"
        self.chain = self.live / "chain.pem"

    def files(self):
        """The live files' bytes (to assert they are byte-identical after a refusal)."""
        return {p.name: p.read_bytes() for p in (self.cert, self.key, self.chain)}

    @property
    def test_command(self):
        return [str(x) for x in self.nginx.argv("-t")]

    @property
    def reload_command(self):
        return [str(x) for x in self.nginx.argv("-s", "reload")]

    def args(self, **extra):
        """cert_rollback options for this site."""
        args = {
            "cert_path": str(self.cert),
            "key_path": str(self.key),
            "chain_path": str(self.chain),
            "ca_path": str(self.pki.ca),
            "expected_names": list(pki_mod.NAMES),
            "test_command": self.test_command,
        }
        args.update(extra)
        return args

    def probe_args(self, **extra):
        args = {
            "host": "127.0.0.1",
            "port": self.nginx.https_port,
            "server_name": pki_mod.NAMES[0],
            "ca_path": str(self.pki.ca),
        }
        args.update(extra)
        return args

    def write_conf(self, extra=""):
        self.nginx.write_site(
            "site",
            site_conf(self.live, extra).format(
                http_port=self.nginx.http_port, https_port=self.nginx.https_port, prefix=self.nginx.prefix
            ),
        )


def ssl_vars(site, state_dir, cert_set, **extra):
    """The ssl role's variables for a TlsSite, restoring cert_set."""
    values = {
        "rollback_hosts": "all",
        "ssl_state_dir": str(state_dir),
        "ssl_cert_path": str(site.cert),
        "ssl_key_path": str(site.key),
        "ssl_chain_path": str(site.chain),
        "ssl_src_cert": str(cert_set.fullchain),
        "ssl_src_key": str(cert_set.key),
        "ssl_src_chain": str(cert_set.chain),
        "ssl_ca_path": str(site.pki.ca),
        "ssl_expected_names": list(pki_mod.NAMES),
        "ssl_test_command": site.test_command,
        "ssl_reload_command": site.reload_command,
        "ssl_probe_port": site.nginx.https_port,
        "ssl_probe_retries": 10,
        "ssl_probe_delay": 0.2,
    }
    values.update(extra)
    return values


def site_conf(live, extra=""):
    return SITE.format(names=" ".join(pki_mod.NAMES), live=live, extra=extra)


def install_set(live, cert_set):
    live.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cert_set.fullchain, live / "fullchain.pem")
    shutil.copyfile(cert_set.key, live / "privkey.pem")
    (live / "privkey.pem").chmod(0o600)
    shutil.copyfile(cert_set.chain, live / "chain.pem")


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A root CA, an intermediate, and leaf sets good and bad (see tests/harness/pki.py)."""
    return pki_mod.build(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_site(nginx_factory, pki, tmp_path):
    """A real nginx serving the `current` set over TLS from tmp_path/live."""
    live = tmp_path / "live"
    install_set(live, pki["current"])
    nginx = nginx_factory(site_conf(live))
    return TlsSite(nginx=nginx, live=live, pki=pki)


# --- memcached ---------------------------------------------------------------------------------


@dataclass
class Memcached:
    port: int
    proc: subprocess.Popen
    host: str = "127.0.0.1"

    def command(self, line):
        """Send one text-protocol command; returns the reply up to its terminator."""
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(line.encode() + b"\r\n")
            data = b""
            while not data.endswith((b"END\r\n", b"OK\r\n", b"STORED\r\n", b"ERROR\r\n")):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode()

    def set(self, key, value):
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(value), value.encode()))
            assert sock.recv(64) == b"STORED\r\n"

    def get(self, key):
        reply = self.command("get %s" % key)
        return None if reply == "END\r\n" else reply.split("\r\n")[1]


@pytest.fixture(scope="session")
def memcached(tmp_path_factory):
    binary = shutil.which("memcached") or "/usr/bin/memcached"
    port = services.free_port()
    argv = [binary, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "16"]
    if hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0:
        argv += ["-u", "root"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    services.wait_for_port(port, proc=proc)
    yield Memcached(port=port, proc=proc)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- a CDN purge API ---------------------------------------------------------------------------


@dataclass
class PurgeServer:
    """Records every request (method, path, headers, body); answers 200, or 500 under /fail."""

    port: int
    requests: list
    server: http.server.ThreadingHTTPServer

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start_purge_server():
    """A PurgeServer answering on a free port; .stop() shuts it down."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body.decode()}
            )
            payload = json.dumps({"status": "ok", "id": "purge-%d" % len(requests)}).encode()
            self.send_response(500 if self.path.startswith("/fail") else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_PURGE = do_DELETE = do_GET = do_PUT = _handle

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server = PurgeServer(port=httpd.server_address[1], requests=requests, server=httpd)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def purge_server():
    server = start_purge_server()
    yield server
    server.stop()
