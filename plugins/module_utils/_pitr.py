# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Point-in-time recovery with pgBackRest: the cluster (pg_ctl), the stanza, and a read of the WAL archive.

PRIVATE to this collection: the leading underscore means no API promise.

pgBackRest does the backups, the WAL archive and the restore; this file only drives it, and reads the
archived WAL with pg_waldump to tell, before anything changes, whether a target is in the archive and
how many transactions committed after it.
"""

from __future__ import annotations

import datetime
import fcntl
import gzip
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import tempfile
import time

from ansible_collections.emergency.rollback.plugins.module_utils._pg import UTC, PgError, _tail

SCRATCH_TAG = "pitr"
KEPT_TAG = "pre_pitr"
REVERTED_TAG = "reverted_pitr"
TARGET_TYPES = ("name", "time", "lsn", "xid")
SEGMENT_RE = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(?:-[0-9a-f]{40})?(\.gz)?$")


def sibling_dir(data_dir, tag, stamp):
    """<data_dir>.<tag>-<stamp>: beside the live data directory, on the same filesystem (rename works)."""
    return "%s.%s-%s" % (data_dir.rstrip("/"), tag, stamp)


def siblings(data_dir, tag):
    """Existing <data_dir>.<tag>-* directories, oldest first."""
    prefix = os.path.basename(data_dir.rstrip("/")) + ".%s-" % tag
    parent = os.path.dirname(data_dir.rstrip("/")) or "/"
    return sorted(os.path.join(parent, n) for n in os.listdir(parent) if n.startswith(prefix))


def parse_lsn(text):
    hi, lo = text.strip().split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def format_lsn(value):
    return "%X/%X" % (value >> 32, value & 0xFFFFFFFF)


def parse_time(text):
    """A PostgreSQL timestamp ('2026-11-26 18:50:01.123456+00', '... UTC', ISO 8601) as epoch seconds."""
    text = re.sub(r"^(\d{4}-\d\d-\d\d)T", r"\1 ", text.strip())
    text = re.sub(r"\s*(UTC|Z)$", "+00:00", text)
    match = re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s*([+-]\d\d(?::?\d\d)?)?$", text)
    if not match:
        raise ValueError("not a timestamp: %s" % text)
    stamp, zone = match.groups()
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
    value = datetime.datetime.strptime(stamp, fmt)
    offset = 0
    if zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) > 2 else 0))
    return value.replace(tzinfo=UTC).timestamp() - offset


def iso_time(ts):
    return datetime.datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class DirLock:
    """An flock on one file per data directory: one PITR at a time; the kernel drops it if the module is killed."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def acquire(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(self.fd)
            self.fd = None
            raise PgError("another point-in-time recovery of this cluster is running (lock %s)" % self.path) from err
        os.ftruncate(self.fd, 0)
        os.write(self.fd, ("%d\n" % os.getpid()).encode())


class Runner:
    """Runs binaries as the owner of the data directory (runuser when the module runs as root)."""

    def __init__(self, run_command, owner):
        self.run_command = run_command
        self.owner = owner

    def argv(self, argv):
        if os.geteuid() == 0 and self.owner != "root":
            return ["runuser", "-u", self.owner, "--"] + list(argv)
        return list(argv)

    def run(self, argv, check=True, what=None, **kwargs):
        rc, out, err = self.run_command(self.argv(argv), **kwargs)
        if check and rc != 0:
            raise PgError("%s failed (rc=%s): %s" % (what or os.path.basename(argv[0]), rc, _tail(err or out)))
        return rc, out, err

    def chown(self, path):
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.owner)
            os.chown(path, entry.pw_uid, entry.pw_gid)


def stop_restores_into(path, timeout=15):
    """Stop pgbackrest processes still restoring into `path` (their module was killed); returns their pids."""
    marker = ("--pg1-path=%s" % path).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if marker in argv and argv[0].endswith(b"pgbackrest"):
            pids.append(int(entry))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if os.path.exists("/proc/%d" % pid)]
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return pids


def owner_of(path):
    return pwd.getpwuid(os.stat(path).st_uid).pw_name


