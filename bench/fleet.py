"""rollback_app (symlink strategy) across 1, 10 and 50 hosts, over podman exec and over ssh.

Hosts are containers of the base image plus openssh-server (built here from
localhost/rollback-base:bookworm, see molecule/prepare-hosts.sh) running `sleep infinity`. Each
host gets an ansistrano layout with the bad release live; every measured run starts from that
state. Two transports:

- podman: the containers.podman connection (no pipelining before containers.podman 1.18.1).
- ssh: sshd in each container, a key pair generated for this run, ControlPersist and pipelining.

Three cases:

- bare: the switch alone (no restart, no health check).
- soak: a restart command, then the health of every host checked from the controller until 3
  consecutive successes; each host's app answers 503 for a short start-up after its restart.
- floor: not a rollback; three ansible.builtin.ping tasks per host, as many module runs as the
  soak makes per host at fleet size. What any playbook with that many module runs costs here: its
  50-host wall time against the soak's one-host wall time says how close a rollback can get.

Prints, per transport, case and fleet size: wall time, controller CPU seconds (ansible-playbook
and the processes it waited for; of it the main process, where the strategy runs), that CPU
spread over the machine's cores, CPU seconds per host, the targets' CPU seconds in all and per
host, the controller's and the targets' CPU together spread over the machine's cores (the targets
run on the same cores as the controller here, so that is the floor on the wall time), module runs
and task results (every task a host ran or skipped, controller-only ones included: each is a
worker fork) per host, the 1-minute load average (the machine may be shared), and the ratios of
each fleet to one host. --profile N prints each run's N slowest tasks and the time per action.

The targets' CPU is read from each host container's cgroup (cgroup v1 cpuacct.usage, or cgroup v2
cpu.stat usage_usec): sshd and its sessions, the `podman exec` processes and the modules they
run. Where no such cgroup is found it is "n/a".

--mitogen PATH runs the same playbook under Mitogen's mitogen_linear strategy, an optional
accelerator that is not a dependency: `pip install --target PATH mitogen` (0.3.54 supports
ansible-core 2.19), then `--mitogen PATH`. Mitogen wraps the ssh and podman connections; one
Python interpreter per host stays up and runs every module in it.

Usage (root): python bench/fleet.py [--sizes 1,10,50] [--transports podman,ssh] [--cases bare,soak,floor]
                                     [--forks N] [--mitogen PATH] [--profile N] [--prefix NAME]
                                     [--prove-pipelining] [--keep]
Not a test: no limits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = "localhost/rollback-base:bookworm"
IMAGE = "localhost/rollback-bench-ssh:bookworm"
CONTAINERFILE = (
    """FROM %s
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* && mkdir -p /run/sshd
"""
    % BASE
)
PREFIX = "rb-bench-"
NAMING = {"prefix": PREFIX}
LAYOUT = (
    "set -e; rm -rf /srv/shop /var/lib/emergency-rollback; "
    "for r in 20261121T090000Z 20261122T090000Z 20261123T090000Z; do "
    "mkdir -p /srv/shop/releases/$r/public; echo $r > /srv/shop/releases/$r/public/index.html; done; "
    "ln -s releases/20261123T090000Z /srv/shop/current; touch -d '2000-01-01' /srv/shop/.restarted"
)
STARTUP_S = 2.0
# The app of the soak case: 503 for STARTUP_S after its last restart (the mtime of .restarted).
APP = (
    "import http.server, os, time\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        ok = time.time() - os.stat('/srv/shop/.restarted').st_mtime >= %s\n"
    "        self.send_response(200 if ok else 503); self.end_headers()\n"
    "        self.wfile.write(b'ok' if ok else b'starting')\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "http.server.ThreadingHTTPServer(('0.0.0.0', 8080), H).serve_forever()\n" % STARTUP_S
)
# The floor case: as many module runs per host as the soak makes at fleet size (the barrier's
# read, the switch with its restart, the verdict), ansible-core's lightest module, nothing else.
FLOOR = """
- name: Three module runs per host and nothing else
  hosts: web
  gather_facts: false
  tasks:
    - name: First
      ansible.builtin.ping:
    - name: Second
      ansible.builtin.ping:
    - name: Third
      ansible.builtin.ping:
"""
# Counts module runs per host (not the controller-only actions, not delegated runs).
CALLBACK = """
import json, os, resource, time
from ansible.plugins.callback import CallbackBase

