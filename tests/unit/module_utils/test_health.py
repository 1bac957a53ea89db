from __future__ import annotations

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _health


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5.0], {"count": 1, "min": 5.0, "median": 5.0, "p95": 5.0, "max": 5.0}),
        ([4.0, 1.0, 3.0, 2.0], {"count": 4, "min": 1.0, "median": 2.5, "p95": 4.0, "max": 4.0}),
        (list(range(1, 101)), {"count": 100, "min": 1, "median": 50.5, "p95": 95, "max": 100}),
        ([], {"count": 0, "min": None, "median": None, "p95": None, "max": None}),
    ],
)
def test_latency_summary(values, expected):
    assert _health.latency_summary(values) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("localhost:8080/health", "scheme"),
        ("ftp://host/x", "scheme"),
        ("http:///health", "no host"),
        ("http://host:99999/", "(?i)port"),
        ("http://host:abc/", "(?i)port"),
    ],
)
def test_bad_urls(url, reason):
    with pytest.raises(_health.BadURL, match=reason):
        _health.check_url(url)


def scripted(statuses):
    calls = iter(statuses)

    def fake_probe(url, **_kw):
        status = next(calls)
        if isinstance(status, str):
            return {"status": None, "body": b"", "latency_ms": 1.0, "error": status}
        return {"status": status, "body": b"ok", "latency_ms": 2.0, "error": None}

    return fake_probe


@pytest.mark.parametrize(
    ("statuses", "attempts", "consecutive", "healthy", "made"),
    [
        ([200], 5, 1, True, 1),
        (["connection refused", 500, 200, 200, 200], 5, 3, True, 5),
        ([200, 500, 200, 500, 200], 5, 2, False, 4),  # stops when the streak can no longer be reached
        (["timed out"] * 3, 3, 1, False, 3),
    ],
)
def test_check_counts_consecutive_successes(monkeypatch, statuses, attempts, consecutive, healthy, made):
    monkeypatch.setattr(_health, "probe", scripted(statuses))
    result = _health.check("http://x/", attempts=attempts, consecutive=consecutive, sleep=lambda _s: None)
    assert result["healthy"] is healthy
    assert result["attempts"] == made
    assert result["latency_ms"]["count"] == made
    if not healthy:
        assert result["error"]


def test_judge_body_regex():
    res = {"status": 200, "body": b'{"status": "ok"}', "error": None}
    assert _health.judge(res, [200], r'"status":\s*"ok"') == (True, None)
    ok, reason = _health.judge(res, [200], "degraded")
    assert not ok and "does not match" in reason
    ok, reason = _health.judge(dict(res, status=503), [200, 204], None)
    assert reason == "status 503, expected 200/204"
