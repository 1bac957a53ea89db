#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_pitr
short_description: Point-in-time recovery of a PostgreSQL cluster with pgBackRest, verified before the swap
version_added: 0.2.0
description:
  - With O(state=restored) the cluster whose data directory is O(data_dir) is recovered to one target
    (O(target_name), O(target_time), O(target_lsn) or O(target_xid)) from the pgBackRest stanza O(stanza)
    (set up once with M(emergency.rollback.pgbackrest_stanza)).
  - Before anything changes, the live server switches to a new WAL segment (so everything written until
    now reaches the archive), the archived WAL is read with C(pg_waldump), and the task refuses, with
    nothing changed, when the target is not in the archive (a restore point never archived, a time after
    the last archived commit, an LSN past its end, a transaction that never committed), when a WAL
    segment is missing between the backup and the target, when no backup ended before the target, or
    when the filesystem of O(data_dir) has less free space than O(disk_factor) times the backup's size.
  - C(pgbackrest restore --type=<type> --target=<target> --target-action=promote --set=<backup>) then
    writes a NEW data directory C(<data_dir>.pitr-<UTC timestamp>) beside the live one. It is started on
    O(side_port) with archiving off, recovers and promotes; the task checks that PostgreSQL stopped at the
    target (its log says C(recovery stopping ...)) and runs O(checks), O(row_counts) and
    O(alembic_revision) on O(database) there. A failure removes the new directory; the live cluster was
    never touched.
  - Only then the live cluster is stopped (C(pg_ctl stop -m fast)), its data directory renamed to
    C(<data_dir>.pre_pitr-<timestamp>) (kept, never deleted by this module), the recovered one renamed to
    O(data_dir) and started with the live server's own options (from C(postmaster.opts)). The checks run
    again; if they fail the swap is undone at once and the task fails.
  - O(state=reverted) undoes the last swap; the recovered directory is kept as
    C(<data_dir>.reverted_pitr-<timestamp>) and the pre-PITR one is live again.
  - O(state=restore_point) creates the restore point O(target_name) with C(pg_create_restore_point()) and
    switches WAL so it is archived at once (for example C(before-deploy-<release>) in the deploy).
  - Idempotent. What is live (the target and the identity of the data directory) is recorded in
    C(<state_dir>/database/pitr-<host>_<port>.json); asking again for the target already live changes
    nothing. Restore points created by this module are recorded there too.
  - A run killed before the swap leaves only C(<data_dir>.pitr-*) (and perhaps its side server); the next
    run stops that server and removes the directory before it starts. One run at a time per cluster
    (a lock file in O(state_dir)).
  - The cluster is stopped and started with C(pg_ctl); a cluster under a service manager must be run on
    a host where the service manager will not restart it meanwhile. When the module runs as root,
    C(pg_ctl), C(pg_waldump) and C(pgbackrest) run as the owner of O(data_dir).
requirements:
  - pgBackRest (C(pgbackrest), 2.33 or later) on the target
  - the server's C(pg_ctl), C(pg_controldata) and C(pg_waldump) on the target
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback.postgres
attributes:
  check_mode:
    support: full
    description: Switches WAL and reads the archive (no data change), makes every refusal, and reports the
      backup it would restore, the directories it would create and rename and the transactions that
      committed after the target (they would be lost).
  diff_mode:
    support: full
    description: Shows the target and the data directory live before and after.
