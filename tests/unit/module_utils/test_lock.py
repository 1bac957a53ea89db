from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils._lock import HostLock, LockHeld


def dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_acquire_release_and_reacquire_by_same_run(tmp_path):
    lock = HostLock(str(tmp_path / "rollback.lock"))
    assert lock.acquire("run-a", pid=os.getpid(), user="alice") == (True, None)
    assert lock.acquire("run-a") == (False, None)
    assert lock.read()["run_id"] == "run-a"
    assert lock.release("run-a") is True
    assert lock.read() is None
    assert lock.release("run-a") is False


def test_held_lock_fails_fast_naming_the_holder(tmp_path):
    lock = HostLock(str(tmp_path / "rollback.lock"))
    lock.acquire("run-a", pid=os.getpid(), user="alice")
    started = time.monotonic()
    with pytest.raises(LockHeld) as err:
        lock.acquire("run-b", pid=os.getpid(), user="bob")
    assert time.monotonic() - started < 1
    message = str(err.value)
    assert "run_id=run-a" in message and "pid=%d" % os.getpid() in message and "alice" in message
    assert "since 20" in message
    assert lock.read()["run_id"] == "run-a"
    with pytest.raises(LockHeld):
        lock.release("run-b")


def test_stale_lock_of_dead_pid_is_taken_over_with_warning(tmp_path):
    lock = HostLock(str(tmp_path / "rollback.lock"))
    lock.acquire("run-a", pid=dead_pid(), user="alice")
    changed, warning = lock.acquire("run-b", pid=os.getpid())
    assert changed is True
    assert "stale" in warning and "is gone" in warning and "run-a" in warning
    assert lock.read()["run_id"] == "run-b"


def test_dead_pid_on_another_machine_is_not_stale(tmp_path):
    path = str(tmp_path / "rollback.lock")
    HostLock(path, machine="controller-1").acquire("run-a", pid=dead_pid())
    with pytest.raises(LockHeld):
        HostLock(path, machine="web1").acquire("run-b")


def test_expired_ttl_is_stale(tmp_path):
    path = tmp_path / "rollback.lock"
    lock = HostLock(str(path))
    lock.acquire("run-a", ttl=60)
    record = json.loads(path.read_text())
    record["since"] -= 120
    path.write_text(json.dumps(record))
    changed, warning = lock.acquire("run-b")
    assert changed and "ttl of 60s" in warning


def test_garbage_lock_file_counts_as_held(tmp_path):
    path = tmp_path / "rollback.lock"
    path.write_text("not json")
    with pytest.raises(LockHeld) as err:
        HostLock(str(path)).acquire("run-b")
    assert "held but unreadable" in str(err.value) and "unknown" not in str(err.value)


def _race(path, pid, barrier, queue):
    lock = HostLock(path)
    barrier.wait()
    try:
        lock.acquire("run-%d" % os.getpid(), pid=pid, user="u")
        queue.put(("won", os.getpid()))
    except LockHeld as err:
        queue.put(("lost", str(err)))


@pytest.mark.parametrize("stale", [False, True])
def test_concurrent_takers_exactly_one_wins(tmp_path, stale):
    """Free or stale, a race between processes is decided by the lock file: one wins, the rest name it."""
    import multiprocessing

    path = str(tmp_path / "rollback.lock")
    if stale:
        HostLock(path).acquire("run-dead", pid=dead_pid(), user="gone")
    ctx = multiprocessing.get_context("fork")
    takers = 6
    barrier, queue = ctx.Barrier(takers), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(path, os.getpid(), barrier, queue)) for _ in range(takers)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=30) for _ in procs]
    for proc in procs:
        proc.join()
    winners = [r[1] for r in results if r[0] == "won"]
    assert len(winners) == 1, results
    holder = HostLock(path).read()
    assert holder["run_id"] == "run-%d" % winners[0]
    assert all("run_id=run-%d" % winners[0] in r[1] for r in results if r[0] == "lost")
    assert not [n for n in os.listdir(tmp_path) if n != "rollback.lock"], "no temp or guard file left"


def test_only_the_owner_releases(tmp_path):
    lock = HostLock(str(tmp_path / "rollback.lock"))
    lock.acquire("run-a", pid=dead_pid(), user="alice")
    with pytest.raises(LockHeld):
        lock.release("run-b")  # even a stale lock is not another run's to remove
    assert lock.read()["run_id"] == "run-a"
    assert lock.release("run-b", force=True) is True
