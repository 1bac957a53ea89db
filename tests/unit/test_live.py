"""LiveView bookkeeping from runner events: the phase the run frame enters, states, failures kept."""

from __future__ import annotations

import io

from rollbackctl.live import LiveView, progress_for
from rollbackctl.progress import Progress


def event(kind, host, task, role=None, **res):
    return {"event": kind, "event_data": {"host": host, "task": task, "role": role, "res": res}}


def test_phase_state_and_failures():
    stream = io.StringIO()
    view = LiveView(stream)
    view({"event": "playbook_on_play_start", "event_data": {"play": "Roll back the app"}})
    view(event("runner_on_start", "web1", "Enter the phase snapshot", role="app"))
    view(event("runner_on_ok", "web1", "Enter the phase snapshot", role="app"))
    view(event("runner_on_start", "web1", "Take the snapshot", role="app"))
    assert view.hosts["web1"]["phase"] == "app snapshot" and view.hosts["web1"]["state"] == "running"
    view(event("runner_on_ok", "web1", "Take the snapshot", role="app", changed=True))
    view(event("runner_on_start", "web2", "Take the snapshot", role="app"))
    view(event("runner_on_failed", "web2", "Take the snapshot", role="app", msg="disk full"))
    assert view.hosts["web1"]["state"] == "changed" and view.hosts["web2"]["state"] == "failed"
    view.summary({"ok": {"web1": 2}, "failures": {"web2": 1}})
    text = stream.getvalue()
    assert "web2 failed: Take the snapshot: disk full" in text and "app snapshot" in text
    assert ("web2", "Take the snapshot", "failed", None, "disk full") in view.results


def test_plain_progress_when_not_a_terminal():
    assert type(progress_for(io.StringIO())) is Progress
