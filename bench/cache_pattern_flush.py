"""Redis pattern flush: cache_flush's SCAN + UNLINK against the runbook's KEYS + DEL.

Both delete the same 200k matching keys (out of 400k) on a throwaway redis-server. Printed:
wall time of each, and the worst PING latency a client saw meanwhile (how long the server was
blocked for everyone else), with the ratios ours / baseline.

    python bench/cache_pattern_flush.py [keys]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import services  # noqa: E402
from tests.harness.ansible import link_collection  # noqa: E402

sys.path.insert(0, str(link_collection()))
from ansible_collections.emergency.rollback.plugins.module_utils import _cache  # noqa: E402

KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000


def fill(client):
    client.flushdb()
    for start in range(0, KEYS, 10_000):
        client.mset({"page:%d" % i: b"x" * 32 for i in range(start, start + 10_000)})
        client.mset({"user:%d" % i: b"x" * 32 for i in range(start, start + 10_000)})


class PingWatcher:
    """Another client pinging in a loop: its worst latency is how long the server was blocked."""

    def __init__(self, server):
        self.client = server.client()
        self.latencies = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            start = time.perf_counter()
            self.client.ping()
            self.latencies.append(time.perf_counter() - start)
            time.sleep(0.001)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def baseline_keys_del(client):
    keys = client.keys("page:*")  # what `redis-cli KEYS 'page:*' | xargs redis-cli DEL` does
    deleted = 0
    for start in range(0, len(keys), 10_000):
        deleted += client.delete(*keys[start : start + 10_000])
    return deleted


def ours(client):
    return _cache.delete_matches(client, "page:*", batch=1000)


def measure(server, func):
    client = server.client()
    fill(client)
    with PingWatcher(server) as watch:
        start = time.perf_counter()
        deleted = func(client)
        wall = time.perf_counter() - start
    assert deleted == KEYS, deleted
    assert client.dbsize() == KEYS
    return wall, max(watch.latencies), statistics.median(watch.latencies)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        server = services.start_redis(Path(tmp))
        try:
            base = measure(server, baseline_keys_del)
            mine = measure(server, ours)
        finally:
            server.stop()
    print("pattern flush of %d keys out of %d" % (KEYS, 2 * KEYS))
    print("%-28s %10s %16s %16s" % ("", "wall s", "worst PING ms", "median PING ms"))
    for name, (wall, worst, median) in (("baseline KEYS + DEL", base), ("cache_flush SCAN + UNLINK", mine)):
        print("%-28s %10.3f %16.2f %16.3f" % (name, wall, worst * 1000, median * 1000))
    print("ratio ours/baseline: wall %.2fx, worst PING latency %.2fx" % (mine[0] / base[0], mine[1] / base[1]))


if __name__ == "__main__":
    main()