CONTROLLER = {"set_fact", "assert", "fail", "debug", "meta", "include_tasks", "import_tasks",
              "include_role", "import_role", "include_vars", "validate_argument_spec"}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_calls"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.calls, self.controller, self.results = {}, 0, {}
        # Wall time per task (as profile_tasks measures it: start to the next task's start).
        self.tasks, self.current = [], None

    def _close(self):
        if self.current:
            name, action, started = self.current
            self.tasks.append([name, action, time.monotonic() - started])
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.current = (task.get_name(), task.action, time.monotonic())

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _count(self, result):
        host = result._host.get_name()
        self.results[host] = self.results.get(host, 0) + 1
        if result._task.action.rsplit(".", 1)[-1] in CONTROLLER:
            return
        if result._task.delegate_to:
            self.controller += 1
            return
        host = result._host.get_name()
        self.calls[host] = self.calls.get(host, 0) + 1

    def v2_runner_on_ok(self, result):
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_runner_on_skipped(self, result):
        host = result._host.get_name()
        self.results[host] = self.results.get(host, 0) + 1

    def v2_playbook_on_stats(self, stats):
        self._close()
        with open(os.environ["BENCH_CALLS_OUT"], "w") as out:
            json.dump(
                {
                    "hosts": self.calls,
                    "controller": self.controller,
                    "tasks": self.tasks,
                    "results": self.results,
                    # callbacks run in ansible-playbook's main process: the strategy's own CPU
                    "main_cpu": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                },
                out,
            )
"""


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout.strip()


def parallel(argvs):
    procs = [subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for a in argvs]
    for argv, proc in zip(argvs, procs, strict=True):
        if proc.wait() != 0:
            raise SystemExit("failed: %s: %s" % (" ".join(argv[:4]), proc.stderr.read().decode()[-500:]))


def container_names(count):
    return ["%s%03d" % (NAMING["prefix"], i) for i in range(count)]


def ensure_image():
    if subprocess.run(["podman", "image", "exists", BASE], check=False).returncode != 0:
        subprocess.run(["bash", str(REPO / "molecule" / "prepare-hosts.sh")], check=True)
    if subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode != 0:
        with tempfile.TemporaryDirectory() as ctx:
            (Path(ctx) / "Containerfile").write_text(CONTAINERFILE)
            sh("podman", "build", "-q", "-t", IMAGE, ctx)


def ensure_containers(count, pubkey):
    running = set(sh("podman", "ps", "--format", "{{.Names}}").split())
    names = container_names(count)
    for name in names:
        if name not in running:
            subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
            sh("podman", "run", "-d", "--name", name, IMAGE, "sleep", "infinity")
    key = pubkey.read_text().strip()
    setup = (
        "mkdir -p /root/.ssh /run/sshd && chmod 700 /root/.ssh && echo '%s' > /root/.ssh/authorized_keys; "
        "pgrep -x sshd >/dev/null || /usr/sbin/sshd" % key
    )
    parallel([["podman", "exec", n, "sh", "-c", setup] for n in names])
    ips = {}
    for name in names:
        ips[name] = sh("podman", "inspect", "--format", "{{.NetworkSettings.IPAddress}}", name)
    return ips


def start_apps(names):
    """The soak case's app on :8080 of each host (once; it survives the layout resets)."""
    for name in names:
        probe = ["podman", "exec", name, "pgrep", "-f", "bench-app"]
        if subprocess.run(probe, capture_output=True, check=False).returncode:
            sh("podman", "exec", name, "sh", "-c", "cat > /srv/bench-app.py <<'EOF'\n%sEOF" % APP)
            sh("podman", "exec", "-d", name, "python3", "/srv/bench-app.py")


def reset(names):
    parallel([["podman", "exec", n, "sh", "-c", LAYOUT] for n in names])


def memory_per_container():
    """Resident memory of one idle container's cgroup, in MiB."""
    name = container_names(1)[0]
    cid = sh("podman", "inspect", "--format", "{{.Id}}", name)
    for path in (
        "/sys/fs/cgroup/memory/machine.slice/libpod-%s.scope/memory.usage_in_bytes" % cid,
        "/sys/fs/cgroup/memory/libpod_parent/libpod-%s/memory.usage_in_bytes" % cid,
    ):
        if os.path.exists(path):
            return int(Path(path).read_text()) / 2**20
    usage = sh("podman", "stats", "--no-stream", "--format", "{{.MemUsage}}", name).split("/")[0].strip()
    value, unit = float(usage[:-3] if usage[-3:].isalpha() else usage[:-2]), usage.lstrip("0123456789.")
    return value * {"kB": 1 / 1024, "KiB": 1 / 1024, "MB": 1, "MiB": 1, "GB": 1024, "GiB": 1024}.get(unit, 1)


