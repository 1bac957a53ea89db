"""cert_rollback and tls_probe against a real nginx serving TLS from the live files."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest

from tests.harness.pki import PASSPHRASE
from tests.harness.sslcache import pki, tls_site  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration
CERT = "emergency.rollback.cert_rollback"
PROBE = "emergency.rollback.tls_probe"


def failed(run, name):
    """The task's result, asserting it failed (ansible-core 2.19 events carry no `failed` key)."""
    found = run.task_results(name)
    assert found and found[0]["event"] == "runner_on_failed", found
    return found[0]["res"]


def journal(state_dir):
    path = state_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_four_runs_restore_then_nginx_serves_it(four, playbook, tls_site, pki, state_dir):  # noqa: F811
    good = pki["good"]
    args = tls_site.args(state_dir=str(state_dir), **good.src_args())
    check, real, check2, real2 = four(CERT, args)

    current = pki["current"].fingerprint
    assert check["fingerprint_before"] == current and check["fingerprint_after"] == good.fingerprint
    assert check["diff"]["before"]["fingerprint"] == current
    assert check["diff"]["after"]["fingerprint"] == good.fingerprint
    assert check["snapshot"] is None
    assert real["fingerprint_after"] == good.fingerprint
    assert real["san"] == ["app.example.test", "www.app.example.test"]
    assert real["checks"] == ["parse", "key_match", "validity", "san", "chain"]
    assert real["subject"].startswith("CN=app.example.test")
    assert check2["fingerprint_before"] == real2["fingerprint_after"] == good.fingerprint
    assert check2["snapshot"] is None and real2["snapshot"] is None

    # live files are the candidate's, the key stays private, the old set is kept 0600
    assert tls_site.cert.read_bytes() == good.fullchain.read_bytes()
    assert tls_site.key.read_bytes() == good.key.read_bytes()
    assert stat.S_IMODE(tls_site.key.stat().st_mode) == 0o600
    snap = state_dir / "snapshots" / "ssl" / real["snapshot"]["id"] / "files"
    assert (snap / "cert.pem").read_bytes() == pki["current"].fullchain.read_bytes()
    assert stat.S_IMODE((snap / "key.pem").stat().st_mode) == 0o600

    entries = [e for e in journal(state_dir) if e["action"] == "cert_restore"]
    assert [e["result"] for e in entries] == ["changed"]
    assert entries[0]["from"] == current and entries[0]["to"] == good.fingerprint

    # before a reload nginx still serves the old certificate; after it, the restored one
    run = playbook(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {"name": "before reload", PROBE: tls_site.probe_args(retries=0)},
                    {"name": "reload", "ansible.builtin.command": {"argv": tls_site.reload_command}},
                    {"name": "after reload", PROBE: tls_site.probe_args(expected_fingerprint=good.fingerprint)},
                    {
                        "name": "untrusted",
                        PROBE: tls_site.probe_args(ca_path=str(pki["ec"].cert), require_valid_chain=True),
                        "ignore_errors": True,
                    },
                ],
            }
        ]
    )
    before = run.result("before reload")
    assert before["fingerprint"] == current and before["chain_valid"] is True and before["changed"] is False
    after = run.result("after reload")
    assert after["fingerprint"] == good.fingerprint and after["matches_expected"] is True
    assert after["chain_valid"] is True and after["not_after"] == real["not_after"]
    # against a bundle that does not hold our CA, the served chain does not verify
    untrusted = run.task_results("untrusted")[0]
    assert untrusted["event"] == "runner_on_failed"
    assert untrusted["res"]["chain_valid"] is False and "does not verify" in untrusted["res"]["msg"]


REFUSALS = [
    ("mismatched_key", {}, "does not match the certificate's public key (RSA key"),
    ("ec_mismatched_key", {}, "does not match the certificate's public key (EC key"),
    ("expired", {}, "certificate expired on"),
    ("short_lived", {"min_remaining_days": 30}, "less than the required 30 days"),
    ("wrong_name", {}, "does not cover app.example.test, www.app.example.test"),
    ("broken_chain", {}, "the chain does not verify up to the CA bundle"),
    ("unparseable", {}, "does not parse as PEM certificates"),
    ("passphrase", {}, "is encrypted and no key passphrase was given"),
]


