"""The fault injector's own rules, without a run: which processes a module kill takes, and when a
kill counts as applied."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time

from tests.chaos.chaos import CALLBACK_DIR, Fault, read_log


def injector():
    spec = importlib.util.spec_from_file_location("chaos_fault", CALLBACK_DIR / "chaos_fault.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_module_kill_takes_the_interpreter_not_the_shell_around_it(tmp_path):
    remote = tmp_path / ".ansible-remote" / "ansible-tmp-1"
    remote.mkdir(parents=True)
    script = remote / "AnsiballZ_lock.py"
    script.write_text("import time\ntime.sleep(30)\n")
    shell = subprocess.Popen(["/bin/sh", "-c", "%s %s && sleep 0" % (sys.executable, script)])
    chmod = subprocess.Popen(["/bin/sh", "-c", "sleep 30 # chmod u+x %s" % script])
    try:
        deadline = time.monotonic() + 10
        pids = []
        while not pids and time.monotonic() < deadline:
            pids = injector().module_pids(str(tmp_path / ".ansible-remote"))
            time.sleep(0.01)
        assert len(pids) == 1, pids
        assert pids[0] not in (shell.pid, chmod.pid)
        with open("/proc/%d/cmdline" % pids[0], "rb") as handle:
            assert str(script).encode() in handle.read()
        assert injector().module_pids(str(tmp_path / "elsewhere")) == []
    finally:
        for proc in (shell, chmod):
            subprocess.run(["pkill", "-KILL", "-P", str(proc.pid)], check=False)
            proc.kill()
            proc.wait()


def log_of(tmp_path, *records):
    path = tmp_path / "chaos.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_a_kill_counts_only_when_the_module_had_not_answered(tmp_path):
    faults = [Fault("unlock", 1, "module_kill"), Fault("assess", 3, "pg_refuse")]
    fault = {"event": "fault", "index": 0}
    refuse = {"event": "fault", "index": 1}
    killed = {"event": "killed", "index": 0, "pids": [1]}
    landed = log_of(tmp_path, fault, refuse, killed, {"event": "kill_result", "index": 0, "status": "failed"})
    assert read_log(landed, faults) == ([0, 1], True)
    late = log_of(tmp_path, fault, refuse, killed, {"event": "kill_result", "index": 0, "status": "ok"})
    assert read_log(late, faults) == ([1], False)
    missed = log_of(tmp_path, fault, refuse, {"event": "not_killed", "index": 0})
    assert read_log(missed, faults) == ([1], False)
