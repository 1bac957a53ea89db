"""The ssl and cache roles through their playbooks, and the secret-leak check across both."""

from __future__ import annotations

import json

import pytest

from tests.harness.ansible import REPO
from tests.harness.pki import PASSPHRASE
from tests.harness.sslcache import memcached, pki, purge_server, ssl_vars, tls_site  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration
SSL_PLAYBOOK = str(REPO / "playbooks" / "rollback_ssl.yml")
CACHE_PLAYBOOK = str(REPO / "playbooks" / "rollback_cache.yml")
PROVE = "Prove nginx serves the restored certificate"
FAIL_TASK = "Fail saying what failed and what was reverted"


def test_ssl_role_check_then_restore_and_prove(playbook, tls_site, pki, state_dir):  # noqa: F811
    good = pki["good"]
    before = tls_site.files()
    extravars = ssl_vars(tls_site, state_dir, good, rollback_run_id="rb-ssl-1")
    plan = playbook(SSL_PLAYBOOK, extravars=extravars, check=True, diff=True)
    assert plan.rc == 0, plan.stdout[-3000:]
    swap = plan.result("Snapshot the live set, swap the candidate in, nginx -t")
    assert swap["changed"] is True and swap["fingerprint_after"] == good.fingerprint
    assert tls_site.files() == before
    assert good.fingerprint in plan.stdout  # the diff shows the fingerprints

    run = playbook(SSL_PLAYBOOK, extravars=extravars)
    assert run.rc == 0, run.stdout[-3000:]
    assert run.result("Record the certificate nginx serves now")["fingerprint"] == pki["current"].fingerprint
    proved = run.result(PROVE)
    assert proved["fingerprint"] == good.fingerprint and proved["chain_valid"] is True
    assert tls_site.cert.read_bytes() == good.fullchain.read_bytes()
    assert not (state_dir / "rollback.lock").exists()
    journal = (state_dir / "journal.jsonl").read_text()
    assert '"run_id":"rb-ssl-1"' in journal and '"action":"cert_restore"' in journal

    again = playbook(SSL_PLAYBOOK, extravars=extravars)
    assert again.rc == 0
    assert again.result("Snapshot the live set, swap the candidate in, nginx -t")["changed"] is False
    assert again.task_results("Reload nginx")[0]["event"] == "runner_on_skipped"


def test_ssl_role_reverts_when_nginx_does_not_serve_it(playbook, tls_site, pki, state_dir):  # noqa: F811
    """The reload command does nothing (wrong unit, say): the probe never sees the new certificate."""
    before = tls_site.files()
    extravars = ssl_vars(tls_site, state_dir, pki["good"], ssl_reload_command=["true"], ssl_probe_retries=2)
    run = playbook(SSL_PLAYBOOK, extravars=extravars)
    assert run.rc != 0
    assert run.task_results(PROVE)[0]["event"] == "runner_on_failed"
    reverted = run.result("Put back the set that was live before the swap")
    assert reverted["changed"] is True and reverted["fingerprint_after"] == pki["current"].fingerprint
    failure = run.result(FAIL_TASK)["msg"]
    assert "not the expected" in failure and "was put back" in failure
    assert tls_site.files() == before
    assert not (state_dir / "rollback.lock").exists()


def test_ssl_role_reverts_when_the_served_chain_does_not_verify(playbook, tls_site, pki, state_dir):  # noqa: F811
    """The set validated, nginx serves it, yet a client asking for the probed name cannot verify what
    it receives: verify compares the served chain with what was validated, fails and reverts."""
    before = tls_site.files()
    extravars = ssl_vars(tls_site, state_dir, pki["good"], ssl_probe_server_name="other.example.test")
    run = playbook(SSL_PLAYBOOK, extravars=extravars)
    assert run.rc != 0, run.stdout[-3000:]
    proved = run.result(PROVE)
    assert proved["fingerprint"] == pki["good"].fingerprint and proved["chain_valid"] is False
    failure = run.result(FAIL_TASK)["msg"]
    assert "the chain nginx serves does not" in failure and "was put back" in failure
    assert tls_site.files() == before


def test_cache_role_flushes_every_backend(playbook, redis_factory, memcached, purge_server, state_dir):  # noqa: F811
    server = redis_factory()
    client = server.client()
    client.mset({"page:%d" % i: "x" for i in range(500)} | {"keep:%d" % i: "x" for i in range(300)})
    memcached.set("fragment", "v")
    extravars = {
        "rollback_hosts": "all",
        "cache_state_dir": str(state_dir),
        "cache_redis_enabled": True,
        "cache_redis_port": server.port,
        "cache_redis_patterns": ["page:*"],
        "cache_memcached_servers": ["127.0.0.1:%d" % memcached.port],
        "cache_cdn_purge_urls": [purge_server.url + "/purge/app"],
        "cache_cdn_body": {"purge_everything": True},
    }
    plan = playbook(CACHE_PLAYBOOK, extravars=extravars, check=True)
    assert plan.rc == 0, plan.stdout[-3000:]
    assert plan.result("Flush Redis")["deleted"] == {"page:*": 500}
    assert client.dbsize() == 800 and purge_server.requests == []

    run = playbook(CACHE_PLAYBOOK, extravars=extravars)
    assert run.rc == 0, run.stdout[-3000:]
    assert run.result("Flush Redis")["deleted"] == {"page:*": 500}
    assert client.dbsize() == 300
    assert memcached.get("fragment") is None
    assert [r["path"] for r in purge_server.requests] == ["/purge/app"]
    assert not (state_dir / "rollback.lock").exists()