options:
  state:
    description:
      - V(restored) makes the cluster's state at the target live; V(reverted) swaps the pre-PITR data
        directory back; V(restore_point) creates the restore point O(target_name).
    type: str
    choices: [restored, reverted, restore_point]
    default: restored
  target_name:
    description:
      - A restore point (created with O(state=restore_point) or C(pg_create_restore_point())).
    type: str
  target_time:
    description:
      - A time, for example C(2026-11-26 18:50:01.123456+00). Transactions committed up to it are kept.
    type: str
  target_lsn:
    description:
      - A WAL location, for example C(0/3000060).
    type: str
  target_xid:
    description:
      - A transaction id; recovery keeps it and stops after its commit.
    type: str
  data_dir:
    description:
      - The live cluster's data directory (pgBackRest's C(pg1-path)).
    type: path
  stanza:
    description:
      - pgBackRest stanza of the cluster.
    type: str
  pgbackrest_config:
    description:
      - pgBackRest configuration file (its C(repo1-path) is where the WAL archive is read).
    type: path
    default: /etc/pgbackrest/pgbackrest.conf
  side_port:
    description:
      - Port the recovered cluster is verified on before the swap; V(0) picks a free one.
    type: int
    default: 0
  checks:
    description:
      - SQL queries on O(database) whose first column must be true (or non-zero), on the recovered cluster
        before the swap and again after it.
    type: list
    elements: str
    default: []
  row_counts:
    description:
      - Exact row counts expected per table of O(database) (C(schema.table) outside C(public)), checked
        like O(checks).
    type: dict
    default: {}
  alembic_revision:
    description:
      - The Alembic revision O(database) must be at after recovery.
    type: str
  disk_factor:
    description:
      - Free space needed beside O(data_dir), as a multiple of the size of the backup restored.
    type: float
    default: 1.2
  timeout:
    description:
      - Seconds to wait for a server to start (recovery included) or stop.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Create a restore point before the deploy
  emergency.rollback.pg_pitr:
    state: restore_point
    database: shop
    target_name: before-deploy-2026.11.26-1

- name: Recover the cluster to just before the deploy
  emergency.rollback.pg_pitr:
    database: shop
    data_dir: /var/lib/postgresql/15/main
    stanza: main
    target_name: before-deploy-2026.11.26-1
    checks:
      - SELECT count(*) > 0 FROM users
    alembic_revision: 0002_email
  register: pitr

- name: Undo it
  emergency.rollback.pg_pitr:
    state: reverted
    database: shop
    data_dir: /var/lib/postgresql/15/main
"""

RETURN = r"""
target:
  description: The target asked for.
  returned: success
  type: dict
  sample: {type: name, value: before-deploy-2026.11.26-1}
target_lsn:
  description: WAL location of the target in the archive (the restore point, or the first commit after a
    time).
  returned: with O(state=restored) and O(state=restore_point) when it changed something or would
  type: str
  sample: 0/3000060
backup:
  description: Label of the pgBackRest backup restored.
  returned: with O(state=restored) when a recovery ran or would run
  type: str
  sample: 20261126-184501F
lost:
  description: Transactions that committed after the target (read from the archive); they are not in the
    recovered cluster.
  returned: with O(state=restored) when a recovery ran or would run
  type: dict
  sample: {transactions: 12, first: "2026-11-26T18:50:02.000100Z", last: "2026-11-26T18:51:40.120000Z"}
restored_dir:
  description: The new data directory (renamed to O(data_dir) by the swap).
  returned: with O(state=restored) when a recovery ran or would run
  type: str
  sample: /var/lib/postgresql/15/main.pitr-20261126185012
pre_pitr_dir:
  description: Where the data directory that was live before the recovery is kept.
  returned: with O(state=restored) and O(state=reverted)
  type: str
  sample: /var/lib/postgresql/15/main.pre_pitr-20261126185012
reverted_dir:
  description: Where the recovered data directory is kept after O(state=reverted) (or a failed check after
    the swap).
  returned: when it was swapped out again
  type: str
  sample: /var/lib/postgresql/15/main.reverted_pitr-20261126190002
recovery_stop:
  description: PostgreSQL's own line saying where recovery stopped.
  returned: when a recovery ran
  type: str
  sample: 'recovery stopping at restore point "before-deploy-2026.11.26-1", time 2026-11-26 18:50:01.9+00'
verified:
  description: What was checked on the recovered cluster, before and after the swap.
  returned: when a recovery ran
  type: list
  elements: str
  sample: ["target reached", "1 SQL checks", "row counts of 2 tables", "Alembic revision 0002_email"]
