"""Point-in-time recovery with real PostgreSQL and real pgBackRest (pgbackrest_stanza, pg_pitr)."""

from __future__ import annotations

import glob
import json
import os
import signal
import threading
import time

import pytest

from tests.harness.ansible import REPO
from tests.harness.database import new_database
from tests.harness.pitr import start_pitr_cluster

pytestmark = pytest.mark.integration

STANZA = "emergency.rollback.pgbackrest_stanza"
PITR = "emergency.rollback.pg_pitr"


@pytest.fixture
def cluster():
    started = start_pitr_cluster()
    yield started
    started.stop()


@pytest.fixture
def ready(cluster, task, state_dir):
    """A cluster set up for PITR (stanza, archive, one full backup) with the users/orders database."""
    db = new_database(cluster.server, users=20, orders=50)
    event, res, _ = task(STANZA, cluster.stanza_args(state_dir))
    assert event == "runner_on_ok" and res["backup"], res
    return db


def test_stanza_setup_four_runs(four, cluster, state_dir):
    check, real, again, last = four(STANZA, cluster.stanza_args(state_dir))
    assert check["restarted"] and check["stanza_created"] and check["backup"] == "planned"
    assert real["backup"].endswith("F") and real["backups"] == 1 and real["restarted"]
    assert (again["backup"], last["backup"], last["restarted"], last["stanza_created"]) == (None, None, False, False)
    assert cluster.server.psql("SHOW archive_mode") == "on"
    assert "archive-push" in cluster.server.psql("SHOW archive_command")


def journal(state_dir):
    return [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]


def columns(db, table):
    return [
        r[0] for r in db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    ]


def test_recover_to_restore_point_then_revert(ready, cluster, four, task, state_dir):
    db = ready
    db.execute("INSERT INTO users (name) SELECT 'before' || g FROM generate_series(1, 30) g")
    point = cluster.pitr_args(state_dir, db.name, state="restore_point", target_name="before-deploy-r42")
    event, res, _ = task(PITR, point)
    assert event == "runner_on_ok" and res["changed"] and res["target_lsn"], res
    event, again, _ = task(PITR, point)
    assert event == "runner_on_ok" and not again["changed"] and again["target_lsn"] == res["target_lsn"]
    good = db.counts()
    # the bad migration, then the application keeps writing
    db.execute("ALTER TABLE orders DROP COLUMN total")
    db.execute("DELETE FROM billing.invoices; DELETE FROM orders WHERE id > 25; DELETE FROM users WHERE id > 30")
    db.execute("INSERT INTO users (name) SELECT 'after' || g FROM generate_series(1, 5) g")
    bad = db.counts()
    args = cluster.pitr_args(
        state_dir,
        db.name,
        target_name="before-deploy-r42",
        checks=["SELECT count(*) = 50 FROM users WHERE name NOT LIKE 'after%'"],
        row_counts=good,
    )
    check, real, check_again, real_again = four(PITR, args)
    # check mode saw the writes after the restore point that recovery drops
    assert check["lost"]["transactions"] >= 3 and check["backup"] == real["backup"]
    assert real["recovery_stop"].startswith('recovery stopping at restore point "before-deploy-r42"')
    assert real["verified"] == ["target reached", "1 SQL checks", "row counts of 3 tables"]
    assert db.counts() == good and "total" in columns(db, "orders")
    assert not db.execute("SELECT 1 FROM users WHERE name LIKE 'after%'")
    # the data directory that was live is kept beside it, with the bad state in it
    assert cluster.kept_dirs("pre_pitr") == [real["pre_pitr_dir"]]
    assert os.path.isfile(os.path.join(real["pre_pitr_dir"], "PG_VERSION"))
    assert check_again["pre_pitr_dir"] == real_again["pre_pitr_dir"] == real["pre_pitr_dir"]
    assert not cluster.kept_dirs("pitr")
    # the rollback of the rollback
    event, rev, _ = task(PITR, cluster.pitr_args(state_dir, db.name, state="reverted"))
    assert event == "runner_on_ok" and rev["changed"], rev
    assert db.counts() == bad and "total" not in columns(db, "orders")
    assert cluster.kept_dirs("reverted_pitr") == [rev["reverted_dir"]]
    event, rev2, _ = task(PITR, cluster.pitr_args(state_dir, db.name, state="reverted"))
    assert event == "runner_on_ok" and not rev2["changed"]