def test_no_secret_in_output_artifacts_or_journal(playbook, tls_site, pki, redis_factory, purge_server, state_dir):  # noqa: F811
    """Key passphrase, Redis password and CDN token: used for real, never shown."""
    redis_password, cdn_token, api_key = "redis-Secret-7f3a9c", "cdn-Secret-2b8e41", "hdr-Secret-90d1c5"
    passfile = tls_site.live.parent / "passphrase.txt"
    passfile.write_text(PASSPHRASE + "\n")
    tls_site.write_conf("ssl_password_file %s;" % passfile)
    tls_site.nginx.reload()
    server = redis_factory(password=redis_password)
    server.client().mset({"page:%d" % i: "x" for i in range(50)})
    encrypted = pki["passphrase"]
    extravars = ssl_vars(tls_site, state_dir, encrypted, ssl_key_passphrase=PASSPHRASE)
    extravars.update(
        cache_state_dir=str(state_dir),
        cache_redis_enabled=True,
        cache_redis_port=server.port,
        cache_redis_password=redis_password,
        cache_redis_patterns=["page:*"],
        cache_cdn_purge_urls=[purge_server.url + "/purge"],
        cache_cdn_token=cdn_token,
        cache_cdn_headers={"X-Api-Key": api_key, "X-Purge-Reason": "release v42 rolled back"},
    )
    plays = [{"import_playbook": SSL_PLAYBOOK}, {"import_playbook": CACHE_PLAYBOOK}]
    run = playbook(plays, extravars=extravars, diff=True, verbosity=3)
    assert run.rc == 0, run.stdout[-3000:]
    # the secrets were really used
    assert run.result(PROVE)["fingerprint"] == encrypted.fingerprint
    assert run.result("Flush Redis")["total_deleted"] == 50
    assert purge_server.requests[0]["headers"]["Authorization"] == "Bearer " + cdn_token
    assert purge_server.requests[0]["headers"]["X-Api-Key"] == api_key
    # and never shown (the places searched do hold the runs' full output and results)
    journal = (state_dir / "journal.jsonl").read_text()
    assert "cert_restore" in journal and "redis_flush" in journal and "cdn_purge" in journal
    assert encrypted.fingerprint in run.artifacts_text() and "Flush Redis" in run.stdout
    for secret in (PASSPHRASE, redis_password, cdn_token, api_key):
        assert secret not in run.stdout
        assert secret not in run.artifacts_text()
        assert secret not in journal


def test_ssl_role_refuses_an_expired_candidate_before_any_change(playbook, tls_site, pki, state_dir):  # noqa: F811
    before = tls_site.files()
    run = playbook(SSL_PLAYBOOK, extravars=ssl_vars(tls_site, state_dir, pki["expired"]))
    assert run.rc != 0
    refused = run.task_results("Validate the candidate set without touching anything")[0]
    assert refused["event"] == "runner_on_failed" and "certificate expired on" in refused["res"]["msg"]
    assert "Snapshot the live set, swap the candidate in, nginx -t" not in run.results
    assert run.task_results("Put back the set that was live before the swap")[0]["event"] == "runner_on_skipped"
    failure = run.result(FAIL_TASK)["msg"]
    assert "certificate expired on" in failure and "Reverted: nothing, nothing had changed" in failure
    assert tls_site.files() == before
    assert not (state_dir / "rollback.lock").exists()


def verdicts(state_dir):
    journal = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    return [j for j in journal if j["action"] == "verify"]


def test_cache_role_failure_after_the_flush_says_it_cannot_be_undone(playbook, redis_factory, state_dir, tmp_path):
    server = redis_factory()
    client = server.client()
    client.mset({"page:%d" % i: "x" for i in range(20)})
    hook = tmp_path / "warm.yml"
    hook.write_text("- name: Warm the cache again (fails)\n  ansible.builtin.fail:\n    msg: warmer down\n")
    extravars = {
        "rollback_hosts": "all",
        "cache_state_dir": str(state_dir),
        "cache_redis_enabled": True,
        "cache_redis_port": server.port,
        "cache_redis_patterns": ["page:*"],
        "cache_hooks_after_rollback": [str(hook)],
    }
    run = playbook(CACHE_PLAYBOOK, extravars=extravars)
    assert run.rc != 0
    msg = run.result(FAIL_TASK)["msg"]
    assert "warmer down" in msg and "a cache flush cannot be undone, Redis 20 keys deleted" in msg
    [verdict] = verdicts(state_dir)
    assert verdict["result"] == "failed" and "cannot be undone" in verdict["message"]
    assert client.dbsize() == 0
    assert not (state_dir / "rollback.lock").exists()


def test_ssl_role_failing_hook_after_the_swap_puts_the_previous_set_back(playbook, tls_site, pki, state_dir, tmp_path):  # noqa: F811
    before = tls_site.files()
    hook = tmp_path / "after.yml"
    hook.write_text("- name: A check of ours that fails\n  ansible.builtin.fail:\n    msg: smoke test failed\n")
    extravars = ssl_vars(tls_site, state_dir, pki["good"], ssl_hooks_after_verify=[str(hook)])
    run = playbook(SSL_PLAYBOOK, extravars=extravars)
    assert run.rc != 0
    failure = run.result(FAIL_TASK)["msg"]
    assert "failed in the verify phase" in failure and "smoke test failed" in failure and "was put back" in failure
    assert tls_site.files() == before
    [verdict] = verdicts(state_dir)
    assert verdict["result"] == "failed"
    assert not (state_dir / "rollback.lock").exists()
