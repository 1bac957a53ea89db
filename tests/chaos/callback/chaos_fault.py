# Test-only callback plugin: the fault injector of the chaos suite (tests/chaos/).
"""Counts the task results of each play (a phase of rollback_complete) per host and, when the
point named in CHAOS_PLAN is reached, applies the fault; without a plan it only counts (the
driver's calibration run). Every play start, count and fault goes to CHAOS_LOG as a JSON line.

CHAOS_PLAN: {"faults": [{"play": <play name prefix>, "task": N, "host": H, "fault": <kind>,
                        "params": {...}}, ...]}
  each fault is applied after the Nth task result of host H in the play whose name starts with
  "play" (skipped tasks count: they are points of the run too). A fault lasts until the end of its
  play (the next play start clears it, as an operator would), so one run can carry a fault in
  every phase; the kills end the run, so a kill can only be a run's last fault.
Faults (kinds):
  controller_kill  SIGKILL of ansible-playbook and of everything it started (its process group):
                   the controller machine dies; nothing of the run cleans up.
  module_kill      SIGKILL of the next module process (the interpreter running AnsiballZ) the
                   run starts in this play, while it runs; params.remote_tmp names the run's
                   remote temp dir. The task's result says whether the kill landed (failed) or
                   came after the module had answered (ok): logged as "kill_result".
  disk_full        fill the filesystem of params.state_dir (a small tmpfs the driver mounts)
                   with params.state_dir/.chaos-fill.
  pg_refuse        PostgreSQL refuses new connections: params.pg_hba rewritten to reject, the
                   postmaster (params.pg_data/postmaster.pid) reloaded.
  nginx_broken     `nginx -t` fails: a broken include in each of params.conf_dirs.
  host_stop        SIGKILL of the systemd of the podman container params.container (the host
                   dies); the driver starts it again before the re-run.
  net_cut          nftables in the network namespace of params.container drop everything but
                   loopback traffic, in and out, until the end of the play.
With params.container, pg_refuse and nginx_broken act inside that container (podman exec;
params.reload reloads PostgreSQL there); disk_full and module_kill work from the machine as they
are (the state dir is a tmpfs of the machine bind-mounted into the host, and the host's module
processes are visible in the machine's /proc).
The driver (tests/chaos/chaos.py) clears the faults again after a kill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from ansible.plugins.callback import CallbackBase

# loaded by ansible-playbook from its plugin dir: the repository's own test helpers by path
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
from tests.harness.fill import fill  # noqa: E402

DOCUMENTATION = """
name: chaos_fault
type: aggregate
short_description: test-only fault injector of the chaos suite
description: Applies the fault of CHAOS_PLAN at its point of the run and logs to CHAOS_LOG.
"""

FILL = ".chaos-fill"
BROKEN = "zz-chaos-broken.conf"


REJECT = "local all all reject\nhost all all 0.0.0.0/0 reject\nhost all all ::/0 reject\n"
NFT_CUT = """table inet chaos {
  chain in { type filter hook input priority -300; policy drop; iif "lo" accept; }
  chain out { type filter hook output priority -300; policy drop; oif "lo" accept; }
}
"""


def in_container(container, script):
    subprocess.run(["podman", "exec", "-i", container, "sh", "-s"], input=script, text=True, check=True)


def reject_hba(params):
    """Save pg_hba.conf next to itself and reject every connection; returns how to undo it."""
    if "container" in params:
        hba, reload = params["pg_hba"], " ".join(params["reload"])
        in_container(
            params["container"],
            "cp %s %s.chaos && printf '%%s' '%s' > %s && %s && sleep 0.3\n" % (hba, hba, REJECT, hba, reload),
        )
        # cat, not mv: the file keeps its owner (PostgreSQL must still read it)
        return lambda: in_container(
            params["container"], "cat %s.chaos > %s && rm %s.chaos && %s && sleep 0.3\n" % (hba, hba, hba, reload)
        )
    hba = params["pg_hba"]
    with open(hba) as handle:
        saved = handle.read()
    with open(hba, "w") as handle:
        handle.write(REJECT)
    reload_pg(params)
    return lambda: (write(hba, saved), reload_pg(params))


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def reload_pg(params):
    with open(os.path.join(params["pg_data"], "postmaster.pid")) as handle:
        os.kill(int(handle.readline()), signal.SIGHUP)
    time.sleep(0.3)  # the postmaster reads pg_hba.conf on SIGHUP, asynchronously


def fill_disk(params):
    path = os.path.join(params["state_dir"], FILL)
    fill(path)
    return lambda: os.unlink(path)


def break_nginx(params):
    paths = [os.path.join(conf_dir, BROKEN) for conf_dir in params["conf_dirs"]]
    if "container" in params:
        files = " ".join(paths)
        in_container(
            params["container"], "for f in %s; do echo 'include /nonexistent/chaos-missing.conf;' > $f; done\n" % files
        )
        return lambda: in_container(params["container"], "rm -f %s\n" % files)
    for path in paths:
        write(path, "include /nonexistent/chaos-missing.conf;\n")
    return lambda: [os.unlink(path) for path in paths]


def stop_host(params):
    subprocess.run(["podman", "kill", "--signal", "KILL", params["container"]], capture_output=True, check=True)


def container_pid(container):
    out = subprocess.run(
        ["podman", "inspect", "-f", "{{.State.Pid}}", container], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def cut_network(params):
    pid = container_pid(params["container"])
    subprocess.run(["nsenter", "-t", pid, "-n", "nft", "-f", "-"], input=NFT_CUT, text=True, check=True)

    def undo():
        # the host may have been stopped meanwhile: its namespace (and the rule) went with it
        subprocess.run(
            ["nsenter", "-t", pid, "-n", "nft", "delete", "table", "inet", "chaos"], capture_output=True, check=False
        )

    return undo


def module_pids(remote_tmp):
    """Pids of the interpreters running a module (AnsiballZ) under the run's remote temp dir: not
    the shell around them, nor the chmod and rm of the temp dir (killing those is no module kill)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if not os.path.basename(argv[0]).startswith(b"python"):
            continue
        if any(arg.endswith(b".py") and b"AnsiballZ_" in arg and remote_tmp.encode() in arg for arg in argv[1:]):
            pids.append(int(name))
    return pids


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "chaos_fault"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        plan = os.environ.get("CHAOS_PLAN")
        self.faults = json.loads(plan)["faults"] if plan else []
        self.log_path = os.environ.get("CHAOS_LOG")
        self.play = None
        self.counts = {}  # (play, host) -> task results
        self.undo = []  # how to clear the faults of the current play
        self.watches = []  # module_kill watchers of the current play
        self.kills = {}  # index of a module_kill -> host, until that host's next result

    def log(self, **record):
        if not self.log_path:
            return
        record["t"] = time.time()
        with open(self.log_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    # --- where the run is ---------------------------------------------------------------------

    def v2_playbook_on_play_start(self, play):
        self.clear()
        self.play = play.get_name().strip()
        self.log(event="play", play=self.play)

    def v2_playbook_on_stats(self, stats):
        self.clear()

    def clear(self):
        for stop in self.watches:
            stop.set()
        self.watches = []
        for undo in reversed(self.undo):
            undo()
            self.log(event="cleared", play=self.play)
        self.undo = []

    def _result(self, result, status):
        host = result._host.get_name()
        key = (self.play, host)
        self.counts[key] = self.counts.get(key, 0) + 1
        n = self.counts[key]
        self.log(event="task", play=self.play, host=host, n=n, task=result._task.get_name(), status=status)
        for index, killed in list(self.kills.items()):
            if killed == host:
                del self.kills[index]
                self.log(event="kill_result", index=index, status=status, task=result._task.get_name())
        for index, fault in enumerate(self.faults):
            if (
                fault.get("done")
                or not self.play.startswith(fault["play"])
                or fault["host"] != host
                or fault["task"] != n
            ):
                continue
            fault["done"] = True
            self.apply(index, fault)

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    # --- the faults --------------------------------------------------------------------------

    def apply(self, index, fault):
        kind, params = fault["fault"], fault.get("params", {})
        self.log(event="fault", index=index, fault=kind, play=self.play, host=fault["host"], n=fault["task"])
        if kind == "controller_kill":
            # ansible-runner starts ansible-playbook as a session leader: its group is the run
            if os.getpgid(0) == os.getpid():
                os.killpg(os.getpid(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        elif kind == "module_kill":
            stop = threading.Event()
            self.watches.append(stop)
            threading.Thread(
                target=self._watch, args=(index, fault["host"], params["remote_tmp"], stop), daemon=True
            ).start()
        elif kind == "disk_full":
            self.undo.append(fill_disk(params))
        elif kind == "pg_refuse":
            self.undo.append(reject_hba(params))
        elif kind == "nginx_broken":
            self.undo.append(break_nginx(params))
        elif kind == "host_stop":
            stop_host(params)
        elif kind == "net_cut":
            self.undo.append(cut_network(params))
        else:
            raise ValueError("chaos_fault: unknown fault %r" % kind)

    def _watch(self, index, host, remote_tmp, stop):
        """Kill the first module process that starts in the rest of this play, while it runs."""
        while not stop.is_set():
            pids = module_pids(remote_tmp)
            if pids:
                self.kills[index] = host
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                self.log(event="killed", index=index, pids=pids, play=self.play)
                return
            time.sleep(0.002)
        self.log(event="not_killed", index=index, play=self.play)