class Cluster:
    """One PostgreSQL cluster controlled with pg_ctl, started with the options it runs with now."""

    def __init__(self, runner, bin_dir):
        self.runner = runner
        self.bin_dir = bin_dir

    def pg_ctl(self, *args, **kwargs):
        return self.runner.run(
            [os.path.join(self.bin_dir, "pg_ctl")] + list(args), what="pg_ctl %s" % args[-1], **kwargs
        )

    def running(self, data_dir):
        rc, _out, _err = self.pg_ctl("-D", data_dir, "status", check=False)
        return rc == 0

    @staticmethod
    def options(data_dir):
        """The server's command-line options from postmaster.opts (written at start), minus -D."""
        path = os.path.join(data_dir, "postmaster.opts")
        try:
            with open(path) as handle:
                words = shlex.split(handle.read())
        except OSError:
            return None
        words = words[1:]
        kept = []
        skip = False
        for word in words:
            if skip:
                skip = False
                continue
            if word == "-D":
                skip = True
                continue
            kept.append(word)
        return kept

    def start(self, data_dir, options, log, timeout=600):
        self.pg_ctl(
            "-D",
            data_dir,
            "-o",
            " ".join(shlex.quote(o) for o in options),
            "-l",
            log,
            "-w",
            "-t",
            str(timeout),
            "start",
        )

    def stop(self, data_dir, mode="fast", timeout=300):
        if self.running(data_dir):
            self.pg_ctl("-D", data_dir, "-m", mode, "-w", "-t", str(timeout), "stop")


def side_options(options, port, socket_dir):
    """The live server's options, on another port and socket, with archiving off (it must not write the archive)."""
    return list(options) + ["-p", str(port), "-k", socket_dir, "-c", "archive_mode=off"]


class Backrest:
    def __init__(self, runner, config, stanza, binary="pgbackrest"):
        self.runner = runner
        self.config = config
        self.stanza = stanza
        self.binary = binary

    def base(self):
        return [self.binary, "--config=%s" % self.config, "--stanza=%s" % self.stanza, "--log-level-console=error"]

    def run(self, command, *args, **kwargs):
        return self.runner.run(self.base() + list(args) + [command], what="pgbackrest %s" % command, **kwargs)

    def info(self):
        """The stanza's entry of `pgbackrest info --output=json` ({} when the stanza does not exist)."""
        _rc, out, _err = self.run("info", "--output=json")
        for entry in json.loads(out or "[]"):
            if entry.get("name") == self.stanza:
                return entry
        return {}

    def restore(self, dest, target_type, target, backup_set, timeline=None):
        args = [
            "--pg1-path=%s" % dest,
            "--type=%s" % target_type,
            "--target=%s" % target,
            "--target-action=promote",
            "--set=%s" % backup_set,
        ]
        if timeline:
            args.append("--target-timeline=%s" % timeline)
        return self.run("restore", *args)


def backups(info):
    return info.get("backup") or []


def archive_dir(repo_path, stanza, info):
    """The directory of the newest archive id (<pg version>-<n>) of the stanza."""
    ids = [a["id"] for a in info.get("archive") or [] if a.get("id")]
    if not ids:
        return None
    return os.path.join(repo_path, "archive", stanza, ids[-1])


def segment_files(adir, timeline):
    """{segment number: path} of archived WAL on `timeline` or its ancestors (the newest timeline wins)."""
    found = {}
    if not adir or not os.path.isdir(adir):
        return found
    for sub in os.listdir(adir):
        subdir = os.path.join(adir, sub)
        if not os.path.isdir(subdir):
            continue
        for name in os.listdir(subdir):
            match = SEGMENT_RE.match(name)
            if not match or ".partial" in name:
                continue
            tli = int(match.group(1), 16)
            if tli > timeline:
                continue
            number = (int(match.group(2), 16), int(match.group(3), 16))
            if number not in found or found[number][0] < tli:
                found[number] = (tli, os.path.join(subdir, name))
    return found


def segment_number(name, segs_per_log):
    return int(name[8:16], 16) * segs_per_log + int(name[16:24], 16)


class WalScan:
    """What the archived WAL holds from one segment on: restore points, commits (xid, time), the last LSN."""

    def __init__(self):
        self.restore_points = []  # (name, lsn)
        self.commits = []  # (xid, lsn, epoch seconds)
        self.end_lsn = None
        self.gap = None
        self.first = None
        self.last = None


RECORD_RE = re.compile(r"rmgr: (\w+)\s.*?tx:\s+(\d+), lsn: ([0-9A-F]+/[0-9A-F]+),.*?desc: (\w+) ?(.*)$")


