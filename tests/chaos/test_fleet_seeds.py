"""Regressions found by the chaos suite's fleet tier (tests/chaos/fleet.py), each a fixed plan
named after the seed and run that found it. They need the four podman hosts (root, minutes each):
they run with CHAOS_FLEET=1 (`make chaos TIER=fleet` sets it), never in `make test`.
CHAOS_FLEET_BASE=DIR reuses hosts kept by `tests/chaos/run.py --tier fleet --keep --base DIR`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.chaos.chaos import Fault
from tests.chaos.fleet import FleetBox, name
from tests.harness.stack import VERDICT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("CHAOS_FLEET") != "1", reason="the fleet tier: CHAOS_FLEET=1 (root, podman)"),
]


@pytest.fixture(scope="module")
def box():
    kept = os.environ.get("CHAOS_FLEET_BASE")
    if kept:
        yield FleetBox(Path(kept) / "fleet", reuse=True)
        return
    base = Path(tempfile.mkdtemp(prefix="rollback-chaos-fleet-"))
    fleet = FleetBox(base / "fleet")
    yield fleet
    fleet.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_seed_2613_run_1_an_app_host_dies_in_its_serial_batch(box):
    """Seed 2613, run 1: app1 stopped in the middle of the app phase (rollback_serial: 1). Its batch
    failed whole and ansible-playbook ends a playbook there: no whole-stack revert, no maintenance
    page off on the balancer (which was up), no verdict, the locks left to the run. Each component
    was still before or target and the re-run converged; the page left on was the violation. Now
    the run goes on: the host that stopped answering fails its phase, the stack is reverted where
    the hosts answer, the page goes off and the verdict names the host."""
    out = box.trial([Fault("app", 19, "host_stop", "app1")])
    assert out.applied == [0] and not out.killed
    assert out.after_fault == [], "after the fault: %s (states %s)" % (out.after_fault, out.states)
    assert out.rc != 0
    msg = out.run.result(VERDICT)["msg"]
    app1 = name("app1")
    assert "Why: app on %s: stopped answering, the role did not finish" % app1 in msg, msg
    assert "app on %s: NOT reverted, the host stopped answering" % app1 in msg, msg
    assert out.rerun_rc == 0 and out.after_rerun == [], out.after_rerun


def test_seed_2711_run_1_the_state_dir_runs_full_as_the_database_is_swapped_back(box):
    """Seed 2711, run 1: app2 stopped in the app phase, and the database host's state dir ran full as
    the whole-stack revert swapped the pre-rollback database back. The swap happened, its record
    could not be written, and pg_restore_safe said "nothing was renamed": the role stopped before
    upgrading the schema back, leaving the database downgraded (neither before nor target). Now the
    swap is reported done with a warning, the schema goes back up and the database is as before."""
    out = box.trial([Fault("app", 13, "host_stop", "app2"), Fault("revert database", 1, "disk_full", "db")])
    assert out.applied == [0, 1] and not out.killed
    assert out.states["fault"]["db/database"] == "before", out.states
    assert out.after_fault == [], "after the fault: %s (states %s)" % (out.after_fault, out.states)
    msg = out.run.result(VERDICT)["msg"]
    assert "database on %s: the pre-rollback database" % name("db") in msg, msg
    assert out.rerun_rc == 0 and out.after_rerun == [], out.after_rerun


def test_seed_2712_run_8_the_state_dir_runs_full_in_the_middle_of_the_gradual_restore(box):
    """Seed 2712, run 8: the balancer's state dir ran full after the first step of the gradual
    restore. The next step was refused (its undo needs the snapshot), and so was putting the weights
    live before the restore back: the upstream stayed half-way, the whole-stack revert skipped it (the
    role was taken to have put them back) and the verdict did not say. Putting weights back now needs
    no new snapshot; where it still fails, the revert play tries again and says NOT reverted."""
    out = box.trial([Fault("traffic", 16, "disk_full", "lb")])
    assert out.applied == [0] and not out.killed
    assert out.states["fault"]["lb/upstream"] == "target", out.states
    assert out.after_fault == [], "after the fault: %s (states %s)" % (out.after_fault, out.states)
    msg = out.run.result(VERDICT)["msg"]
    assert "traffic on %s: traffic: gradual restore of pool" % name("lb") in msg, msg
    assert "put back to" in msg, msg
    assert out.rerun_rc == 0 and out.after_rerun == [], out.after_rerun


def test_seed_2713_run_11_nginx_refuses_the_traffic_revert_after_a_refused_step(box):
    """Seed 2713, run 11: a broken include on the balancer right after the first step of the gradual
    restore (weights half-way) to the end of the traffic phase, and again in the traffic revert.
    nginx -t refused the next step, the role putting the weights back and the traffic revert's
    second try: no tool changes an nginx that refuses every configuration (it keeps serving what it
    has). The run said traffic was NOT reverted and kept the maintenance page on, as it should; the
    checker took the weights for a violation. They are in flight now, as with a stopped balancer,
    only while the run fails and its verdict says so. The re-run, nginx mended, converges."""
    out = box.trial([Fault("traffic", 10, "nginx_broken", "lb"), Fault("revert traffic", 1, "nginx_broken", "lb")])
    assert out.applied == [0, 1] and not out.killed
    assert out.after_fault == [], "after the fault: %s (states %s)" % (out.after_fault, out.states)
    assert out.states["fault"]["lb/upstream"] == "in flight", out.states
    assert "maintenance page left on" in out.in_flight, out.in_flight
    msg = out.run.result(VERDICT)["msg"]
    assert "traffic on %s: NOT reverted, the undo failed at Put the previous weights back" % name("lb") in msg, msg
    assert out.rerun_rc == 0 and out.after_rerun == [], out.after_rerun


def test_seed_2715_run_5_a_killed_journal_entry_does_not_make_the_target_bad(box):
    """Seed 2715, run 5: the module journaling app1's restart was killed (the release switched, the
    app restarted). The role's rescue switched app1 back and marked the release it left, the
    rollback's target, bad: every re-run was then refused ("it is marked bad ... use
    app_force=true"). A killed module says nothing about the release; only a failed verify marks
    it bad now, and the re-run converges."""
    out = box.trial_landed([Fault("app", 23, "module_kill", "app1")])
    assert out.applied == [0] and out.killed
    assert out.after_fault == [], "after the fault: %s (states %s)" % (out.after_fault, out.states)
    assert out.states["fault"]["app1/app"] == "before", out.states
    msg = out.run.result(VERDICT)["msg"]
    assert "failed in the rollback phase at 'Journal the restart'" in msg, msg
    assert out.rerun_rc == 0 and out.after_rerun == [], out.after_rerun
