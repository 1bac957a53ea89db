"""What the safety of the shared primitives costs, against the plain way measured in the same run.

- journal: Journal.append (flock, torn-line check, fsync) vs a bare open(..., "a").write + fsync
- snapshot: SnapshotStore.staging + add_file (copy + sha256 + metadata) vs shutil.copy2 of the file
- symlink switch: _atomic.switch_symlink (temp link + rename + dir fsync) vs os.remove + os.symlink

Prints the figures and ratios. Not a test: no limits.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "build" / "collections"))

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic  # noqa: E402
from ansible_collections.emergency.rollback.plugins.module_utils._journal import Journal, make_entry  # noqa: E402
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotStore  # noqa: E402


def timed(func, repeat):
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(repeat):
            func(i)
        best = min(best, time.perf_counter() - started)
    return best / repeat


def main():
    tmp = Path(tempfile.mkdtemp(prefix="rollback-bench-"))
    try:
        rows = []
        journal = Journal(str(tmp / "journal.jsonl"))
        entry = make_entry("app", "switch", "changed", run_id="bench", from_="r2", to="r1", duration_s=0.1)
        ours = timed(lambda i: journal.append(entry), 500)

        def plain_append(_i):
            with open(tmp / "plain.jsonl", "a") as handle:
                handle.write('{"component":"app"}\n')
                handle.flush()
                os.fsync(handle.fileno())

        rows.append(("journal append", ours, timed(plain_append, 500)))

        big = tmp / "big.bin"
        big.write_bytes(os.urandom(32 * 1024 * 1024))
        store = SnapshotStore(str(tmp / "store"), "bench")

        def snapshot(i):
            with store.staging("s%d-%d" % (i, time.monotonic_ns())) as stage:
                stage.add_file(str(big))

        plain_copy = timed(lambda i: shutil.copy2(big, tmp / "copy.bin"), 3)
        rows.append(("snapshot 32 MiB file", timed(snapshot, 3), plain_copy))

        for name in ("r1", "r2"):
            (tmp / name).mkdir()
        link = tmp / "current"
        os.symlink("r1", link)
        ours = timed(lambda i: _atomic.switch_symlink(str(link), "r2" if i % 2 else "r1"), 500)

        def naive(i):
            os.remove(link)
            os.symlink("r2" if i % 2 else "r1", link)

        rows.append(("symlink switch", ours, timed(naive, 500)))

        print("%-22s %14s %14s %8s" % ("operation", "ours", "plain", "ratio"))
        for name, ours, plain in rows:
            print("%-22s %12.3fms %12.3fms %7.2fx" % (name, ours * 1000, plain * 1000, ours / plain))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
