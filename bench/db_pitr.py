"""Point-in-time recovery vs the pg_dump snapshot restore of the same data, measured in the same run.

The scenario of issue 16: a snapshot (pg_dump) is taken, the application keeps writing, a deploy
marks a restore point and runs a bad migration, the application writes on; then the database is
rolled back to the moment of the deploy, two ways:

  pitr      emergency.rollback.pg_pitr to the restore point (pgbackrest restore into a new data
            directory, verified on a side port, data directories swapped)
  dump      emergency.rollback.pg_restore_safe of the pg_dump snapshot (restore into a new database,
            row counts compared, swap by rename)

For each: wall time of the ansible-playbook run, and the RPO: seconds between the restore point and
the newest write the rolled-back database still has (writes the application made before the deploy
and that the rollback lost). The snapshot is taken --gap seconds before the deploy (in a real
incident: whenever the last snapshot ran).

    python bench/db_pitr.py [--rows 1000000] [--gap 20]

It starts its own throwaway PostgreSQL and pgBackRest repository and removes them at the end.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from db_restore import DB, populate, run_playbook  # noqa: E402

from tests.harness.pitr import start_pitr_cluster  # noqa: E402


class Writer(threading.Thread):
    """The application: one committed row every 10 ms, each with its commit-side clock_timestamp()."""

    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.stop = threading.Event()
        self.rows = 0

    def run(self):
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                conn.execute("INSERT INTO writes (at) VALUES (clock_timestamp())")
                self.rows += 1
                time.sleep(0.01)


def task(tmp, name, module, args):
    play = {"hosts": "all", "gather_facts": False, "tasks": [{"name": name, module: args}]}
    start = time.monotonic()
    run = run_playbook(tmp, [play])
    elapsed = time.monotonic() - start
    assert run.rc == 0, run.stdout[-3000:]
    return run.result(name), elapsed


def newest_write_before(server, cutoff):
    with psycopg.connect(server.dsn(DB)) as conn:
        return conn.execute(
            "SELECT extract(epoch FROM max(at))::float8 FROM writes WHERE at <= to_timestamp(%s)", (cutoff,)
        ).fetchone()[0]


def orders(server):
    with psycopg.connect(server.dsn(DB)) as conn:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--gap", type=float, default=20.0, help="seconds between the snapshot and the deploy")
    opts = parser.parse_args()
    cluster = start_pitr_cluster()
    server = cluster.server
    tmp = cluster.base / "bench"
    state_dir = tmp / "state"
    try:
        t = time.monotonic()
        populate(server, opts.rows)
        with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
            conn.execute("CREATE TABLE writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL)")
        print("generated %d orders in %.1f s" % (opts.rows, time.monotonic() - t))
        _res, elapsed = task(
            tmp / "pb", "setup", "emergency.rollback.pgbackrest_stanza", cluster.stanza_args(state_dir)
        )
        print("pgbackrest_stanza (config, archive_command + restart, stanza, full backup, check): %.1f s" % elapsed)

        writer = Writer(server.dsn(DB))
        writer.start()
        time.sleep(1)
        pg_args = dict(server.params(DB), state_dir=str(state_dir), bin_dir=str(server.bin_dir))
        _res, elapsed = task(tmp / "pb", "snap", "emergency.rollback.pg_snapshot", dict(pg_args, snapshot_id="bench"))
        print("pg_snapshot (pg_dump -Fc): %.1f s; the deploy comes %.0f s later" % (elapsed, opts.gap))
        time.sleep(opts.gap)
        pitr_args = cluster.pitr_args(state_dir, DB)
        with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
            # the deploy: the restore point and its time in one statement (pg_pitr state=restore_point
            # does the same, but its task's return would add the runner's seconds to the measured RPO)
            deploy = conn.execute(
                "SELECT extract(epoch FROM clock_timestamp())::float8, pg_create_restore_point('deploy')"
            ).fetchone()[0]
            conn.execute("SELECT pg_switch_wal()")
            conn.execute("DELETE FROM orders WHERE id % 2 = 0")
        time.sleep(3)
        writer.stop.set()
        writer.join()
        print("writer: %d rows committed; the bad migration deleted half the orders" % writer.rows)

        res, pitr_s = task(tmp / "pb", "pitr", "emergency.rollback.pg_pitr", dict(pitr_args, target_name="deploy"))
        pitr_rpo = deploy - newest_write_before(server, deploy)
        pitr_orders = orders(server)
        print("pg_pitr phases: %s" % res["timings"])
        task(tmp / "pb", "revert", "emergency.rollback.pg_pitr", dict(pitr_args, state="reverted"))
        assert orders(server) == opts.rows // 2, "the revert did not bring the bad state back"

        _res, dump_s = task(
            tmp / "pb", "restore", "emergency.rollback.pg_restore_safe", dict(pg_args, snapshot="bench")
        )
        dump_rpo = deploy - newest_write_before(server, deploy)
        dump_orders = orders(server)

        print()
        print(
            "| rollback to the deploy (%d orders) | time | RPO (writes lost before the deploy) | orders back |"
            % opts.rows
        )
        print("|---|---|---|---|")
        print("| pg_pitr to the restore point | %.1f s | %.3f s | %d |" % (pitr_s, pitr_rpo, pitr_orders))
        print("| pg_restore_safe of the pg_dump snapshot | %.1f s | %.3f s | %d |" % (dump_s, dump_rpo, dump_orders))
        print("time ratio pitr/dump: %.2f; the dump's RPO is the time since the snapshot (--gap)" % (pitr_s / dump_s))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
