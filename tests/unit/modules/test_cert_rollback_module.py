"""cert_rollback's main() in-process (ansible-core 2.19 patch_module_args), on real files."""

from __future__ import annotations

import json

import pytest

from ansible_collections.emergency.rollback.plugins.modules import cert_rollback
from tests.harness.modules import run as run_module
from tests.harness.pki import NAMES, PASSPHRASE
from tests.harness.sslcache import install_set, pki  # noqa: F401 - fixture


@pytest.fixture
def live(tmp_path, pki):  # noqa: F811
    path = tmp_path / "live"
    install_set(path, pki["current"])
    return path


def run(args, check=False):
    succeeded, result = run_module(cert_rollback, args, check_mode=check)
    return ("ok" if succeeded else "failed"), result


def base(live, pki, state_dir, **extra):  # noqa: F811
    args = {
        "cert_path": str(live / "fullchain.pem"),
        "key_path": str(live / "privkey.pem"),
        "chain_path": str(live / "chain.pem"),
        "ca_path": str(pki.ca),
        "expected_names": list(NAMES),
        "test_command": ["true"],
        "state_dir": str(state_dir),
    }
    args.update(extra)
    return args


def files(live):
    return {p.name: p.read_bytes() for p in sorted(live.iterdir())}


def test_restore_check_real_again(live, pki, state_dir):  # noqa: F811
    args = base(live, pki, state_dir, **pki["ec"].src_args())
    before = files(live)
    status, res = run(args, check=True)
    assert status == "ok" and res["changed"] is True and files(live) == before
    assert res["diff"]["after"]["fingerprint"] == pki["ec"].fingerprint
    status, res = run(args)
    assert status == "ok" and res["changed"] is True, res
    assert res["fingerprint_after"] == pki["ec"].fingerprint and res["snapshot"]["id"]
    assert res["restored_from"] is None, "the candidate came from files"
    status, res = run(args)
    assert status == "ok" and res["changed"] is False


def test_refusal_changes_nothing_and_is_journaled(live, pki, state_dir):  # noqa: F811
    before = files(live)
    status, res = run(base(live, pki, state_dir, **pki["mismatched_key"].src_args()))
    assert status == "failed" and "does not match" in res["msg"] and "left untouched" in res["msg"]
    assert files(live) == before
    [entry] = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert entry["result"] == "failed" and entry["action"] == "cert_restore"


def test_failing_test_command_reverts(live, pki, state_dir):  # noqa: F811
    before = files(live)
    status, res = run(base(live, pki, state_dir, test_command=["false"], **pki["good"].src_args()))
    assert status == "failed" and "already fails before any change" in res["msg"]
    assert files(live) == before


def test_passphrase_is_masked_in_the_journal(live, pki, state_dir):  # noqa: F811
    args = base(live, pki, state_dir, key_passphrase=PASSPHRASE, **pki["passphrase"].src_args())
    status, res = run(args)
    assert status == "ok" and res["changed"] is True, res
    journal = (state_dir / "journal.jsonl").read_text()
    assert PASSPHRASE not in journal and PASSPHRASE not in json.dumps(res)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"snapshot": "latest"}, "latest needs 1 snapshot(s) of ssl taken with state=snapshot"),
        ({"snapshot": "nope-1"}, "snapshot nope-1 of ssl not found"),
        ({"src_cert": "/nonexistent/c.pem", "src_key": "/nonexistent/k.pem"}, "cannot read cert /nonexistent/c.pem"),
        ({"min_remaining_days": -1}, "min_remaining_days must be 0 or more"),
    ],
)
def test_bad_input_one_line_no_change(live, pki, state_dir, extra, message):  # noqa: F811
    before = files(live)
    status, res = run(base(live, pki, state_dir, **extra))
    assert status == "failed" and message in res["msg"] and "\n" not in res["msg"]
    assert files(live) == before
    assert not (state_dir / "journal.jsonl").exists()


def test_snapshot_is_idempotent_and_latest_restores_it(live, pki, state_dir):  # noqa: F811
    args = base(live, pki, state_dir)
    status, first = run(dict(args, state="snapshot"))
    assert status == "ok" and first["changed"] is True
    assert first["snapshot"]["path"] == str(state_dir / "snapshots" / "ssl" / first["snapshot"]["id"])
    status, again = run(dict(args, state="snapshot"))
    assert again["changed"] is False and again["snapshot"] == first["snapshot"]
    status, res = run(dict(args, snapshot="previous"), check=True)
    assert status == "failed" and "previous needs 2 snapshot(s)" in res["msg"]
    install_set(live, pki["good"])
    status, res = run(args)
    assert status == "ok" and res["changed"] is True and res["restored_from"] == first["snapshot"]
    assert res["fingerprint_after"] == pki["current"].fingerprint
    # the safety copy this restore took is not `latest`: a second run restores the same snapshot
    assert res["snapshot"]["id"] != first["snapshot"]["id"]
    status, res = run(args)
    assert status == "ok" and res["changed"] is False


def test_test_command_that_cannot_run_refuses_cleanly(live, pki, state_dir):  # noqa: F811
    before = files(live)
    args = base(live, pki, state_dir, test_command=["/nonexistent/nginx", "-t"], **pki["good"].src_args())
    status, res = run(args)
    assert status == "failed" and "cannot run /nonexistent/nginx" in res["msg"] and "nothing was swapped" in res["msg"]
    assert files(live) == before


def test_validated_answers_without_changing_anything(live, pki, state_dir):  # noqa: F811
    before = files(live)
    status, res = run(base(live, pki, state_dir, state="validated", **pki["ec"].src_args()))
    assert status == "ok" and res["changed"] is False and res["state"] == "validated"
    assert res["fingerprint_after"] == pki["ec"].fingerprint and res["snapshot"] is None
    assert files(live) == before
    assert not (state_dir / "snapshots").exists() or not any((state_dir / "snapshots").rglob("meta.json"))
    status, res = run(base(live, pki, state_dir, state="validated", **pki["expired"].src_args()))
    assert status == "failed" and "certificate expired on" in res["msg"] and "untouched" in res["msg"]
    assert files(live) == before
