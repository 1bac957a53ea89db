from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

SITE = """
server {{
    listen 127.0.0.1:{http_port};
    location = /health {{ return 200 '{{"status": "ok"}}'; }}
    location = /degraded {{ return 200 '{{"status": "degraded"}}'; }}
    location = /broken {{ return 500 'boom'; }}
}}
"""


@pytest.fixture
def nginx(nginx_factory):
    return nginx_factory(SITE)


def test_healthy_url_reports_latency_and_never_changes(nginx, four, state_dir):
    url = "http://127.0.0.1:%d/health" % nginx.http_port
    args = {
        "url": url,
        "body_regex": '"status": "ok"',
        "consecutive": 3,
        "attempts": 5,
        "interval": 0,
        "state_dir": str(state_dir),
        "run_id": "rb-test",
    }
    results = four("emergency.rollback.health_check", args, expect=(False, False, False, False))
    for res in results:
        [probe] = res["urls"]
        assert probe["healthy"] is True and probe["status"] == 200
        assert probe["attempts"] == 3 and probe["consecutive"] == 3
        lat = probe["latency_ms"]
        assert lat["count"] == 3
        assert 0 < lat["min"] <= lat["median"] <= lat["p95"] <= lat["max"] < 5000
        # milliseconds with sub-millisecond resolution, unlike uri's whole seconds
        assert any(v != int(v) for v in (lat["min"], lat["median"], lat["max"]))
    # only the two real runs are journaled
    lines = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(e["component"], e["action"], e["result"], e["run_id"]) for e in lines] == [
        ("app", "verify", "ok", "rb-test")
    ] * 2


@pytest.mark.parametrize(
    ("path", "extra", "reason"),
    [
        ("/broken", {}, "status 500, expected 200"),
        ("/degraded", {"body_regex": '"status": "ok"'}, "body does not match"),
    ],
)
def test_unhealthy_url_fails_with_one_line(nginx, task, state_dir, path, extra, reason):
    url = "http://127.0.0.1:%d%s" % (nginx.http_port, path)
    args = dict({"url": url, "attempts": 2, "interval": 0, "state_dir": str(state_dir)}, **extra)
    event, res, _run = task("emergency.rollback.health_check", args)
    assert event == "runner_on_failed"
    assert "\n" not in res["msg"]
    assert url in res["msg"] and reason in res["msg"] and "2 attempts" in res["msg"]
    assert res["urls"][0]["attempts"] == 2


def test_unreachable_port(task, state_dir):
    from tests.harness.services import free_port

    url = "http://127.0.0.1:%d/health" % free_port()
    event, res, _ = task("emergency.rollback.health_check", {"url": url, "attempts": 1, "state_dir": str(state_dir)})
    assert event == "runner_on_failed"
    assert res["msg"] == "health_check failed: %s: connection refused (1 attempts, 0 healthy)" % url


@pytest.mark.parametrize(
    ("url", "extra", "reason"),
    [
        ("127.0.0.1/health", {}, "scheme must be http or https"),
        ("http://127.0.0.1:70000/", {}, "out of range"),
        ("http://127.0.0.1/", {"consecutive": 4, "attempts": 2}, "can never be reached"),
        ("http://127.0.0.1/", {"body_regex": "("}, "not a valid regular expression"),
    ],
)
def test_bad_input_fails_before_any_request(task, state_dir, url, extra, reason):
    event, res, _ = task("emergency.rollback.health_check", dict({"url": url, "state_dir": str(state_dir)}, **extra))
    assert event == "runner_on_failed"
    assert reason in res["msg"] and "\n" not in res["msg"]
    assert not (state_dir / "journal.jsonl").exists()


def test_credential_header_values_are_never_shown(nginx, task, state_dir):
    token = "hc-secret-7f3a9c"
    url = "http://127.0.0.1:%d/health" % nginx.http_port
    args = {"url": url, "headers": {"Authorization": "Bearer " + token, "X-Trace": "visible-trace"}, "attempts": 1}
    event, res, run = task("emergency.rollback.health_check", dict(args, state_dir=str(state_dir)))
    assert event == "runner_on_ok", res
    shown = json.dumps(res) + run.stdout + (state_dir / "journal.jsonl").read_text()
    assert token not in shown
    assert "visible-trace" in json.dumps(res)