def test_recover_to_a_time_between_two_commits(ready, cluster, task, state_dir):
    db = ready
    db.execute("INSERT INTO users (name) VALUES ('first')")
    time.sleep(0.2)
    between = db.execute("SELECT clock_timestamp()")[0][0]
    time.sleep(0.2)
    db.execute("INSERT INTO users (name) VALUES ('second')")
    event, res, _ = task(PITR, cluster.pitr_args(state_dir, db.name, target_time=str(between)))
    assert event == "runner_on_ok" and res["changed"], res.get("msg")
    assert res["recovery_stop"].startswith("recovery stopping before commit of transaction")
    names = [r[0] for r in db.execute("SELECT name FROM users WHERE name IN ('first', 'second')")]
    assert names == ["first"]
    assert res["lost"]["transactions"] >= 1


def nothing_changed(cluster, db, ino, counts):
    assert os.stat(cluster.server.data).st_ino == ino
    assert not cluster.kept_dirs("pitr") and not cluster.kept_dirs("pre_pitr")
    assert db.counts() == counts


def test_refusals_change_nothing(ready, cluster, task, playbook, state_dir):
    db = ready
    ino, counts = os.stat(cluster.server.data).st_ino, db.counts()
    args = cluster.pitr_args(state_dir, db.name)
    cases = {
        "never created": dict(target_name="never-created"),
        "future": dict(target_time="2099-01-01 00:00:00+00"),
        "lsn": dict(target_lsn="FF/0"),
        "before backup": dict(target_time="2000-01-01 00:00:00+00"),
    }
    # one play (one runner start) for the four refusals
    tasks = [{"name": label, PITR: dict(args, **extra), "ignore_errors": True} for label, extra in cases.items()]
    run = playbook([{"hosts": "all", "gather_facts": False, "tasks": tasks}])
    refused = {}
    for label in cases:
        (res,) = run.task_results(label)
        assert res["event"] == "runner_on_failed", (label, res["res"])
        refused[label] = res["res"]["msg"]
    nothing_changed(cluster, db, ino, counts)
    assert (
        "does not reach the target: restore point never-created is not in the WAL archive" in refused["never created"]
    )
    assert "time 2099-01-01 00:00:00+00 is beyond the WAL archive" in refused["future"]
    assert "LSN FF/0 is beyond the WAL archive" in refused["lsn"]
    assert "before the oldest usable backup" in refused["before backup"]
    # a restore point that is in the archive, but no room for the new data directory
    task(PITR, dict(args, state="restore_point", target_name="rp1"))
    event, res, _ = task(PITR, dict(args, target_name="rp1", disk_factor=1e9))
    assert event == "runner_on_failed" and "bytes free beside" in res["msg"] and "nothing was changed" in res["msg"]
    nothing_changed(cluster, db, ino, counts)
    # a WAL segment missing between the backup and the restore point
    db.execute("INSERT INTO users (name) VALUES ('x')")
    db.execute("SELECT pg_switch_wal()")
    db.execute("INSERT INTO users (name) VALUES ('y')")
    task(PITR, dict(args, state="restore_point", target_name="rp2"))
    segments = sorted(glob.glob(str(cluster.repo / "archive" / "main" / "*" / "*" / "0000000*")))
    rp1_segment = [s for s in segments if ".partial" not in s][-3]
    os.unlink(rp1_segment)
    event, res, _ = task(PITR, dict(args, target_name="rp2"))
    assert event == "runner_on_failed", res
    assert "the archive has a gap: WAL segment %s is missing" % os.path.basename(rp1_segment)[:24] in res["msg"]
    nothing_changed(cluster, db, ino, dict(counts, users=counts["users"] + 2))


