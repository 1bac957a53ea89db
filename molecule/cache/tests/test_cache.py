"""After the cache role: exactly the bad release's pages are gone, the sessions are kept."""

import json

STATE = "/var/lib/emergency-rollback"


def count(host, pattern):
    return len(host.check_output("redis-cli -n 0 --scan --pattern '%s'" % pattern).split())


def test_pages_of_the_bad_release_are_gone(host):
    assert count(host, "page:v2:*") == 0


def test_sessions_are_kept(host):
    assert count(host, "session:*") == 500
    assert host.check_output("redis-cli -n 0 GET session:42") == "user-42"


def test_journal_counts_500_deleted_once(host):
    entries = [json.loads(line) for line in host.file(STATE + "/journal.jsonl").content_string.splitlines()]
    flushes = [e for e in entries if e["component"] == "cache" and e["result"] == "changed"]
    assert len(flushes) == 1
    assert flushes[0]["details"]["deleted"] == 500
    assert flushes[0]["details"]["per_pattern"] == {"page:v2:*": 500}
    assert not host.file(STATE + "/rollback.lock").exists
