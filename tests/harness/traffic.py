"""Fixtures of the traffic component: a real nginx load balancer in front of two backend pools,
and a client loop that counts its answers while maintenance and weights change.

Test modules import the fixtures they use: `from tests.harness.traffic import lb`.
"""

from __future__ import annotations

import collections
import http.client
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness import services

# Backends are server blocks of the same nginx (robust, and reloaded with it); the load
# balancer's server block includes the maintenance file and proxies to the managed upstream.
SITE = """\
server {{{{
    listen 127.0.0.1:{blue};
    return 200 "blue\\n";
}}}}
server {{{{
    listen 127.0.0.1:{green};
    location = /healthz {{{{ return 200 "ok\\n"; }}}}
    location = /broken {{{{ return 500 "broken\\n"; }}}}
    location / {{{{ return 200 "green\\n"; }}}}
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

# Not our module's format: the module must read weights from a hand-written upstream too.
UPSTREAM = """\
upstream app {{
    server 127.0.0.1:{blue} weight=1;
    server 127.0.0.1:{green} down;
}}
"""


@dataclass
class LoadBalancer:
    nginx: services.NginxServer
    blue: int
    green: int
    upstream: Path
    maintenance: Path

    @property
    def pools(self):
        return {"blue": ["127.0.0.1:%d" % self.blue], "green": ["127.0.0.1:%d" % self.green]}

    @property
    def commands(self):
        return {
            "test_command": [str(x) for x in self.nginx.argv("-t")],
            "reload_command": [str(x) for x in self.nginx.argv("-s", "reload")],
        }

    def weights_args(self, weights, **extra):
        args = {"path": str(self.upstream), "upstream": "app", "pools": self.pools, "weights": weights}
        return {**args, **self.commands, **extra}

    def maintenance_args(self, **extra):
        return {"path": str(self.maintenance), **self.commands, **extra}

    def get(self, path="/", headers=None):
        """(status, headers, body) of one request to the load balancer, on a new connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx.http_port, timeout=5)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode()
        finally:
            conn.close()

    def wait_for(self, predicate, timeout=5.0):
        """Poll until predicate(get()) holds (a reload swaps workers within milliseconds)."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.get()
            if predicate(answer) or time.monotonic() > deadline:
                return answer
            time.sleep(0.05)


@pytest.fixture
def lb(nginx_factory, tmp_path):
    """nginx on a free port balancing `app` over a blue and a green backend, maintenance off."""
    blue, green = services.free_port(), services.free_port()
    maintenance = tmp_path / "maintenance.conf"
    maintenance.write_text("# maintenance: off\n")
    server = nginx_factory(SITE.format(blue=blue, green=green, maintenance=maintenance), run=False)
    upstream = server.conf_d / "upstream.conf"
    upstream.write_text(UPSTREAM.format(blue=blue, green=green))
    server.start()
    services.wait_for_port(blue)
    services.wait_for_port(green)
    return LoadBalancer(nginx=server, blue=blue, green=green, upstream=upstream, maintenance=maintenance)


@dataclass
class Answer:
    at: float
    status: int | None
    retry_after: str | None
    body: str
    error: str | None


@dataclass
class ClientLoop:
    """Requests to the load balancer in a thread, one connection each, until stop()."""

    lb: LoadBalancer
    answers: list = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self):
        while not self._stop.is_set():
            at = time.monotonic()
            try:
                status, headers, body = self.lb.get()
                self.answers.append(Answer(at, status, headers.get("Retry-After"), body.strip(), None))
            except OSError as err:
                self.answers.append(Answer(at, None, None, "", repr(err)))
            time.sleep(0.005)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def between(self, start, end):
        return [a for a in self.answers if start <= a.at < end]

    @staticmethod
    def count(answers):
        return collections.Counter(a.error or a.status for a in answers)