def test_refusals_leave_live_files_and_served_cert(playbook, tls_site, pki, state_dir):  # noqa: F811
    """Every bad candidate is refused; after each one the live files are byte-identical and
    nginx, even reloaded, still serves the old certificate (one play for all cases: fast)."""
    before = {name: hashlib.sha256(data).hexdigest() for name, data in tls_site.files().items()}
    current = pki["current"].fingerprint
    tasks = []
    for name, extra, _why in REFUSALS:
        args = tls_site.args(state_dir=str(state_dir), **pki[name].src_args(), **extra)
        tasks += [
            {"name": "rollback %s" % name, CERT: args, "ignore_errors": True},
            {
                "name": "stat %s" % name,
                "ansible.builtin.stat": {"path": "{{ item }}", "checksum_algorithm": "sha256"},
                "loop": [str(tls_site.cert), str(tls_site.key), str(tls_site.chain)],
            },
            # even a reload after the refusal must keep serving the old certificate
            {"name": "reload %s" % name, "ansible.builtin.command": {"argv": tls_site.reload_command}},
            {"name": "probe %s" % name, PROBE: tls_site.probe_args(expected_fingerprint=current)},
        ]
    run = playbook([{"hosts": "all", "gather_facts": False, "tasks": tasks}])
    for name, _extra, why in REFUSALS:
        res = failed(run, "rollback %s" % name)
        assert res["msg"].startswith("cert_rollback: refusing to restore"), res["msg"]
        assert why in res["msg"] and "left untouched" in res["msg"], res["msg"]
        assert "\n" not in res["msg"]
        after = {
            r["stat"]["path"].rsplit("/", 1)[1]: r["stat"]["checksum"] for r in run.result("stat %s" % name)["results"]
        }
        assert after == before, name
        assert run.task_results("probe %s" % name)[0]["event"] == "runner_on_ok", name
        assert run.result("probe %s" % name)["fingerprint"] == current
    assert not (state_dir / "snapshots" / "ssl").exists() or not any((state_dir / "snapshots" / "ssl").iterdir())
    results = [e["result"] for e in journal(state_dir) if e["action"] == "cert_restore"]
    assert results == ["failed"] * len(REFUSALS)


def test_leaf_only_refused_fullchain_accepted_and_served_valid(playbook, tls_site, pki, state_dir):  # noqa: F811
    """What is validated is what nginx sends: a leaf-only certificate whose intermediate sits only in
    the ssl_trusted_certificate file is refused; the same set as a fullchain is accepted and served valid."""
    good = pki["good"]
    leaf_only = tls_site.args(state_dir=str(state_dir), src_cert=str(good.cert), src_key=str(good.key))
    fullchain = tls_site.args(state_dir=str(state_dir), **good.src_args())
    leaf_only["src_chain"] = str(good.chain)
    before = tls_site.files()
    run = playbook(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {"name": "leaf only", CERT: leaf_only, "ignore_errors": True},
                    {"name": "fullchain", CERT: fullchain},
                    {"name": "reload", "ansible.builtin.command": {"argv": tls_site.reload_command}},
                    {"name": "probe", PROBE: tls_site.probe_args(expected_fingerprint=good.fingerprint)},
                ],
            }
        ]
    )
    res = failed(run, "leaf only")
    assert "clients get no intermediate" in res["msg"] and "left untouched" in res["msg"], res["msg"]
    assert run.result("fullchain")["changed"] and "chain" in run.result("fullchain")["checks"]
    assert tls_site.files() != before
    probe = run.result("probe")
    assert probe["matches_expected"] is True and probe["chain_valid"] is True