def cpu_cgroups(names):
    """The file holding each host container's CPU usage (its cgroup), or None if one has none.

    The ids are looked up once, here; cpu_seconds() reads the files at each measurement.
    """
    ids = sh("podman", "inspect", "--format", "{{.Id}}", *names).split()
    files = {}
    for name, cid in zip(names, ids, strict=True):
        candidates = (
            # cgroup v1 (nanoseconds): podman's cgroupfs manager, then its systemd manager
            "/sys/fs/cgroup/cpuacct/libpod_parent/libpod-%s/cpuacct.usage" % cid,
            "/sys/fs/cgroup/cpuacct/machine.slice/libpod-%s.scope/cpuacct.usage" % cid,
            # cgroup v2 (usage_usec in cpu.stat): the systemd manager, then cgroupfs
            "/sys/fs/cgroup/machine.slice/libpod-%s.scope/cpu.stat" % cid,
            "/sys/fs/cgroup/libpod_parent/libpod-%s/cpu.stat" % cid,
            # the v2 hierarchy of a hybrid layout
            "/sys/fs/cgroup/unified/machine.slice/libpod-%s.scope/cpu.stat" % cid,
            "/sys/fs/cgroup/unified/libpod_parent/libpod-%s/cpu.stat" % cid,
        )
        found = [path for path in candidates if os.path.exists(path)]
        if not found:
            return None
        files[name] = found[0]
    return files


def cpu_seconds(files, names):
    """CPU seconds the containers `names` have used since they started (None: not measured)."""
    if files is None:
        return None
    total = 0.0
    for name in names:
        text = Path(files[name]).read_text()
        if files[name].endswith("cpuacct.usage"):
            total += int(text) / 1e9
            continue
        usage = [line.split()[1] for line in text.splitlines() if line.startswith("usage_usec ")]
        if not usage:
            return None
        total += int(usage[0]) / 1e6
    return total


def inventory(names, ips, transport, workdir):
    hosts = {}
    for name in names:
        if transport == "podman":
            hosts[name] = {"ansible_connection": "containers.podman.podman"}
        else:
            hosts[name] = {"ansible_host": ips[name], "ansible_user": "root"}
        hosts[name]["bench_ip"] = ips[name]
    doc = {
        "all": {
            "children": {"web": {"hosts": hosts}},
            "vars": {
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_private_key_file": str(Path(workdir) / "id_ed25519"),
            },
        }
    }
    path = Path(workdir) / ("hosts-%s.yml" % transport)
    path.write_text(json.dumps(doc))
    return path


def run(names, ips, transport, case, forks, workdir, verbose=False, mitogen=None, cgroups=None):
    """One rollback_app run over `names` from the bad layout; its figures.

    targets_cpu is the CPU the hosts' cgroups (`cgroups`, from cpu_cgroups) used while
    ansible-playbook ran, the layout reset before it not included; None where it is not measured.
    In the soak case each host's app (the python http server) is in its cgroup too: that is the
    host's work during the run (answering the health checks), and it is counted.
    """
    inv = inventory(names, ips, transport, workdir)
    calls_out = Path(workdir) / "calls.json"
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"),
        ANSIBLE_ROLES_PATH=str(REPO / "roles"),
        ANSIBLE_FORKS=str(forks or len(names)),
        ANSIBLE_PIPELINING="True",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile=/dev/null "
        "-o StrictHostKeyChecking=no",
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(Path(workdir) / "cp"),
        ANSIBLE_CALLBACK_PLUGINS=str(Path(workdir) / "callbacks"),
        ANSIBLE_CALLBACKS_ENABLED="bench_calls",
        BENCH_CALLS_OUT=str(calls_out),
        PATH="%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")),
    )
    if mitogen:
        # Mitogen's strategy replaces the connection's per-task fork/transfer/Python start with one
        # interpreter per host kept running; it wraps the ssh and podman connections alike.
        env["ANSIBLE_STRATEGY_PLUGINS"] = str(Path(mitogen) / "ansible_mitogen" / "plugins" / "strategy")
        env["ANSIBLE_STRATEGY"] = "mitogen_linear"
    playbook = REPO / "playbooks" / "rollback_app.yml"
    if case == "floor":
        playbook = Path(workdir) / "floor.yml"
        playbook.write_text(FLOOR)
    argv = ["ansible-playbook", str(playbook), "-i", str(inv)]
    argv += ["-e", "app_root=/srv/shop"]
    if case == "soak":
        extra = {
            "app_restart": "command",
            "app_restart_command": ["touch", "/srv/shop/.restarted"],
            "app_health_urls": ["http://{{ bench_ip }}:8080/health"],
            "app_health_from": "controller",
            "app_health_consecutive": 3,
            "app_health_interval": 0.5,
            "app_health_attempts": 30,
        }
        argv += ["-e", json.dumps(extra)]
    if verbose:
        argv.append("-vvv")
    reset(names)
    load = os.getloadavg()[0]
    targets_before = cpu_seconds(cgroups, names)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    targets_after = cpu_seconds(cgroups, names)
    if out.returncode != 0:
        raise SystemExit("rollback_app failed on %d hosts:\n%s" % (len(names), out.stdout[-3000:]))
    live = sh("podman", "exec", names[-1], "readlink", "/srv/shop/current")
    if case != "floor" and live != "releases/20261122T090000Z":
        raise SystemExit("rollback_app did not switch %s: current -> %s" % (names[-1], live))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    targets_cpu = None
    if targets_before is not None and targets_after is not None:
        targets_cpu = targets_after - targets_before
    calls = json.loads(calls_out.read_text())
    per_host = sum(calls["hosts"].values()) / len(names)
    load = max(load, os.getloadavg()[0])
    return {
        "wall": took,
        "cpu": cpu,
        "targets_cpu": targets_cpu,
        "calls": per_host,
        "controller_calls": calls["controller"],
        "task_results": sum(calls["results"].values()) / len(names),
        "main_cpu": calls["main_cpu"],
        "load": load,
        "tasks": calls["tasks"],
        "out": out.stdout,
    }