removed:
  description: Unfinished recovery directories of an earlier, interrupted run that were removed (or would be).
  returned: success
  type: list
  elements: str
  sample: [/var/lib/postgresql/15/main.pitr-20261126184012]
timings:
  description: Seconds per phase (plan, restore, side verification, swap).
  returned: when a recovery ran
  type: dict
  sample: {plan: 0.8, restore: 6.1, verify: 3.2, swap: 2.4}
"""

import os
import socket
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _pg, _pitr
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._targets import read_json, write_json

TARGET_OPTIONS = ("target_name", "target_time", "target_lsn", "target_xid")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def repo_path_of(config):
    """repo1-path of a pgBackRest configuration file (pgBackRest's default when it has none)."""
    path = "/var/lib/pgbackrest"
    try:
        with open(config) as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep and key.strip() == "repo1-path":
                    path = value.strip()
    except OSError as err:
        raise _pg.PgError("cannot read %s: %s" % (config, err)) from err
    return path


class Pitr:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.pg = _pg.Pg(self.p, run_command=module.run_command)
        key = "%s_%s" % (self.p.get("login_unix_socket") or self.p["login_host"], self.p["login_port"])
        key = "".join(c if c.isalnum() or c in "._-" else "_" for c in key)
        base = os.path.join(self.p["state_dir"], _pg.COMPONENT)
        self.state_path = os.path.join(base, "pitr-%s.json" % key)
        self.lock = _pitr.DirLock(os.path.join(base, "pitr-%s.lock" % key))
        self.recorded = read_json(self.state_path) or {}
        self.target = None
        for option in TARGET_OPTIONS:
            if self.p[option]:
                self.target = {"type": option[len("target_") :], "value": self.p[option]}
        self.result = {"target": self.target, "removed": []}
        self.timings = {}

    def refuse(self, msg, **extra):
        self.module.fail_json(msg="pg_pitr: %s; nothing was changed" % msg, **dict(self.result, **extra))

    def record(self, **state):
        state["restore_points"] = self.recorded.get("restore_points", [])
        self.recorded = state
        write_json(self.state_path, state)

    def take_lock(self):
        if self.module.check_mode:
            return
        try:
            self.lock.acquire()
        except (_pg.PgError, OSError) as err:
            self.refuse(str(err))

    # --- cluster plumbing ------------------------------------------------------------------

    def setup_cluster(self):
        data_dir = self.p["data_dir"].rstrip("/")
        if not os.path.isdir(data_dir):
            self.refuse("data_dir %s is not a directory" % data_dir)
        self.data_dir = data_dir
        try:
            self.bin_dir = _pg.find_bin_dir(self.p["bin_dir"], "pg_ctl")
        except _pg.PgError as err:
            self.refuse(str(err))
        self.runner = _pitr.Runner(self.module.run_command, _pitr.owner_of(data_dir))
        self.cluster = _pitr.Cluster(self.runner, self.bin_dir)

    def in_place(self):
        rec = self.recorded
        try:
            ino = os.stat(self.data_dir).st_ino
        except OSError:
            return False
        return rec.get("state") == "restored" and rec.get("target") == self.target and rec.get("live_ino") == ino

    def remove_stale(self):
        """Recovery directories of an interrupted run (never a directory that was live): stopped, removed."""
        stale = _pitr.siblings(self.data_dir, _pitr.SCRATCH_TAG)
        self.result["removed"] = stale
        if self.module.check_mode:
            return
        for path in stale:
            try:
                _pitr.stop_restores_into(path)
                if os.path.exists(os.path.join(path, "postmaster.pid")):
                    self.cluster.stop(path, mode="immediate", timeout=self.p["timeout"])
                _pitr.shutil.rmtree(path)
            except (_pg.PgError, OSError) as err:
                self.refuse("cannot remove %s left by an interrupted run: %s" % (path, err))

    def controldata(self):
        _rc, out, _err = self.runner.run([os.path.join(self.bin_dir, "pg_controldata"), "-D", self.data_dir])
        values = {}
        for line in out.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                values[key.strip()] = value.strip()
        return values

    def switch_wal(self):
        """Close the current WAL segment and wait until it is archived: the archive then reaches now."""
        try:
            conn = self.pg.maintenance()
            try:
                segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
                if not _pitr.wait_archived(conn, segment, timeout=60):
                    self.module.warn("pg_pitr: WAL segment %s was not archived within 60s" % segment)
            finally:
                conn.close()
        except _pg.PgError as err:
            self.module.warn(
                "pg_pitr: could not switch WAL on the live server (%s); reading the archive as it is" % err
            )

    # --- state=restored --------------------------------------------------------------------

    def restored(self):
        step = Step(self.module, "database", "pitr")
        started = time.monotonic()
        self.setup_cluster()
        self.take_lock()
        if self.in_place():
            self.module.exit_json(
                changed=False,
                pre_pitr_dir=self.recorded.get("pre_dir"),
                msg="the cluster is already at %s %s" % (self.target["type"], self.target["value"]),
                **self.result,
            )
        if self.recorded.get("state") == "swapping" and not os.path.isdir(self.data_dir):
            self.refuse(
                "an interrupted swap left no data directory at %s; the pre-PITR one is %s and the recovered one %s"
                % (self.data_dir, self.recorded.get("pre_dir"), self.recorded.get("restored_dir"))
            )
        if self.recorded.get("state") == "swapping" and self.recorded.get("target") == self.target:
            if os.stat(self.data_dir).st_ino == self.recorded.get("restored_ino"):
                self.finish_swap(step)
        self.remove_stale()
        plan = self.plan()
        self.timings["plan"] = round(time.monotonic() - started, 3)
        stamp = _pg.utc_stamp()
        new_dir = _pitr.sibling_dir(self.data_dir, _pitr.SCRATCH_TAG, stamp)
        pre_dir = _pitr.sibling_dir(self.data_dir, _pitr.KEPT_TAG, stamp)
        self.result.update(
            backup=plan["backup"]["label"],
            target_lsn=_pitr.format_lsn(plan["lsn"]),
            lost=plan["lost"],
            restored_dir=new_dir,
            pre_pitr_dir=pre_dir,
        )
        before = {
            "data_dir": self.data_dir,
            "target": (self.recorded.get("target") if self.recorded.get("state") == "restored" else None),
        }
        after = {"data_dir": self.data_dir, "target": self.target, "kept_as": pre_dir}
        if self.module.check_mode:
            self.module.exit_json(changed=True, diff=dict(before=before, after=after), **self.result)
        fields = {"to": "%s:%s" % (self.target["type"], self.target["value"]), "backup": plan["backup"]["label"]}
        options = _pitr.Cluster.options(self.data_dir)
        if options is None:
            self.refuse("%s has no postmaster.opts (was the cluster ever started with pg_ctl?)" % self.data_dir)
        stop_line, verified = self.recover(plan, new_dir, options, step, fields)
        self.swap(new_dir, pre_dir, options, step, fields)
        self.go_live(pre_dir, options, plan["backup"]["label"], step, fields)
        self.result.update(recovery_stop=stop_line, verified=verified, timings=self.timings)
        step.exit(
            True,
            message="%s recovered to %s %s (backup %s); the previous data directory is kept as %s"
            % (self.data_dir, self.target["type"], self.target["value"], plan["backup"]["label"], pre_dir),
            journal_fields=dict(fields, pre_dir=pre_dir, lost_transactions=plan["lost"]["transactions"]),
            diff=dict(before=before, after=after),
            **self.result,
        )

    def finish_swap(self, step):
        """A run killed after the directories were swapped: start the recovered cluster, verify, record."""
        rec = self.recorded
        pre_dir, options = rec["pre_dir"], rec.get("options")
        self.result.update(pre_pitr_dir=pre_dir, backup=rec.get("backup"))
        if self.module.check_mode:
            self.module.exit_json(changed=True, msg="would finish the swap an interrupted run made", **self.result)
        fields = {"to": "%s:%s" % (self.target["type"], self.target["value"]), "backup": rec.get("backup")}
        try:
            if not self.cluster.running(self.data_dir):
                self.cluster.start(self.data_dir, options, self.data_dir + ".pitr.log", timeout=self.p["timeout"])
        except _pg.PgError as err:
            step.fail(
                "pg_pitr: cannot start the recovered cluster an interrupted run swapped in: %s; the pre-PITR data "
                "directory is %s" % (err, pre_dir),
                journal_fields=fields,
                **self.result,
            )
        self.go_live(pre_dir, options, rec.get("backup"), step, fields)
        step.exit(
            True,
            message="finished the swap an interrupted run made: %s is at %s %s; the previous data directory is kept "
            "as %s" % (self.data_dir, self.target["type"], self.target["value"], pre_dir),
            journal_fields=dict(fields, pre_dir=pre_dir),
            verified=self.checked,
            **self.result,
        )

    def go_live(self, pre_dir, options, backup, step, fields):
        """The recovered cluster is live: verify it, swap the pre-PITR one back on failure, record it restored."""
        verified = self.verify(self.pg, step, fields, where="live")
        if verified is not True:
            self.swap_back(pre_dir, options, verified, step, fields)
        self.record(
            state="restored",
            target=self.target,
            live_ino=os.stat(self.data_dir).st_ino,
            pre_dir=pre_dir,
            backup=backup,
            options=options,
            restored_at=_pg.iso(time.time()),
        )

    def plan(self):
        """Every refusal, before anything changes: archive reaches the target, backup, disk."""
        self.switch_wal()
        try:
            config = self.p["pgbackrest_config"]
            self.backrest = _pitr.Backrest(self.runner, config, self.p["stanza"])
            info = self.backrest.info()
            control = self.controldata()
            timeline = int(control.get("Latest checkpoint's TimeLineID", "1"))
            seg_size = int(control.get("Bytes per WAL segment", str(16 * 1024 * 1024)))
            if not _pitr.backups(info):
                self.refuse("stanza %s has no backup (run pgbackrest_stanza first)" % self.p["stanza"])
            adir = _pitr.archive_dir(repo_path_of(config), self.p["stanza"], info)
            oldest = _pitr.backups(info)[0]
            scan = _pitr.scan_archive(self.runner, self.bin_dir, adir, timeline, oldest["archive"]["start"], seg_size)
        except (_pg.PgError, OSError, ValueError, KeyError) as err:
            self.refuse("cannot read the pgBackRest stanza %s: %s" % (self.p["stanza"], err))
        try:
            lsn, ts, reason = _pitr.locate_target(scan, self.target["type"], self.target["value"])
        except ValueError as err:
            self.refuse("bad target %s: %s" % (self.target["value"], err))
        # a time before every backup is refused as such, whatever the archive holds
        if self.target["type"] == "time" and ts is not None and _pitr.pick_backup(info, None, ts) is None:
            self.refuse(
                "the target is before the oldest usable backup (%s ended at %s)"
                % (oldest["label"], _pitr.iso_time(oldest["timestamp"]["stop"]))
            )
        if reason:
            if scan.gap:
                reason += " (the archive has a gap: WAL segment %s is missing)" % scan.gap
            self.refuse("the WAL archive does not reach the target: %s" % reason)
        # a time target: the backup must end before that time (the LSN found is of the first commit after it)
        by_time = self.target["type"] == "time"
        backup = _pitr.pick_backup(info, None if by_time else lsn, ts)
        if backup is None:
            self.refuse(
                "the target is before the oldest usable backup (%s ended at %s)"
                % (oldest["label"], _pitr.iso_time(oldest["timestamp"]["stop"]))
            )
        need = int(backup.get("info", {}).get("size", 0) * self.p["disk_factor"])
        free = _pitr.free_bytes(os.path.dirname(self.data_dir) or "/")
        if free < need:
            self.refuse(
                "%d bytes free beside %s, the recovered data directory needs %d (backup %s x disk_factor %s)"
                % (free, self.data_dir, need, backup["label"], self.p["disk_factor"])
            )
        return {
            "backup": backup,
            "lsn": lsn,
            "timeline": timeline,
            "lost": _pitr.commits_after(scan, lsn - 1 if by_time else lsn),
        }

    def recover(self, plan, new_dir, options, step, fields):
        """Restore into new_dir, start it on the side port, check it; remove it on any failure."""
        started = time.monotonic()
        side = tempfile.mkdtemp(prefix="pitr-side-")
        log = os.path.join(side, "postgres.log")
        try:
            os.mkdir(new_dir, 0o700)
            self.runner.chown(new_dir)
            self.runner.chown(side)
            self.backrest.restore(
                new_dir, self.target["type"], self.target["value"], plan["backup"]["label"], timeline=plan["timeline"]
            )
            self.timings["restore"] = round(time.monotonic() - started, 3)
            started = time.monotonic()
            port = self.p["side_port"] or free_port()
            self.cluster.start(new_dir, _pitr.side_options(options, port, side), log, timeout=self.p["timeout"])
            side_pg = _pg.Pg(dict(self.p, login_port=port, login_unix_socket=None), run_command=self.module.run_command)
            self.wait_promoted(side_pg)
            stop_line = self.stop_line(log)
            verified = self.verify(side_pg, step, fields, where="side")
            if verified is True:
                verified = ["target reached"] + self.checked
            else:
                raise _pg.PgError(verified)
            self.cluster.stop(new_dir, timeout=self.p["timeout"])
            self.timings["verify"] = round(time.monotonic() - started, 3)
        except (_pg.PgError, OSError) as err:
            tail = ""
            if os.path.exists(log):
                with open(log) as handle:
                    tail = _pg._tail(handle.read(), 400)
            try:
                if os.path.exists(os.path.join(new_dir, "postmaster.pid")):
                    self.cluster.stop(new_dir, mode="immediate")
                _pitr.shutil.rmtree(new_dir, ignore_errors=True)
            except _pg.PgError:
                pass
            step.fail(
                "pg_pitr: recovery to %s %s failed on the side cluster: %s%s; it was removed, the live cluster "
                "was not touched"
                % (self.target["type"], self.target["value"], err, (" (log: %s)" % tail) if tail else ""),
                journal_fields=fields,
                **self.result,
            )
        finally:
            _pitr.shutil.rmtree(side, ignore_errors=True)
        return stop_line, verified

    def wait_promoted(self, pg):
        deadline = time.monotonic() + self.p["timeout"]
        while time.monotonic() < deadline:
            try:
                conn = pg.maintenance()
                try:
                    if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return
                finally:
                    conn.close()
            except _pg.PgError:
                pass
            time.sleep(0.2)
        raise _pg.PgError("the recovered cluster did not finish recovery within %ds" % self.p["timeout"])

    def stop_line(self, log):
        with open(log) as handle:
            for line in handle:
                if "recovery stopping" in line:
                    return line.split("LOG:", 1)[-1].strip()
        raise _pg.PgError("PostgreSQL did not report stopping at the target")

    def verify(self, pg, step, fields, where):
        """True, or one line saying which checks failed; self.checked lists what was checked."""
        checked = []
        problems = []
        db = self.p["database"]
        try:
            if self.p["checks"]:
                problems += pg.run_checks(db, self.p["checks"])
                checked.append("%d SQL checks" % len(self.p["checks"]))
            if self.p["row_counts"]:
                counts = pg.counts_of(db)
                expected = {k: int(v) for k, v in self.p["row_counts"].items()}
                problems += _pg.compare_counts(expected, {k: counts.get(k, 0) for k in expected})
                checked.append("row counts of %d tables" % len(expected))
            if self.p["alembic_revision"]:
                conn = pg.connect(db)
                try:
                    revision = _pg.alembic_revision(conn)
                finally:
                    conn.close()
                if revision != self.p["alembic_revision"]:
                    problems.append("Alembic revision is %s, expected %s" % (revision, self.p["alembic_revision"]))
                checked.append("Alembic revision %s" % self.p["alembic_revision"])
        except _pg.PgError as err:
            problems.append(str(err))
        self.checked = checked
        return True if not problems else "checks failed on the %s cluster: %s" % (where, "; ".join(problems))

    def swap(self, new_dir, pre_dir, options, step, fields):
        started = time.monotonic()
        self.record(
            state="swapping",
            target=self.target,
            pre_dir=pre_dir,
            restored_dir=new_dir,
            restored_ino=os.stat(new_dir).st_ino,
            backup=self.result.get("backup"),
            options=options,
        )
        try:
            self.cluster.stop(self.data_dir, timeout=self.p["timeout"])
            os.rename(self.data_dir, pre_dir)
            os.rename(new_dir, self.data_dir)
            self.cluster.start(self.data_dir, options, self.data_dir + ".pitr.log", timeout=self.p["timeout"])
        except (_pg.PgError, OSError) as err:
            step.fail(
                "pg_pitr: the swap failed: %s; the pre-PITR data directory is %s, the recovered one %s"
                % (
                    err,
                    pre_dir if os.path.isdir(pre_dir) else self.data_dir,
                    new_dir if os.path.isdir(new_dir) else self.data_dir,
                ),
                journal_fields=fields,
                **self.result,
            )
        self.timings["swap"] = round(time.monotonic() - started, 3)

    def swap_back(self, pre_dir, options, problem, step, fields):
        kept = _pitr.sibling_dir(self.data_dir, _pitr.REVERTED_TAG, _pg.utc_stamp())
        try:
            self.exchange(pre_dir, kept, options)
        except (_pg.PgError, OSError) as err:
            step.fail(
                "pg_pitr: %s after the swap and swapping back failed: %s; pre-PITR data directory %s"
                % (problem, err, pre_dir),
                journal_fields=fields,
                **self.result,
            )
        self.record(state="reverted", live_ino=os.stat(self.data_dir).st_ino, reverted_dir=kept, options=options)
        step.fail(
            "pg_pitr: %s after the swap; swapped back, the pre-PITR cluster is live again and the recovered "
            "data directory is kept as %s" % (problem, kept),
            journal_fields=dict(fields, kept_as=kept),
            result="reverted",
            reverted_dir=kept,
            **self.result,
        )

    def exchange(self, incoming, outgoing, options):
        """Stop the live cluster, keep its directory as outgoing, start incoming as data_dir."""
        self.cluster.stop(self.data_dir, timeout=self.p["timeout"])
        os.rename(self.data_dir, outgoing)
        os.rename(incoming, self.data_dir)
        self.cluster.start(self.data_dir, options, self.data_dir + ".pitr.log", timeout=self.p["timeout"])

    # --- state=reverted --------------------------------------------------------------------

    def reverted(self):
        step = Step(self.module, "database", "revert_pitr")
        self.setup_cluster()
        self.take_lock()
        rec = self.recorded
        ino = os.stat(self.data_dir).st_ino
        if rec.get("state") == "reverted" and rec.get("live_ino") == ino:
            self.module.exit_json(
                changed=False, msg="already reverted", reverted_dir=rec.get("reverted_dir"), **self.result
            )
        if rec.get("state") != "restored" or not rec.get("pre_dir"):
            self.refuse("no point-in-time recovery is recorded in %s, so there is nothing to revert" % self.state_path)
        pre = rec["pre_dir"]
        if not os.path.isdir(pre):
            self.refuse("the pre-PITR data directory %s is gone" % pre)
        kept = _pitr.sibling_dir(self.data_dir, _pitr.REVERTED_TAG, _pg.utc_stamp())
        diff = dict(
            before={"data_dir": self.data_dir, "target": rec.get("target")},
            after={"data_dir": self.data_dir, "target": None, "kept_as": kept},
        )
        self.result.update(pre_pitr_dir=pre, reverted_dir=kept, target=rec.get("target"))
        if self.module.check_mode:
            self.module.exit_json(changed=True, diff=diff, **self.result)
        fields = {"from_": "%s:%s" % (rec["target"]["type"], rec["target"]["value"]), "to": pre}
        options = _pitr.Cluster.options(self.data_dir) or rec.get("options")
        try:
            self.exchange(pre, kept, options)
        except (_pg.PgError, OSError) as err:
            step.fail("pg_pitr: cannot swap %s back in: %s" % (pre, err), journal_fields=fields, **self.result)
        try:
            self.record(state="reverted", live_ino=os.stat(self.data_dir).st_ino, reverted_dir=kept, options=options)
        except OSError as err:  # the swap is done; a full state dir must not turn it into a failure
            self.module.warn(
                "pg_pitr: %s is live again, but this could not be recorded in %s (%s)" % (pre, self.state_path, err)
            )
        step.exit(
            True,
            message="%s is live again; the recovered data directory is kept as %s" % (pre, kept),
            journal_fields=dict(fields, kept_as=kept),
            diff=diff,
            **self.result,
        )

    # --- state=restore_point ---------------------------------------------------------------

    def restore_point(self):
        step = Step(self.module, "database", "restore_point")
        name = self.p["target_name"]
        known = [r for r in self.recorded.get("restore_points", []) if r["name"] == name]
        if known:
            self.module.exit_json(
                changed=False, target_lsn=known[0]["lsn"], msg="restore point %s exists" % name, **self.result
            )
        if self.module.check_mode:
            self.module.exit_json(changed=True, **self.result)
        try:
            conn = self.pg.connect()
            try:
                lsn = conn.execute("SELECT pg_create_restore_point(%s)::text", (name,)).fetchone()[0]
                # archive it now: a recovery to this point needs the segment holding it
                conn.execute("SELECT pg_switch_wal()")
            finally:
                conn.close()
        except _pg.PgError as err:
            self.refuse("cannot create restore point %s: %s" % (name, err))
        points = self.recorded.get("restore_points", []) + [{"name": name, "lsn": lsn, "created": _pg.iso(time.time())}]
        self.recorded["restore_points"] = points
        try:
            write_json(self.state_path, self.recorded)
        except OSError as err:
            self.module.warn("pg_pitr: restore point created but not recorded in %s: %s" % (self.state_path, err))
        step.exit(
            True,
            message="restore point %s at %s" % (name, lsn),
            journal_fields={"to": name},
            target_lsn=lsn,
            **self.result,
        )


def main():
    spec = _pg.connection_argument_spec()
    spec.update(
        state=dict(type="str", choices=["restored", "reverted", "restore_point"], default="restored"),
        target_name=dict(type="str"),
        target_time=dict(type="str"),
        target_lsn=dict(type="str"),
        target_xid=dict(type="str"),
        data_dir=dict(type="path"),
        stanza=dict(type="str"),
        pgbackrest_config=dict(type="path", default="/etc/pgbackrest/pgbackrest.conf"),
        side_port=dict(type="int", default=0),
        checks=dict(type="list", elements="str", default=[]),
        row_counts=dict(type="dict", default={}),
        alembic_revision=dict(type="str"),
        disk_factor=dict(type="float", default=1.2),
        timeout=dict(type="int", default=600),
    )
    module = AnsibleModule(
        argument_spec=with_common(spec),
        mutually_exclusive=[TARGET_OPTIONS],
        required_if=[
            ("state", "restored", TARGET_OPTIONS, True),
            ("state", "restored", ("data_dir", "stanza")),
            ("state", "reverted", ("data_dir",)),
            ("state", "restore_point", ("target_name",)),
        ],
        supports_check_mode=True,
    )
    if not _pg.HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib(_pg.PSYCOPG_LIBRARY), exception=str(_pg.PSYCOPG_IMPORT_ERROR))
    if module.params["disk_factor"] < 0 or module.params["timeout"] < 1:
        module.fail_json(msg="pg_pitr: disk_factor must be 0 or more and timeout 1 or more; nothing was changed")
    runner = Pitr(module)
    state = module.params["state"]
    if state == "restore_point":
        runner.restore_point()
    elif state == "reverted":
        runner.reverted()
    else:
        runner.restored()


if __name__ == "__main__":
    main()