def test_refusal_when_nginx_config_already_fails(playbook, tls_site, pki, state_dir):  # noqa: F811
    before = tls_site.files()
    current = pki["current"].fingerprint
    # a config edit (not reloaded) that references a missing file: nginx -t fails before any swap
    tls_site.write_conf("ssl_dhparam %s/missing-dhparam.pem;" % tls_site.live)
    run = playbook(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {
                        "name": "rollback",
                        CERT: tls_site.args(state_dir=str(state_dir), **pki["good"].src_args()),
                        "ignore_errors": True,
                    },
                    {"name": "probe", PROBE: tls_site.probe_args(expected_fingerprint=current)},
                ],
            }
        ]
    )
    res = failed(run, "rollback")
    assert "already fails before any change" in res["msg"] and "missing-dhparam.pem" in res["msg"]
    assert "nothing was swapped" in res["msg"]
    assert tls_site.files() == before
    assert run.result("probe")["fingerprint"] == current


def test_nginx_t_failure_after_swap_puts_old_set_back(playbook, tls_site, pki, state_dir):  # noqa: F811
    """The encrypted key validates (passphrase given) but nginx has no ssl_password_file: nginx -t fails."""
    before = tls_site.files()
    current = pki["current"].fingerprint
    args = tls_site.args(state_dir=str(state_dir), key_passphrase=PASSPHRASE, **pki["passphrase"].src_args())
    run = playbook(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {"name": "rollback", CERT: args, "ignore_errors": True},
                    {"name": "reload", "ansible.builtin.command": {"argv": tls_site.reload_command}},
                    {"name": "probe", PROBE: tls_site.probe_args(expected_fingerprint=current)},
                ],
            }
        ]
    )
    res = failed(run, "rollback")
    assert "failed after the swap" in res["msg"] and "was put back" in res["msg"], res["msg"]
    assert tls_site.files() == before
    assert run.result("probe")["fingerprint"] == current
    results = [e["result"] for e in journal(state_dir) if e["action"] == "cert_restore"]
    assert results == ["reverted"]
    assert PASSPHRASE not in run.stdout and PASSPHRASE not in run.artifacts_text()


def test_snapshot_restore_latest_and_undo(playbook, tls_site, pki, state_dir):  # noqa: F811
    """Snapshot before a deployment, deploy a new cert, roll back to latest, then undo the rollback."""
    current, good = pki["current"], pki["good"]
    base = tls_site.args(state_dir=str(state_dir))
    live = {"cert_path": base["cert_path"], "key_path": base["key_path"], "chain_path": base["chain_path"]}
    deploy = [
        {"name": "deploy %s" % n, "ansible.builtin.copy": {"src": str(s), "dest": str(d), "mode": m}}
        for n, s, d, m in (
            ("cert", good.fullchain, tls_site.cert, "0644"),
            ("key", good.key, tls_site.key, "0600"),
        )
    ]
    run = playbook(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {"name": "backup", CERT: dict(live, state="snapshot", state_dir=str(state_dir)), "register": "b"},
                    {"name": "backup again", CERT: dict(live, state="snapshot", state_dir=str(state_dir))},
                    *deploy,
                    {"name": "rollback", CERT: dict(base, snapshot="latest"), "register": "rb"},
                    {"name": "rollback again", CERT: dict(base, snapshot="latest")},
                    {"name": "undo", CERT: dict(base, snapshot="{{ rb.snapshot.id }}")},
                ],
            }
        ]
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert run.result("backup")["changed"] is True
    assert run.result("backup again")["changed"] is False
    rb = run.result("rollback")
    assert rb["changed"] is True and rb["source"]["type"] == "snapshot"
    assert rb["restored_from"] == run.result("backup")["snapshot"]
    assert rb["fingerprint_before"] == good.fingerprint and rb["fingerprint_after"] == current.fingerprint
    assert run.result("rollback again")["changed"] is False
    undo = run.result("undo")
    assert undo["changed"] is True and undo["fingerprint_after"] == good.fingerprint
    assert tls_site.cert.read_bytes() == good.fullchain.read_bytes()
