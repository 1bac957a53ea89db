"""After the app role: the previous release is live and healthy, the bad one is kept and marked."""

import json

import pytest

ROOT = "/srv/shop"
BAD, GOOD = "20261123T090000Z", "20261122T090000Z"
STATE = "/var/lib/emergency-rollback"


def test_previous_release_is_live(host):
    assert host.file(ROOT + "/current").linked_to == ROOT + "/releases/" + GOOD


def test_shop_unit_serves_the_previous_release(host):
    assert host.service("shop").is_running
    health = host.run("curl -fsS http://127.0.0.1:8080/health.json")
    assert health.rc == 0 and json.loads(health.stdout)["version"] == "1.4.2"


def test_bad_release_is_kept_and_marked_bad(host):
    assert host.file(ROOT + "/releases/" + BAD + "/public/index.html").content_string == "shop 1.5.0\n"
    bad = json.loads(host.file(ROOT + "/.rollback/bad.json").content_string)
    assert BAD in bad and bad[BAD]["run_id"] == "molecule-app"


def test_flag_off_and_the_old_env_kept_as_snapshot(host):
    env = host.file(ROOT + "/shared/.env")
    assert "ENABLE_NEW_PAYMENT_FLOW=false" in env.content_string
    assert env.mode == 0o600
    snapshots = host.run("grep -rl ENABLE_NEW_PAYMENT_FLOW=true %s/snapshots" % STATE)
    assert snapshots.rc == 0 and snapshots.stdout.strip()


@pytest.fixture
def journal(host):
    text = host.file(STATE + "/journal.jsonl").content_string
    return [json.loads(line) for line in text.splitlines()]


def test_journal_records_one_switch_and_one_restart(host, journal):
    switches = [e for e in journal if e["component"] == "app" and e["result"] == "changed" and e["to"] == GOOD]
    assert len(switches) == 1 and switches[0]["from"] == BAD
    assert len([e for e in journal if e["action"] == "restart"]) == 1
    assert all(e["run_id"] == "molecule-app" for e in journal)
    assert "s3cret-db-pass" not in host.file(STATE + "/journal.jsonl").content_string


def test_lock_released(host):
    assert not host.file(STATE + "/rollback.lock").exists
