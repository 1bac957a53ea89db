"""cache_flush against a real redis-server, a throwaway memcached and a local purge API."""

from __future__ import annotations

import json

import pytest

from tests.harness.sslcache import memcached, purge_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration
FLUSH = "emergency.rollback.cache_flush"


def fill(client, prefix, count, chunk=5000):
    for start in range(0, count, chunk):
        client.mset({"%s%d" % (prefix, i): b"x" for i in range(start, min(start + chunk, count))})


def scan_count(client, pattern):
    return len(set(client.scan_iter(match=pattern, count=5000)))


def test_pattern_flush_100k_keys_four_runs(four, redis_factory, state_dir):
    server = redis_factory()
    client = server.client()
    fill(client, "session:", 30000)
    fill(client, "page:v42:", 20000)
    fill(client, "page:v41:", 25000)  # same prefix family, must survive
    fill(client, "user:", 25000)
    assert client.dbsize() == 100000
    args = {
        "backend": "redis",
        "port": server.port,
        "patterns": ["session:*", "page:v42:*"],
        "state_dir": str(state_dir),
    }
    check, real, check2, real2 = four(FLUSH, args)
    assert check["deleted"] == {"session:*": 30000, "page:v42:*": 20000}
    assert check["diff"]["before"]["keys_matching"]["session:*"] == 30000
    assert real["deleted"] == {"session:*": 30000, "page:v42:*": 20000}
    assert real["total_deleted"] == 50000
    assert real["remaining"] == {"session:*": 0, "page:v42:*": 0}
    assert real["ping"] is True
    assert check2["deleted"] == real2["deleted"] == {"session:*": 0, "page:v42:*": 0}
    # exactly the matching keys are gone; every other key is still there
    assert client.dbsize() == 50000
    assert scan_count(client, "session:*") == 0 and scan_count(client, "page:v42:*") == 0
    assert scan_count(client, "page:v41:*") == 25000 and scan_count(client, "user:*") == 25000
    assert client.get("user:24999") == b"x"
    entries = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    flushes = [e for e in entries if e["action"] == "redis_flush"]
    assert len(flushes) == 1 and flushes[0]["details"]["deleted"] == 50000
    assert flushes[0]["details"]["per_pattern"] == {"session:*": 30000, "page:v42:*": 20000}


def test_flushdb_flushall_and_failures(playbook, redis_factory, state_dir):
    server = redis_factory()
    locked = redis_factory(password="right-Pass-1")
    locked.client().set("k", "v")
    db0, db1 = server.client(0), server.client(1)
    fill(db0, "keep:", 10)
    fill(db1, "drop:", 15)
    base = {"backend": "redis", "port": server.port, "state_dir": str(state_dir)}
    tasks = [
        {"name": "no mode", FLUSH: base, "ignore_errors": True},
        {"name": "two modes", FLUSH: dict(base, patterns=["keep:*"], flushall=True), "ignore_errors": True},
        {"name": "flushdb false", FLUSH: dict(base, flushdb=False), "ignore_errors": True},
        {"name": "flushdb check", FLUSH: dict(base, redis_db=1, flushdb=True), "check_mode": True},
        {"name": "flushdb", FLUSH: dict(base, redis_db=1, flushdb=True)},
        {"name": "flushdb again", FLUSH: dict(base, redis_db=1, flushdb=True)},
        {"name": "db0 size", "ansible.builtin.command": {"argv": ["redis-cli", "-p", str(server.port), "dbsize"]}},
        {"name": "flushall", FLUSH: dict(base, flushall=True)},
        {
            "name": "wrong password",
            FLUSH: dict(base, port=locked.port, password="wrong-Pass-2", patterns=["*"]),
            "ignore_errors": True,
        },
    ]
    run = playbook([{"hosts": "all", "gather_facts": False, "tasks": tasks}])
    no_mode = run.task_results("no mode")[0]
    assert no_mode["event"] == "runner_on_failed"
    assert no_mode["res"]["msg"] == "backend is redis but any of the following are missing: patterns, flushdb, flushall"
    two = run.task_results("two modes")[0]
    assert two["event"] == "runner_on_failed"
    assert two["res"]["msg"] == "parameters are mutually exclusive: patterns|flushdb|flushall"
    false_mode = run.task_results("flushdb false")[0]
    assert false_mode["event"] == "runner_on_failed"
    assert false_mode["res"]["msg"] == (
        "cache_flush: backend=redis needs patterns, flushdb=true or flushall=true; nothing was deleted"
    )
    assert run.result("flushdb check")["keys_before"] == 15 and run.result("flushdb check")["changed"] is True
    assert run.result("flushdb")["total_deleted"] == 15 and run.result("flushdb")["changed"] is True
    assert run.result("flushdb again")["changed"] is False
    assert run.result("db0 size")["stdout"].strip() == "10"
    assert run.result("flushall")["keys_before"] == 10
    assert db0.dbsize() == 0
    wrong = run.task_results("wrong password")[0]
    assert wrong["event"] == "runner_on_failed"
    assert wrong["res"]["msg"].startswith("cache_flush: Redis at redis://127.0.0.1:%d/0 failed:" % locked.port)
    assert "nothing was deleted" in wrong["res"]["msg"]
    assert locked.client().get("k") == b"v"
    assert "wrong-Pass-2" not in run.stdout


def test_memcached_flush_four_runs(four, memcached, state_dir):  # noqa: F811
    for i in range(20):
        memcached.set("item%d" % i, "v%d" % i)
    args = {"backend": "memcached", "port": memcached.port, "state_dir": str(state_dir)}
    check, real, check2, real2 = four(FLUSH, args)
    assert check["items_before"] == real["items_before"] == 20
    assert check2["items_before"] == real2["items_before"] == 0
    assert memcached.get("item3") is None


def test_cdn_purge_sends_one_request_with_token(playbook, purge_server, state_dir):  # noqa: F811
    args = {
        "backend": "cdn",
        "url": purge_server.url + "/v1/zones/app/purge?source=rollback",
        "method": "POST",
        "token": "cdn-Token-abc123",
        "headers": {"X-Purge-Reason": "rollback"},
        "body": {"files": ["/index.html", "/app.js"]},
        "state_dir": str(state_dir),
    }
    failing = dict(args, url=purge_server.url + "/fail/purge", method="PURGE", token_header="Fastly-Key")
    tasks = [
        {"name": "check", FLUSH: args, "check_mode": True},
        {"name": "purge", FLUSH: args},
        {"name": "refused", FLUSH: failing, "ignore_errors": True},
    ]
    run = playbook([{"hosts": "all", "gather_facts": False, "tasks": tasks}])
    check, res = run.result("check"), run.result("purge")
    assert check["changed"] is True and "status" not in check
    assert res["changed"] is True and res["status"] == 200
    assert res["response"] == {"status": "ok", "id": "purge-1"}
    assert res["url"] == purge_server.url + "/v1/zones/app/purge"
    req, failed_req = purge_server.requests  # the check run sent nothing
    assert req["method"] == "POST" and req["path"] == "/v1/zones/app/purge?source=rollback"
    assert req["headers"]["Authorization"] == "Bearer cdn-Token-abc123"
    assert req["headers"]["X-Purge-Reason"] == "rollback"
    assert json.loads(req["body"]) == {"files": ["/index.html", "/app.js"]}

    refused = run.task_results("refused")[0]
    assert refused["event"] == "runner_on_failed"
    assert "answered HTTP 500" in refused["res"]["msg"]
    assert failed_req["method"] == "PURGE" and failed_req["headers"]["Fastly-Key"] == "cdn-Token-abc123"