def _pids_with(marker):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    if marker in handle.read().decode(errors="replace"):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_sigkill_during_recovery_then_rerun(ready, cluster, task, state_dir):
    db = ready
    task(PITR, cluster.pitr_args(state_dir, db.name, state="restore_point", target_name="rp"))
    good = db.counts()
    db.execute("DELETE FROM billing.invoices")
    bad = db.counts()
    # the check sleeps on the side cluster: the module is killed while the recovered copy is being verified
    args = cluster.pitr_args(state_dir, db.name, target_name="rp", checks=["SELECT pg_sleep(3) IS NOT NULL"])
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(r=task(PITR, args)))
    worker.start()
    killed = []
    deadline = time.monotonic() + 90
    while not killed and time.monotonic() < deadline and worker.is_alive():
        sleeping = _pids_with("SELECT pg_sleep(3)") or []
        if cluster.kept_dirs("pitr") and _pids_with(".pitr-"):
            for pid in _pids_with("AnsiballZ_pg_pitr"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.1 if not sleeping else 0)
    worker.join(120)
    assert killed, "never saw the side cluster running"
    assert outcome["r"][0] == "runner_on_failed"
    # the live cluster kept serving, untouched
    assert db.counts() == bad and cluster.kept_dirs("pitr") and not cluster.kept_dirs("pre_pitr")
    event, res, _ = task(PITR, dict(args, checks=[]))
    assert event == "runner_on_ok" and res["changed"], res.get("msg")
    assert len(res["removed"]) == 1 and not os.path.exists(res["removed"][0])
    assert db.counts() == good and not cluster.kept_dirs("pitr")
    # killed later, after the directories were swapped and before the cluster started: the re-run finishes
    (state_file,) = glob.glob(str(state_dir / "database" / "pitr-*.json"))
    state = json.loads(open(state_file).read())
    state.update(state="swapping", restored_ino=os.stat(cluster.server.data).st_ino)
    with open(state_file, "w") as handle:
        json.dump(state, handle)
    cluster.server.stop()
    event, res, _ = task(PITR, dict(args, checks=[]))
    assert event == "runner_on_ok" and res["changed"], res.get("msg")
    assert res["journal_entry"]["message"].startswith("finished the swap an interrupted run made")
    assert db.counts() == good


def test_role_pitr_strategy_and_setup_playbook(cluster, playbook, task, state_dir):
    db = new_database(cluster.server, users=20, orders=50)
    role_vars = cluster.role_vars(state_dir, db.name, rollback_run_id="rb-pitr-1")
    run = playbook(str(REPO / "playbooks" / "pitr_setup.yml"), extravars=role_vars)
    assert run.rc == 0, run.stdout[-3000:]
    task(PITR, cluster.pitr_args(state_dir, db.name, state="restore_point", target_name="before-deploy-7"))
    good = db.counts()
    db.execute("DELETE FROM billing.invoices")
    run = playbook(
        str(REPO / "playbooks" / "rollback_database.yml"),
        extravars=dict(
            role_vars,
            database_strategy="pitr",
            database_pitr_target_name="before-deploy-7",
            database_restore_checks=["SELECT count(*) = 5 FROM billing.invoices"],
        ),
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert db.counts() == good and len(cluster.kept_dirs("pre_pitr")) == 1
    verdict = [e for e in journal(state_dir) if e["action"] == "verify"][-1]
    assert verdict["result"] == "ok" and "point-in-time recovery to name before-deploy-7" in verdict["message"]


def test_snapshot_playbook_takes_a_restore_point_the_pitr_strategy_recovers_to(cluster, playbook, state_dir):
    """With pgBackRest the recovery point is also a PITR restore point of the same name."""
    db = new_database(cluster.server, users=20, orders=50)
    role_vars = cluster.role_vars(state_dir, db.name, rollback_state_dir=str(state_dir))
    run = playbook(str(REPO / "playbooks" / "pitr_setup.yml"), extravars=role_vars)
    assert run.rc == 0, run.stdout[-3000:]
    point = "rp-20261126T120000Z"
    snapshot = dict(
        role_vars,
        rollback_components=["database"],
        rollback_group_database="all",
        snapshot_recovery_point=point,
    )
    run = playbook(str(REPO / "playbooks" / "snapshot.yml"), extravars=snapshot)
    assert run.rc == 0, run.stdout[-3000:]
    created = run.task_results("Create the PITR restore point of the recovery point")
    assert [r["res"]["changed"] for r in created] == [True]
    lsn = created[0]["res"]["target_lsn"]
    assert "PITR restore point %s on localhost at LSN %s" % (point, lsn) in run.stdout
    manifest = json.loads((state_dir / "recovery_points" / ("%s.json" % point)).read_text())
    assert manifest["parts"]["database"]["restore_point"] == {"name": point, "lsn": lsn}
    # the same recovery point again: the restore point exists, nothing new
    again = playbook(str(REPO / "playbooks" / "snapshot.yml"), extravars=snapshot)
    assert again.rc == 0, again.stdout[-3000:]
    assert [r["res"]["changed"] for r in again.task_results("Create the PITR restore point of the recovery point")] == [
        False
    ]

    good = db.counts()
    db.execute("DELETE FROM billing.invoices")
    run = playbook(
        str(REPO / "playbooks" / "rollback_database.yml"),
        extravars=dict(
            role_vars, rollback_run_id="rb-pitr-rp", database_strategy="pitr", database_pitr_target_name=point
        ),
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert db.counts() == good
