"""A real Prometheus and Alertmanager (Debian's binaries) and a tiny app whose metrics a test sets.

Each server runs on a free loopback port with its own config and data dir, and is stopped at the
end. Prometheus scrapes the app every 0.5 s, so a value a test sets is queryable about a second later.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.harness.services import free_port, wait_for_port

SCRAPE_S = 0.5


class MetricsApp:
    """Exports app_error_rate_pct and app_latency_p95_seconds in Prometheus' text format.

    `values` is what the next scrape sees; a metric set to None is not exported (no data).
    """

    def __init__(self):
        self.values = {"app_error_rate_pct": 0.2, "app_latency_p95_seconds": 0.3}
        self.scrapes = 0
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):  # noqa: N802 - the http.server API
                lines = []
                for name, value in sorted(app.values.items()):
                    if value is not None:
                        lines += ["# TYPE %s gauge" % name, "%s %s" % (name, value)]
                body = ("\n".join(lines) + "\n").encode()
                app.scrapes += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class _Server:
    binary = ""

    def __init__(self, base):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = self.base / "server.log"
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def argv(self):
        raise NotImplementedError

    def start(self):
        path = shutil.which(self.binary)
        if not path:
            raise RuntimeError("%s is not installed: run `make deps` (apt-get install) first" % self.binary)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([path, *self.argv()], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=30, proc=self.proc, log=self.log)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("%s not ready within %ss" % (self.binary, timeout))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Prometheus(_Server):
    binary = "prometheus"

    def __init__(self, base, targets, rules=None, alertmanager=None):
        """rules: alerting rules (one group, evaluated every second); alertmanager: where they go."""
        super().__init__(base)
        config = {
            "global": {"scrape_interval": "%dms" % (SCRAPE_S * 1000), "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "app", "static_configs": [{"targets": list(targets)}]}],
        }
        if rules:
            (self.base / "rules.yml").write_text(json.dumps({"groups": [{"name": "test", "rules": list(rules)}]}))
            config["rule_files"] = [str(self.base / "rules.yml")]
        if alertmanager:
            targets = [alertmanager.url.split("://", 1)[1]]
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": targets}]}]}
        (self.base / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML

    def argv(self):
        return [
            "--config.file=%s" % (self.base / "prometheus.yml"),
            "--storage.tsdb.path=%s" % (self.base / "data"),
            "--web.listen-address=127.0.0.1:%d" % self.port,
            "--web.enable-lifecycle",
        ]

    def query(self, expr):
        url = "%s/api/v1/query?%s" % (self.url, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=5) as reply:
            return json.load(reply)["data"]["result"]

    def wait_for(self, expr, predicate, timeout=20):
        """Wait until the query's first value satisfies predicate (None when there is no data)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            result = self.query(expr)
            value = float(result[0]["value"][1]) if result else None
            if predicate(value):
                return value
            time.sleep(0.2)
        raise AssertionError("%s stayed at %r for %ss" % (expr, value, timeout))


class Alertmanager(_Server):
    binary = "prometheus-alertmanager"

    def __init__(self, base, config=None):
        """config: the alertmanager.yml to run with; by default a route to nowhere."""
        super().__init__(base)
        self.cluster_port = free_port()
        config = config or {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}
        (self.base / "alertmanager.yml").write_text(json.dumps(config))

    def argv(self):
        return [
            "--config.file=%s" % (self.base / "alertmanager.yml"),
            "--storage.path=%s" % (self.base / "data"),
            "--web.listen-address=127.0.0.1:%d" % self.port,
            # A lone instance: no gossip with anything else on the machine.
            "--cluster.listen-address=",
        ]

    def silences(self):
        with urllib.request.urlopen(self.url + "/api/v2/silences", timeout=5) as reply:
            return json.load(reply)


def error_rate_analysis(prometheus, **extra):
    """Options of the analysis module: app_error_rate_pct below 1 passes, 5 or more fails, twice 0.3 s apart."""
    options = {
        "prometheus_url": prometheus.url,
        "interval": "0.3s",
        "count": 2,
        "metrics": [
            {
                "name": "error_rate",
                "query": "app_error_rate_pct",
                "success_condition": "result < 1",
                "failure_condition": "result >= 5",
            }
        ],
    }
    options.update(extra)
    return options
