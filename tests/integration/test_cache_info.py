"""cache_info against a real redis-server and memcached: read-only, the same in check mode."""

from __future__ import annotations

import pytest

from tests.harness.sslcache import memcached  # noqa: F401 - fixture

pytestmark = pytest.mark.integration
INFO = "emergency.rollback.cache_info"


def test_redis_counts_keys_and_patterns_four_runs(four, redis_factory):
    server = redis_factory()
    client = server.client()
    client.mset({"page:%d" % i: "x" for i in range(40)} | {"keep:%d" % i: "x" for i in range(10)})
    args = {"backend": "redis", "port": server.port, "patterns": ["page:*", "none:*"]}
    results = four(INFO, args, expect=(False, False, False, False))
    for res in results:
        assert (res["ping"], res["keys"], res["total_matching"]) == (True, 50, 40)
        assert res["matching"] == {"page:*": 40, "none:*": 0}
    assert client.dbsize() == 50, "nothing was deleted"


def test_memcached_counts_items_four_runs(four, memcached):  # noqa: F811
    memcached.set("fragment", "v")
    results = four(INFO, {"backend": "memcached", "port": memcached.port}, expect=(False, False, False, False))
    assert [r["items"] for r in results] == [1, 1, 1, 1]
    assert memcached.get("fragment") == "v"
