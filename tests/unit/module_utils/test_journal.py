from __future__ import annotations

import json
import threading

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils._journal import (
    FIELDS,
    MASK,
    Journal,
    JournalError,
    make_entry,
    redact,
    redact_url,
)


def test_append_writes_one_line_with_every_field(tmp_path):
    journal = Journal(str(tmp_path / "j" / "journal.jsonl"))
    journal.append(make_entry("app", "switch", "changed", run_id="rb-1", from_="r2", to="r1", duration_s=0.12345))
    lines = (tmp_path / "j" / "journal.jsonl").read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert list(entry)[: len(FIELDS)] == list(FIELDS)
    assert (entry["from"], entry["to"], entry["duration_s"], entry["result"]) == ("r2", "r1", 0.123, "changed")


def test_a_line_that_does_not_fit_on_a_full_disk_is_taken_back(full_disk):
    """A full disk takes the part of a line that fits in the file's last block, then refuses: the
    append raises (the caller reports it) and leaves no torn line behind."""
    path = full_disk.path / "journal.jsonl"
    journal = Journal(str(path))
    journal.append(make_entry("traffic", "maintenance_on", "changed", run_id="rb-1"))
    before = path.read_bytes()
    full_disk.fill()
    with pytest.raises(OSError) as err:
        journal.append(make_entry("traffic", "maintenance_off", "changed", run_id="rb-1", message="x" * 8192))
    assert err.value.strerror == "No space left on device"
    assert path.read_bytes() == before
    assert Journal(str(path)).read()[1] == []


def test_corrupted_line_is_reported_and_the_rest_is_read(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(str(path))
    journal.append(make_entry("app", "snapshot", "ok", run_id="a"))
    with open(path, "a") as handle:
        handle.write('{"component": "app", "action": "swi')  # a writer killed mid-line
    journal.append(make_entry("app", "switch", "changed", run_id="a"))
    with open(path, "a") as handle:
        handle.write("[1, 2]\n")
    entries, problems = journal.read()
    assert [e["action"] for e in entries] == ["snapshot", "switch"]
    assert [p["line"] for p in problems] == [2, 4]
    assert "not valid JSON" in problems[0]["error"]
    assert "not a journal entry" in problems[1]["error"]


def test_filters_and_tail(tmp_path):
    journal = Journal(str(tmp_path / "journal.jsonl"))
    for i in range(5):
        journal.append(make_entry("app" if i % 2 else "cache", "step%d" % i, "ok", run_id="r%d" % (i % 2)))
    entries, _ = journal.read(component="cache")
    assert [e["action"] for e in entries] == ["step0", "step2", "step4"]
    entries, _ = journal.read(run_id="r1", tail=1)
    assert [e["action"] for e in entries] == ["step3"]


def test_missing_journal_reads_empty(tmp_path):
    assert Journal(str(tmp_path / "none.jsonl")).read() == ([], [])


def test_secrets_are_masked_everywhere(tmp_path):
    path = tmp_path / "journal.jsonl"
    entry = make_entry(
        "webhooks", "repoint", "changed", to="https://hooks.example/T0K3Nvalue", message="key sk_live_123"
    )
    Journal(str(path)).append(entry, secrets=["T0K3Nvalue", "sk_live_123", "x"])
    text = path.read_text()
    assert "T0K3Nvalue" not in text and "sk_live_123" not in text
    assert text.count(MASK) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc secret123 def", "abc ******** def"),
        ({"k": ["secret123", 1]}, {"k": ["********", 1]}),
        (5, 5),
    ],
)
def test_redact(value, expected):
    assert redact(value, ["secret123"]) == expected


@pytest.mark.parametrize(("component", "action", "result"), [("", "a", "ok"), ("c", "a", "bogus")])
def test_bad_entries_are_refused(component, action, result):
    with pytest.raises(JournalError):
        make_entry(component, action, result)


def test_concurrent_appends_never_interleave(tmp_path):
    journal = Journal(str(tmp_path / "journal.jsonl"))

    def writer(n):
        for i in range(50):
            journal.append(make_entry("app", "w%d" % n, "ok", message="x" * 2000 + str(i)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries, problems = journal.read()
    assert problems == []
    assert len(entries) == 200


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://reader:s3cr3t@m.example/q", "https://%s@m.example/q" % MASK),
        ("https://t0ken@m.example", "https://%s@m.example" % MASK),
        (
            "http://m.example/api?query=up&api_key=K3Y&access_token=T0K&window=5m",
            "http://m.example/api?query=up&api_key=%s&access_token=%s&window=5m" % (MASK, MASK),
        ),
        ("http://m.example/a@b?sig=&x", "http://m.example/a@b?sig=&x"),
        ("http://127.0.0.1:9/api/v1/query", "http://127.0.0.1:9/api/v1/query"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_append_masks_credentials_in_urls_anywhere_in_the_entry(tmp_path):
    """A metric URL carrying credentials never reaches the journal, wherever the entry quotes it."""
    path = tmp_path / "journal.jsonl"
    metrics = [{"name": "errors", "message": "GET https://reader:s3cr3t@m.example/q?api_key=K3Y&window=5m failed"}]
    Journal(str(path)).append(
        make_entry("rollback", "decision", "ok", to="http://m.example/x?token=T0K", analysis_metrics=metrics)
    )
    text = path.read_text()
    assert not [secret for secret in ("s3cr3t", "K3Y", "T0K") if secret in text]
    entry = json.loads(text)
    assert entry["details"]["analysis_metrics"][0]["message"] == (
        "GET https://%s@m.example/q?api_key=%s&window=5m failed" % (MASK, MASK)
    )
    assert entry["to"] == "http://m.example/x?token=%s" % MASK
