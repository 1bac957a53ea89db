"""After the database role: the pre-deploy rows are live, the damaged database is kept."""

import json

STATE = "/var/lib/emergency-rollback"


def sql(host, query, db="shop"):
    return host.check_output('runuser -u postgres -- psql -At -d %s -c "%s"' % (db, query))


def test_all_orders_are_back(host):
    assert sql(host, "SELECT count(*), sum(amount) FROM orders") == "100|7575.00"


def test_the_damaged_database_is_kept_beside_it(host):
    kept = sql(host, "SELECT datname FROM pg_database WHERE datname LIKE 'shop_pre_rollback_%'", db="postgres").split()
    assert len(kept) == 1
    assert sql(host, "SELECT count(*) FROM orders", db=kept[0]) == "50"


def test_snapshots_of_both_states_are_verified_in_the_store(host):
    names = host.check_output("ls %s/snapshots/database" % STATE).split()
    assert {"pre-deploy", "pre-rollback-molecule-database"} <= set(names)
    meta = json.loads(
        host.file("%s/snapshots/database/pre-rollback-molecule-database/meta.json" % STATE).content_string
    )
    assert meta["metadata"]["row_counts"]["orders"] == 50


def test_one_restore_and_no_password_in_the_journal(host):
    text = host.file(STATE + "/journal.jsonl").content_string
    assert "molecule-pg-pass" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    restores = [
        e
        for e in entries
        if e["component"] == "database" and e["action"].startswith("restore") and e["result"] == "changed"
    ]
    assert len(restores) == 1
    assert not host.file(STATE + "/rollback.lock").exists
