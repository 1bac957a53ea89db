"""The primitives left the host as they should: lock held by the run, journal written."""

import json


def test_nginx_unit_is_running(host):
    assert host.service("nginx").is_running


def test_lock_names_the_run(host):
    lock = host.file("/var/lib/emergency-rollback/rollback.lock")
    assert lock.exists and lock.mode == 0o640
    holder = json.loads(lock.content_string)
    assert holder["run_id"] == "molecule-primitives" and holder["user"] == "molecule"


def test_journal_has_both_converges(host):
    journal = host.file("/var/lib/emergency-rollback/journal.jsonl")
    entries = [json.loads(line) for line in journal.content_string.splitlines()]
    verifies = [e for e in entries if e["action"] == "verify"]
    # converge and idempotence each verified once; the lock was taken once
    assert len(verifies) == 2 and all(e["result"] == "ok" for e in verifies)
    assert [e["action"] for e in entries if e["component"] == "lock"] == ["acquire"]
    assert all(e["run_id"] == "molecule-primitives" for e in entries)
