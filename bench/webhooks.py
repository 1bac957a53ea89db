"""Benchmark: a safe webhook re-point (read, snapshot, update, read back) vs the runbook's bare update.

Runs against the local Stripe stand-in, so the figures measure our own work, not the network.

    python bench/webhooks.py [repetitions]

Baseline: one form-encoded POST /v1/webhook_endpoints/{id}, what the runbook's curl does.
Ours: what emergency.rollback.webhook_endpoint does without Ansible around it: retrieve the
endpoint, write a snapshot into a snapshot store, POST the update, retrieve it again to verify.
Baseline2 is the same single POST through ansible's open_url, to show what the request
plumbing costs apart from the extra read, snapshot and read-back. Also printed: how the
client honours Retry-After (two 429s with Retry-After: 1), measured by the server's clock.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ansible.module_utils.urls import open_url  # noqa: E402

from tests.harness.ansible import link_collection  # noqa: E402

sys.path.insert(0, str(link_collection()))

from ansible_collections.emergency.rollback.plugins.module_utils import _webhooks as w  # noqa: E402
from tests.harness.providers import StripeStandIn  # noqa: E402

KEY = "sk_test_bench"
URLS = ("https://green.example.com/hooks", "https://blue.example.com/hooks")


def bare_update(base, endpoint_id, url):
    req = Request(
        "%s/v1/webhook_endpoints/%s" % (base, endpoint_id),
        data=urlencode({"url": url}).encode(),
        headers={"Authorization": "Bearer %s" % KEY},
        method="POST",
    )
    with urlopen(req, timeout=10) as resp:
        resp.read()


def bare_update_open_url(base, endpoint_id, url):
    """The same single POST through ansible's open_url (which builds a TLS context per request)."""
    resp = open_url(
        "%s/v1/webhook_endpoints/%s" % (base, endpoint_id),
        data=urlencode({"url": url}),
        headers={"Authorization": "Bearer %s" % KEY},
        method="POST",
        timeout=10,
    )
    resp.read()


def safe_update(adapter, snapshots, endpoint_id, url):
    current = adapter.get(endpoint_id)
    snapshots.ensure(current)
    adapter.update(endpoint_id, url)
    back = adapter.get(endpoint_id)
    assert back["url"] == url


def timed(fn, reps):
    samples = []
    for i in range(reps):
        started = time.perf_counter()
        fn(URLS[i % 2])
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    server = StripeStandIn(KEY).start()
    try:
        endpoint_id = server.add(URLS[0], ["charge.failed"])
        adapter = w.make_adapter("stripe", w.HttpClient(), base_url=server.url, api_key=KEY)
        with tempfile.TemporaryDirectory() as state_dir:
            snapshots = w.EndpointSnapshots(state_dir, "stripe", server.url)
            # warm up both paths
            timed(lambda url: bare_update(server.url, endpoint_id, url), 10)
            timed(lambda url: safe_update(adapter, snapshots, endpoint_id, url), 10)
            base = timed(lambda url: bare_update(server.url, endpoint_id, url), reps)
            base_ou = timed(lambda url: bare_update_open_url(server.url, endpoint_id, url), reps)
            ours = timed(lambda url: safe_update(adapter, snapshots, endpoint_id, url), reps)

        server.script("POST", "/v1/webhook_endpoints/%s" % endpoint_id, 429, "{}", {"Retry-After": "1"}, times=2)
        before = len(server.requests)
        started = time.perf_counter()
        adapter.update(endpoint_id, URLS[0])
        elapsed = time.perf_counter() - started
        posts = [r for r in server.requests[before:] if r.method == "POST"]
        gaps = [b.time - a.time for a, b in zip(posts, posts[1:], strict=False)]
    finally:
        server.stop()

    b_med, o_med = statistics.median(base), statistics.median(ours)
    print("webhook re-point against the local Stripe stand-in, %d repetitions each" % reps)
    print("  baseline  bare POST (runbook curl)            median %7.2f ms  p95 %7.2f ms" % (b_med, _p95(base)))
    ou_med = statistics.median(base_ou)
    print("  baseline2 bare POST through open_url          median %7.2f ms  p95 %7.2f ms" % (ou_med, _p95(base_ou)))
    print("  ours      read+snapshot+POST+read back        median %7.2f ms  p95 %7.2f ms" % (o_med, _p95(ours)))
    print("  ratio     ours / baseline                     %.2fx" % (o_med / b_med))
    print("  ratio     ours / baseline2 (3 requests vs 1)  %.2fx" % (o_med / ou_med))
    print(
        "retry: 2 x 429 Retry-After: 1 then 200 -> %d POSTs, server-side gaps %s s, total %.2f s"
        % (len(posts), ", ".join("%.3f" % g for g in gaps), elapsed)
    )


def _p95(values):
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


if __name__ == "__main__":
    main()
