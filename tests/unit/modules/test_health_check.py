from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.emergency.rollback.plugins.modules import health_check
from tests.harness.modules import run


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first `fail_first` requests, then 200 with a JSON body."""

    calls = 0
    fail_first = 0

    def do_GET(self):
        type(self).calls += 1
        code = 503 if type(self).calls <= type(self).fail_first else 200
        body = b'{"status": "ok"}'
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def server():
    Flaky.calls = 0
    Flaky.fail_first = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


def url(srv):
    return "http://127.0.0.1:%d/health" % srv.server_address[1]


def test_recovers_after_failures_and_journals(server, tmp_path):
    Flaky.fail_first = 2
    ok, res = run(
        health_check,
        {
            "url": [url(server)],
            "attempts": 6,
            "interval": 0,
            "consecutive": 2,
            "state_dir": str(tmp_path),
            "run_id": "r1",
        },
    )
    assert ok and res["changed"] is False and res["healthy"] is True
    [probe] = res["urls"]
    assert (probe["attempts"], probe["successes"], probe["consecutive"]) == (4, 2, 2)
    assert Flaky.calls == 4
    [entry] = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert (entry["component"], entry["action"], entry["result"], entry["run_id"]) == ("app", "verify", "ok", "r1")


def test_check_mode_probes_but_journals_nothing(server, tmp_path):
    ok, res = run(health_check, {"url": [url(server)], "state_dir": str(tmp_path)}, check_mode=True)
    assert ok and res["healthy"] is True
    assert Flaky.calls == 1
    assert not (tmp_path / "journal.jsonl").exists()


def test_failure_is_journaled_as_failed(server, tmp_path):
    Flaky.fail_first = 100
    ok, res = run(health_check, {"url": [url(server)], "attempts": 2, "interval": 0, "state_dir": str(tmp_path)})
    assert not ok
    assert res["msg"] == "health_check failed: %s: status 503, expected 200 (2 attempts, 0 healthy)" % url(server)
    [entry] = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert entry["result"] == "failed" and entry["message"] == res["msg"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"url": []}, "at least one URL"),
        ({"url": ["http://x/"], "attempts": 0}, "at least 1"),
        ({"url": ["http://x/"], "timeout": 0}, "timeout must be positive"),
        ({"url": ["gopher://x/"]}, "scheme must be http or https"),
    ],
)
def test_bad_input(tmp_path, args, reason):
    ok, res = run(health_check, dict(args, state_dir=str(tmp_path)))
    assert not ok and reason in res["msg"]
    assert list(tmp_path.iterdir()) == []
