"""After the ssl role: nginx serves the certificate for the right name; the bad one is kept."""

import json

PKI = "/etc/rollback-pki"
STATE = "/var/lib/emergency-rollback"


def fingerprint(host, cmd):
    out = host.check_output(cmd + " | openssl x509 -noout -fingerprint -sha256")
    return out.split("=", 1)[1].replace(":", "").lower()


def test_live_files_are_the_good_set(host):
    assert host.file("/etc/nginx/tls/server.crt").content == host.file(PKI + "/good.crt").content
    assert host.file("/etc/nginx/tls/server.key").content == host.file(PKI + "/good.key").content
    assert host.file("/etc/nginx/tls/server.key").mode == 0o600


def test_nginx_serves_the_restored_certificate(host):
    served = fingerprint(
        host, "openssl s_client -connect 127.0.0.1:443 -servername shop.example.test </dev/null 2>/dev/null"
    )
    assert served == fingerprint(host, "cat %s/good.crt" % PKI)
    assert host.service("nginx").is_running


def test_the_replaced_bad_set_is_kept_as_a_snapshot(host):
    bad_sum = host.check_output("sha256sum %s/bad.crt" % PKI).split()[0]
    sums = host.check_output("find %s/snapshots/ssl -type f -path '*/files/*' -exec sha256sum {} +" % STATE)
    kept = [path for digest, path in (line.split(None, 1) for line in sums.splitlines()) if digest == bad_sum]
    assert len(kept) == 1, "exactly one snapshot should hold the replaced certificate"
    snapshot_dir = kept[0].split("/files/")[0]
    assert fingerprint(host, "cat %s" % kept[0]) == fingerprint(host, "cat %s/bad.crt" % PKI)
    key = host.run("find %s/files -name '*key*' -type f -printf '%%m\\n'" % snapshot_dir)
    assert key.stdout.split() and set(key.stdout.split()) == {"600"}


def test_journal_has_one_swap(host):
    entries = [json.loads(line) for line in host.file(STATE + "/journal.jsonl").content_string.splitlines()]
    swaps = [
        e for e in entries if e["component"] == "ssl" and e["result"] == "changed" and e.get("run_id") == "molecule-ssl"
    ]
    assert len(swaps) == 1
    assert not host.file(STATE + "/rollback.lock").exists
