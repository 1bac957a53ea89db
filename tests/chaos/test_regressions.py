"""Regressions of the chaos suite, each named after the seed whose long run found it
(`python tests/chaos/run.py --seed S --runs N`) and replayed as a fixed plan of that run's faults, so
it takes one faulted run and one re-run. The invariants are those of tests/chaos/chaos.py; each test
adds what the finding was about.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils._journal import Journal
from tests.chaos.chaos import Fault
from tests.chaos.test_fast import assert_outcome, box  # noqa: F401 - the fast tier's sandbox fixture
from tests.harness.stack import VERDICT

pytestmark = pytest.mark.integration


def reports(chaos):
    return sorted((chaos.stack.state_dir / "reports").glob("*/incident-*.md"))


def journal_of(chaos, msg):
    """The journal entries of the run whose verdict is msg."""
    run_id = re.search(r"Run (\S+); see the journal", msg).group(1)
    entries, _torn = Journal(str(chaos.stack.state_dir / "journal.jsonl")).read(run_id=run_id)
    return entries


def test_seed_2026_disk_full_in_maintenance_off_then_module_kill_in_unlock(box):  # noqa: F811
    """Seed 2026, runs 4 and 6: the state dir full when the page goes off (task 4 of the play is
    just before the maintenance module) made the module refuse, the page stayed on and the run
    ended there; a module killed in the unlock play ended the run without report or verdict. Now the
    page goes off, the journal line it could not write is named, and the closing plays after a
    failed one still run: the report is written and the verdict says the closing failed, and where."""
    if "disk_full" not in box.faults_possible():
        pytest.skip("the state dir is not a tmpfs (mounting needs root)")
    out = box.trial_landed([Fault("maintenance off", 4, "disk_full"), Fault("unlock", 1, "module_kill")])
    assert out.applied == [0, 1], out.applied
    assert_outcome(out)
    assert out.states["fault"]["app"] == "target"
    assert "maintenance page left on" not in out.in_flight  # the page went off in the faulted run
    msg = out.run.result(VERDICT)["msg"]
    assert msg.startswith("The complete rollback failed while closing the run."), msg
    assert "Closing failed: unlock on localhost at " in msg, msg
    # the journal has the page going off, or the verdict names the line it could not write
    written = any(e["action"] == "maintenance_off" for e in journal_of(box, msg))
    assert written or "journal not written for maintenance off on localhost (No space left on device)" in msg, msg
    assert len(reports(box)) == 2  # the faulted run's and the re-run's


def test_seed_2026_module_kill_in_assess_closes_the_run(box):  # noqa: F811
    """Seed 2026, run 11: a module killed in the assess play (the assessment's journal line, after
    the lock was taken) ended the run with the lock held and no report or verdict. Now nothing
    changes, the lock is released, the report is written and the verdict names the phase."""
    out = box.trial_landed([Fault("assess", 14, "module_kill")])
    assert out.applied == [0], out.applied
    assert_outcome(out)
    assert out.rc != 0
    assert out.states["fault"] == dict.fromkeys(out.states["fault"], "before")
    msg = out.run.result(VERDICT)["msg"]
    assert msg.startswith("The complete rollback failed in the assess phase, before any component was changed."), msg
    assert "Why: assess on localhost at 'Journal the assessment':" in msg, msg
    assert [e["action"] for e in journal_of(box, msg) if e["component"] == "lock"][-1:] == ["release"]
    assert len(reports(box)) == 2