def scan_archive(runner, bin_dir, adir, timeline, start_segment, seg_size):
    """Copy (decompress) the archived segments from start_segment on into a temp dir and read them with pg_waldump.

    A missing segment between the first and the newest one is a gap: recovery cannot pass it.
    """
    segs_per_log = 0x100000000 // seg_size
    files = segment_files(adir, timeline)
    scan = WalScan()
    start_no = segment_number(start_segment, segs_per_log)
    numbers = sorted(n for n in files if n[0] * segs_per_log + n[1] >= start_no)
    if not numbers:
        return scan
    wanted = [
        (no // segs_per_log, no % segs_per_log)
        for no in range(start_no, numbers[-1][0] * segs_per_log + numbers[-1][1] + 1)
    ]
    tmp = tempfile.mkdtemp(prefix="pitr-wal-")
    try:
        runner.chown(tmp)
        for number in wanted:
            if number not in files:
                scan.gap = "%08X%08X%08X" % (timeline, number[0], number[1])
                break
            name = "%08X%08X%08X" % (timeline, number[0], number[1])
            src = files[number][1]
            dest = os.path.join(tmp, name)
            if src.endswith(".gz"):
                with gzip.open(src, "rb") as fin, open(dest, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            else:
                os.symlink(src, dest)
            scan.first = scan.first or name
            scan.last = name
        if scan.last is None:
            return scan
        waldump = os.path.join(bin_dir, "pg_waldump")
        for rmgr in ("XLOG", "Transaction"):
            # pg_waldump ends with an error at the end of the last segment's valid WAL: that is expected
            _rc, out, _err = runner.run(
                [waldump, "--path=%s" % tmp, "--timeline=%d" % timeline, "--rmgr=%s" % rmgr, scan.first, scan.last],
                check=False,
            )
            for line in out.splitlines():
                match = RECORD_RE.search(line)
                if not match:
                    continue
                _mgr, xid, lsn, kind, rest = match.groups()
                lsn_value = parse_lsn(lsn)
                scan.end_lsn = max(scan.end_lsn or 0, lsn_value)
                if kind == "RESTORE_POINT":
                    scan.restore_points.append((rest.strip(), lsn_value))
                elif kind == "COMMIT":
                    stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: \w+|[+-]\d\d)?)", rest)
                    if stamp:
                        scan.commits.append((int(xid), lsn_value, parse_time(stamp.group(1))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return scan


def locate_target(scan, target_type, target):
    """LSN and time (either may be None) the target stands for in the archive, or a reason it is not there."""
    if target_type == "name":
        points = [lsn for name, lsn in scan.restore_points if name == target]
        if not points:
            return None, None, "restore point %s is not in the WAL archive" % target
        # PostgreSQL stops at the first restore point of that name
        return points[0], None, None
    if target_type == "lsn":
        lsn = parse_lsn(target)
        if scan.end_lsn is None or lsn > scan.end_lsn:
            return (
                None,
                None,
                "LSN %s is beyond the WAL archive (it ends at %s)"
                % (
                    target,
                    format_lsn(scan.end_lsn) if scan.end_lsn else "no WAL",
                ),
            )
        return lsn, None, None
    if target_type == "xid":
        for xid, lsn, ts in scan.commits:
            if xid == int(target):
                return lsn, ts, None
        return None, None, "transaction %s did not commit in the WAL archive" % target
    ts = parse_time(target)
    # recovery to a time stops at the first commit after it: one must be in the archive
    for _xid, lsn, commit_ts in scan.commits:
        if commit_ts > ts:
            return lsn, ts, None
    last = scan.commits[-1][2] if scan.commits else None
    return (
        None,
        ts,
        "time %s is beyond the WAL archive (its last commit is at %s)"
        % (
            target,
            iso_time(last) if last else "none",
        ),
    )


def commits_after(scan, lsn):
    after = [c for c in scan.commits if c[1] > lsn]
    return {
        "transactions": len(after),
        "first": iso_time(after[0][2]) if after else None,
        "last": iso_time(after[-1][2]) if after else None,
    }


def pick_backup(info, target_lsn, target_ts):
    """The newest backup that ended before the target (by LSN, else by time); None when there is none."""
    chosen = None
    for backup in backups(info):
        stop_lsn = backup.get("lsn", {}).get("stop")
        stop_ts = backup.get("timestamp", {}).get("stop")
        if target_lsn is not None and stop_lsn:
            ok = parse_lsn(stop_lsn) <= target_lsn
        elif target_ts is not None and stop_ts:
            ok = stop_ts < target_ts
        else:
            ok = False
        if ok:
            chosen = backup
    return chosen


def wait_archived(conn, segment, timeout=60):
    """Wait until pg_stat_archiver has archived `segment` (or a later one); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
        if row and row[0] and row[0][8:24] >= segment[8:24]:
            return True
        time.sleep(0.2)
    return False


def free_bytes(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize
