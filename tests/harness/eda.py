"""ansible-rulebook running one of the collection's rulebooks, as a subprocess on a free port.

The rulebook is named by FQCN, so ansible-rulebook finds it (and the event source it uses) the way
it would in an installed collection: through ANSIBLE_COLLECTIONS_PATH.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.harness.ansible import ansible_env
from tests.harness.services import free_port, wait_for_port

VENV_BIN = Path(sys.executable).parent
MARK = "ROLLBACK_EDA_HARNESS"


def kill_marked(value, sig=signal.SIGKILL):
    """Signal every process whose environment carries MARK=value; the pids signalled.

    ansible-runner starts each playbook in a session of its own, so killing the rulebook's
    process group leaves a playbook still running; the environment it inherited finds it.
    """
    needle = ("%s=%s" % (MARK, value)).encode()
    hit = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as env:
                if needle not in env.read().split(b"\0"):
                    continue
            os.kill(int(entry), sig)
            hit.append(int(entry))
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return hit


class Rulebook:
    """The port is fixed at construction, so what sends to it can be configured before start()."""

    def __init__(self, base, rulebook, port_var="rollback_eda_port"):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.port_var = port_var
        self.rulebook = rulebook
        self.log = self.base / "rulebook.log"
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, inventory, variables, timeout=60):
        (self.base / "inventory.json").write_text(json.dumps(inventory))
        (self.base / "vars.json").write_text(json.dumps({self.port_var: self.port, **variables}))
        binary = VENV_BIN / "ansible-rulebook"
        argv = [str(binary), "-r", self.rulebook, "-i", str(self.base / "inventory.json")]
        # -vv: ansible-rulebook logs each action as it starts, before the playbook prints anything
        argv += ["--vars", str(self.base / "vars.json"), "-vv"]
        env = dict(os.environ, **ansible_env(self.base), **{MARK: str(self.base)})
        with open(self.log, "wb") as log:
            # its own process group: the playbook runs it starts are stopped with it
            self.proc = subprocess.Popen(
                argv, cwd=self.base, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for_port(self.port, timeout=timeout, proc=self.proc, log=self.log)
        return self

    def text(self):
        return self.log.read_text(errors="replace")

    def received(self, fingerprint, status="firing"):
        """How many times the source took in this alert with this status."""
        return len(re.findall(r"alert \S+ %s fingerprint %s\b" % (status, re.escape(fingerprint)), self.text()))

    def received_alerts(self):
        """(alertname, status, fingerprint) of every alert the source took in, in order."""
        return re.findall(r"alert (\S+) (\S+) fingerprint (\S+)", self.text())

    def playbook_actions(self):
        """The run_playbook actions that started, one (ruleset, rule) each."""
        return re.findall(r"action\.run_playbook - DEBUG - ruleset: (.+?), rule: (.+)", self.text())

    def plays(self, name):
        """How many times a play of this name started in the playbooks the rules ran."""
        return self.text().count("PLAY [%s]" % name)

    def wait_until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                code, tail = self.proc.returncode, self.text()[-4000:]
                raise AssertionError("ansible-rulebook exited (%s) before %s:\n%s" % (code, what, tail))
            time.sleep(0.2)
        raise AssertionError("not within %ss: %s\n%s" % (timeout, what, self.text()[-4000:]))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        kill_marked(str(self.base))
