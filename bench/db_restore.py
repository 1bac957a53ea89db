"""Restore of a PostgreSQL database of >= 1 million rows, three ways, measured in the same run:

  ours      emergency.rollback.pg_restore_safe through ansible-playbook: checksum + archive check,
            pg_restore -j2 into a NEW database, row counts of every table compared with the
            snapshot, sessions terminated, swap by rename (the old database kept)
  raw       pg_restore -j2 --clean --if-exists straight into the live database (no checks)
  psql      psql < plain.sql, the runbooks' way (plain pg_dump --clean, psql without ON_ERROR_STOP)

    python bench/db_restore.py [rows] [rounds]

It starts its own throwaway PostgreSQL (tests/harness/services.py) and stops it at the end.
Rounds alternate the three methods; the median of each is reported with the ratios.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from tests.harness import services  # noqa: E402
from tests.harness.ansible import run_playbook as _run_playbook  # noqa: E402


def run_playbook(*args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return _run_playbook(*args, **kwargs)


DB = "bench"


def populate(server, rows):
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s" % DB)
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL);"
            "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id),"
            " total numeric(10,2) NOT NULL, note text, created_at timestamptz NOT NULL);"
        )
        customers = max(1, rows // 10)
        conn.execute(
            "INSERT INTO customers SELECT g, 'customer ' || g, now() - g * interval '1 minute'"
            " FROM generate_series(1, %s) g",
            (customers,),
        )
        conn.execute(
            "INSERT INTO orders SELECT g, 1 + g %% %s, (g %% 1000) / 10.0, md5(g::text),"
            " now() - g * interval '1 second' FROM generate_series(1, %s) g",
            (customers, rows),
        )
        conn.execute(
            "CREATE INDEX orders_customer ON orders (customer_id); CREATE INDEX orders_created ON orders (created_at)"
        )
        conn.execute("VACUUM ANALYZE")
        return conn.execute("SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders)").fetchone()[0]


def pg_env(server):
    return dict(os.environ, PGPASSWORD=server.password, PGHOST=server.host, PGPORT=str(server.port), PGUSER=server.user)


def timed(argv, server, stdin=None):
    start = time.monotonic()
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as handle:
        proc = subprocess.run(argv, env=pg_env(server), stdin=handle, capture_output=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit("%s failed: %s" % (argv[0], proc.stderr.decode(errors="replace")[-2000:]))
    return elapsed


def total_rows(server):
    with psycopg.connect(server.dsn(DB)) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders)").fetchone()[0]


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with tempfile.TemporaryDirectory(prefix="bench-db-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        server = services.start_postgres(tmp / "pg")
        try:
            t = time.monotonic()
            expected = populate(server, rows)
            print("generated %d rows (orders %d + customers) in %.1f s" % (expected, rows, time.monotonic() - t))
            state_dir = tmp / "state"
            args = dict(server.params(DB), state_dir=str(state_dir), bin_dir=str(server.bin_dir))
            t = time.monotonic()
            snap = run_playbook(
                tmp / "pb",
                [
                    {
                        "hosts": "all",
                        "gather_facts": False,
                        "tasks": [{"name": "snap", "emergency.rollback.pg_snapshot": dict(args, snapshot_id="bench")}],
                    }
                ],
            )
            snap_res = snap.result("snap")
            assert snap.rc == 0, snap.stdout[-2000:]
            print(
                "pg_snapshot (pg_dump -Fc + row counts): %.1f s wall, dump %.1f MB"
                % (time.monotonic() - t, snap_res["snapshot_meta"]["size"] / 1e6)
            )
            dump = snap_res["dump_path"]
            plain = tmp / "plain.sql"
            timed([str(server.bin_dir / "pg_dump"), "--clean", "--if-exists", "--file=%s" % plain, DB], server)

            results = {"ours": [], "ours (module)": [], "raw": [], "psql": []}
            for n in range(rounds):
                start = time.monotonic()
                run = run_playbook(
                    tmp / "pb",
                    [
                        {
                            "hosts": "all",
                            "gather_facts": False,
                            "tasks": [
                                {
                                    "name": "restore",
                                    "emergency.rollback.pg_restore_safe": dict(
                                        # the same work as before safety copies existed: the
                                        # pre-rollback database is kept, no extra pg_dump
                                        args,
                                        snapshot="bench",
                                        jobs=2,
                                        keep=1,
                                        safety_snapshot=False,
                                    ),
                                }
                            ],
                        }
                    ],
                )
                results["ours"].append(time.monotonic() - start)
                res = run.result("restore")
                assert run.rc == 0 and res.get("changed"), res.get("msg")
                results["ours (module)"].append(res["duration_s"])
                assert total_rows(server) == expected
                if n == 0:
                    print("  ours, phases: %s" % res["timings"])
                # make the next "ours" round restore again (a new snapshot identity is not needed: revert)
                revert = run_playbook(
                    tmp / "pb",
                    [
                        {
                            "hosts": "all",
                            "gather_facts": False,
                            "tasks": [
                                {"name": "revert", "emergency.rollback.pg_restore_safe": dict(args, state="reverted")}
                            ],
                        }
                    ],
                )
                assert revert.rc == 0, revert.stdout[-2000:]

                results["raw"].append(
                    timed(
                        [
                            str(server.bin_dir / "pg_restore"),
                            "--clean",
                            "--if-exists",
                            "--jobs=2",
                            "--dbname=%s" % DB,
                            dump,
                        ],
                        server,
                    )
                )
                assert total_rows(server) == expected
                results["psql"].append(timed([str(server.bin_dir / "psql"), "-X", "-q", "-d", DB], server, stdin=plain))
                assert total_rows(server) == expected
                print("round %d: %s" % (n + 1, ", ".join("%s %.2f s" % (k, v[-1]) for k, v in results.items())))

            med = {k: statistics.median(v) for k, v in results.items()}
            print()
            print("restore of %d rows (median of %d round(s)):" % (expected, rounds))
            for key, value in med.items():
                print("  %-14s %7.2f s" % (key, value))
            print("ratios:")
            print("  ours / raw pg_restore -j2 --clean : %.2fx" % (med["ours"] / med["raw"]))
            print("  ours / psql < plain.sql           : %.2fx" % (med["ours"] / med["psql"]))
            print("  ours (module only) / raw          : %.2fx" % (med["ours (module)"] / med["raw"]))
            print("  raw / psql                        : %.2fx" % (med["raw"] / med["psql"]))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
