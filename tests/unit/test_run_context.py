"""The run_context lookup: one identity per ansible-playbook process, shared by its forked workers."""

from __future__ import annotations

import multiprocessing
import os
import re

from ansible_collections.emergency.rollback.plugins.lookup.run_context import LookupModule, context


def _in_worker(queue):
    queue.put(context())


def test_same_in_forked_workers_and_never_unknown():
    mine = context()
    assert re.match(r"^adhoc-\d{8}T\d{6}Z-[0-9a-f]{6}$", mine["run_id"])
    assert mine["pid"] == os.getpid() and mine["user"] and mine["user"] != "unknown"
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    worker = ctx.Process(target=_in_worker, args=(queue,))
    worker.start()
    theirs = queue.get(timeout=30)
    worker.join()
    assert theirs == mine, "a worker reports its controller, not itself"


def test_awx_user_and_terms():
    assert context({"awx_user_name": "alice"})["user"].startswith("alice (AWX) as ")
    lookup = LookupModule()
    assert lookup.run(["run_id", "pid"], variables={}) == [context()["run_id"], os.getpid()]
    [whole] = lookup.run([], variables={})
    assert set(whole) == {"run_id", "pid", "machine", "user"}