def figure(value, spec):
    """`value` formatted with `spec`, or "n/a" (right-aligned to the same width) when not measured."""
    if value is None:
        width = spec[1:].split(".")[0]
        return ("%" + width + "s") % "n/a" if width else "n/a"
    return spec % value


def print_profile(tasks, count):
    """The slowest tasks of a run and the time spent per action, as profile_tasks would show."""
    by_action = {}
    for _name, action, took in tasks:
        by_action[action] = by_action.get(action, 0.0) + took
    for name, action, took in sorted(tasks, key=lambda t: -t[2])[:count]:
        print("      %6.2fs  %-32s %s" % (took, action.rsplit(".", 1)[-1], name[:70]))
    top = sorted(by_action.items(), key=lambda kv: -kv[1])[:count]
    print("      per action: " + ", ".join("%s %.1fs" % (a.rsplit(".", 1)[-1], t) for a, t in top))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--transports", default="podman,ssh")
    parser.add_argument("--cases", default="bare,soak,floor")
    parser.add_argument("--forks", type=int, default=0, help="0: one fork per host")
    parser.add_argument("--prove-pipelining", action="store_true", help="one ssh run at -vvv, grep for it")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--prefix", default=PREFIX, help="container names (two benches side by side)")
    parser.add_argument(
        "--mitogen", metavar="PATH", help="a directory holding ansible_mitogen (pip install --target PATH mitogen)"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print each run's N slowest tasks")
    args = parser.parse_args()
    NAMING["prefix"] = args.prefix
    sizes = [int(s) for s in args.sizes.split(",")]
    transports = args.transports.split(",")
    cases = args.cases.split(",")
    ensure_image()
    link = REPO / "build" / "collections" / "ansible_collections" / "emergency" / "rollback"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO, target_is_directory=True)

    with tempfile.TemporaryDirectory() as workdir:
        (Path(workdir) / "callbacks").mkdir()
        (Path(workdir) / "callbacks" / "bench_calls.py").write_text(CALLBACK)
        (Path(workdir) / "cp").mkdir()
        # A key pair for this run only.
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(Path(workdir) / "id_ed25519"))
        ips = ensure_containers(max(sizes), Path(workdir) / "id_ed25519.pub")
        if "soak" in cases:
            start_apps(container_names(max(sizes)))
        cgroups = cpu_cgroups(container_names(max(sizes)))
        if cgroups is None:
            print("targets' CPU: n/a (no cpuacct.usage or cpu.stat found for the host containers)")
        print("memory per idle host container (cgroup): %.1f MiB" % memory_per_container())
        if args.prove_pipelining:
            names = container_names(1)
            res = run(names, ips, "ssh", "bare", 1, workdir, verbose=True)
            lines = [line for line in res["out"].splitlines() if "Pipelining is enabled" in line]
            print("ssh at -vvv: %d x 'Pipelining is enabled.' (one per module run), e.g. %r" % (len(lines), lines[:1]))
        results = {}
        for transport in transports:
            for case in cases:
                for size in sizes:
                    names = container_names(size)
                    res = run(names, ips, transport, case, args.forks, workdir, mitogen=args.mitogen, cgroups=cgroups)
                    results[(transport, case, size)] = res
                    print(
                        "  %-6s %-4s %3d hosts  %6.1fs wall  %6.1f cpu-s  targets %s cpu-s  %.2f cpu-s/host"
                        "  %.1f module runs/host  %.0f task results/host  main process %.1f cpu-s  load %.1f"
                        % (
                            transport,
                            case,
                            size,
                            res["wall"],
                            res["cpu"],
                            figure(res["targets_cpu"], "%.1f"),
                            res["cpu"] / size,
                            res["calls"],
                            res["task_results"],
                            res["main_cpu"],
                            res["load"],
                        ),
                        flush=True,
                    )
                    if args.profile:
                        print_profile(res["tasks"], args.profile)
    print()
    forks = args.forks or "one per host"
    strategy = "mitogen_linear strategy (%s)" % args.mitogen if args.mitogen else "linear strategy"
    print("forks: %s, %s, pipelining on (ssh; podman's connection has none)" % (forks, strategy))
    head = "%-6s %-4s %-20s" % ("conn", "case", "")
    ratios = "".join("%8s" % ("%d/%d" % (s, sizes[0])) for s in sizes[1:])
    print(head + "".join("%10s" % ("%d hosts" % s) for s in sizes) + ratios)
    for transport in transports:
        for case in cases:
            rows = [results[(transport, case, s)] for s in sizes]
            label = "%-6s %-4s" % (transport, case)
            print(
                label
                + " %-20s" % "wall s"
                + "".join("%10.1f" % r["wall"] for r in rows)
                + "".join("%7.2fx" % (r["wall"] / rows[0]["wall"]) for r in rows[1:])
            )
            print(" " * 11 + " %-20s" % "controller cpu s" + "".join("%10.1f" % r["cpu"] for r in rows))
            # The controller's CPU spread over every core (the targets' CPU comes on top of it below).
            cores = os.cpu_count() or 1
            floor = "".join("%10.1f" % (r["cpu"] / cores) for r in rows)
            print(" " * 11 + " %-20s" % ("cpu s / %d cores" % cores) + floor)
            print(" " * 11 + " %-20s" % "of it main process" + "".join("%10.1f" % r["main_cpu"] for r in rows))
            per_host = [r["cpu"] / s for r, s in zip(rows, sizes, strict=True)]
            print(" " * 11 + " %-20s" % "cpu s per host" + "".join("%10.2f" % c for c in per_host))
            targets = [r["targets_cpu"] for r in rows]
            print(" " * 11 + " %-20s" % "targets cpu s" + "".join(figure(t, "%10.1f") for t in targets))
            targets_per_host = [None if t is None else t / s for t, s in zip(targets, sizes, strict=True)]
            print(" " * 11 + " %-20s" % "targets cpu s/host" + "".join(figure(t, "%10.2f") for t in targets_per_host))
            # The targets run on the same cores as the controller: all the CPU spread over every core
            # is the floor on the wall time on this machine.
            both = [None if t is None else (r["cpu"] + t) / cores for r, t in zip(rows, targets, strict=True)]
            floor = "".join(figure(f, "%10.1f") for f in both)
            print(" " * 11 + " %-20s" % ("all cpu s / %d cores" % cores) + floor)
            print(" " * 11 + " %-20s" % "module runs/host" + "".join("%10.1f" % r["calls"] for r in rows))
            print(" " * 11 + " %-20s" % "task results/host" + "".join("%10.0f" % r["task_results"] for r in rows))
            print(" " * 11 + " %-20s" % "load (1 min, max)" + "".join("%10.1f" % r["load"] for r in rows))
        if ("soak" in cases and "floor" in cases) and len(sizes) > 1:
            # what the goal "N hosts within k times one host" leaves: no playbook making the soak's
            # module runs per host does better here than the floor
            one, most = results[(transport, "soak", sizes[0])]["wall"], results[(transport, "floor", sizes[-1])]["wall"]
            print(
                "%-6s floor at %d hosts %.1f s = %.2fx the soak on %d host(s) (%.1f s)"
                % (transport, sizes[-1], most, most / one, sizes[0], one)
            )
    if not args.keep:
        for name in container_names(max(sizes)):
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)


if __name__ == "__main__":
    main()
