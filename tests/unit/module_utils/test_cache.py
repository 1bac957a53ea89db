"""Redis SCAN + UNLINK helpers against a real redis-server; the CDN request helpers."""

from __future__ import annotations

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _cache


@pytest.fixture
def server(redis_factory):
    """A redis-server of our own: flushing its databases cannot touch another test's keys."""
    return redis_factory()


@pytest.fixture
def client(server):
    return server.client(db=0)


def test_delete_matches_counts_only_what_it_removed(client):
    client.mset({"a:%d" % i: 1 for i in range(2500)} | {"ab:%d" % i: 1 for i in range(10)} | {"b:1": 1})
    assert _cache.count_matches(client, "a*", batch=100) == 2510
    assert _cache.delete_matches(client, "a:*", batch=100) == 2500
    # overlapping pattern: the a:* keys are already gone and are not counted again
    assert _cache.delete_matches(client, "a*", batch=100) == 10
    assert client.dbsize() == 1 and client.exists("b:1")


def test_scan_batches_never_exceed_the_batch_much(client):
    client.mset({"k:%d" % i: 1 for i in range(1000)})
    batches = list(_cache.scan_batches(client, "k:*", 50))
    assert sum(len(b) for b in batches) >= 1000
    assert len(batches) > 5


def test_keyspace_total_sums_every_database(server, client):
    client.mset({"x%d" % i: 1 for i in range(5)})
    server.client(db=8).mset({"y%d" % i: 1 for i in range(3)})
    assert _cache.keyspace_total(client) == 8


@pytest.mark.parametrize(
    ("headers", "token", "token_header", "expected"),
    [
        ({}, "t0k", None, {"Authorization": "Bearer t0k"}),
        ({"X-A": 1}, "t0k", "Fastly-Key", {"X-A": "1", "Fastly-Key": "t0k"}),
        ({"X-A": "b"}, None, None, {"X-A": "b"}),
    ],
)
def test_purge_headers(headers, token, token_header, expected):
    assert _cache.purge_headers(headers, token, token_header) == expected


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://user:pw@cdn.example/purge?token=abc", "https://cdn.example/purge"),
        ("http://127.0.0.1:8080/p/q", "http://127.0.0.1:8080/p/q"),
        ("http://[::1]:81/x?y", "http://[::1]:81/x"),
    ],
)
def test_strip_query_drops_credentials(url, safe):
    assert _cache.strip_query(url) == safe
