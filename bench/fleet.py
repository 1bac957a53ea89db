"""rollback_app (symlink strategy) across 1, 10 and 50 podman hosts: how wall time grows with the fleet.

Hosts are containers of the locally built base image (molecule/prepare-hosts.sh) running
`sleep infinity` (no systemd: the rollback needs none), reached with the containers.podman
connection. Each host gets an ansistrano layout with the bad release live; every measured run
starts from that state. Prints memory per container, then wall time per host count for each
execution setting (forks, strategy, pipelining) and the ratio 50-hosts / 1-host.

Usage (root): python bench/fleet.py [--sizes 1,10,50] [--keep]
Not a test: no limits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = "localhost/rollback-base:bookworm"
PREFIX = "rb-bench-"
SETTINGS = {
    # name: (forks (None = one per host), strategy, pipelining)
    "default (5 forks, linear)": (5, "linear", False),
    "forks=hosts, linear": (None, "linear", False),
    "forks=hosts, linear, pipelining": (None, "linear", True),
    "forks=hosts, free, pipelining": (None, "free", True),
}
LAYOUT = (
    "set -e; rm -rf /srv/shop /var/lib/emergency-rollback; "
    "for r in 20261121T090000Z 20261122T090000Z 20261123T090000Z; do "
    "mkdir -p /srv/shop/releases/$r/public; echo $r > /srv/shop/releases/$r/public/index.html; done; "
    "ln -s releases/20261123T090000Z /srv/shop/current"
)


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout.strip()


def container_names(count):
    return ["%s%03d" % (PREFIX, i) for i in range(count)]


def ensure_containers(count):
    running = set(sh("podman", "ps", "--format", "{{.Names}}").split())
    for name in container_names(count):
        if name not in running:
            subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
            sh("podman", "run", "-d", "--name", name, BASE, "sleep", "infinity")


def reset(names):
    procs = [subprocess.Popen(["podman", "exec", n, "sh", "-c", LAYOUT]) for n in names]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit("could not lay out releases")


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


def conmon_rss():
    """Average resident memory of podman's per-container monitor processes, in MiB."""
    rss = [int(x) for x in sh("ps", "-C", "conmon", "-o", "rss=").split()]
    return sum(rss) / len(rss) / 1024 if rss else 0.0


def run(names, forks, strategy, pipelining, workdir):
    inventory = Path(workdir) / "hosts.yml"
    lines = ["all:", "  children:", "    web:", "      hosts:"]
    lines += ["        %s: {}" % n for n in names]
    lines += [
        "  vars:",
        "    ansible_connection: containers.podman.podman",
        "    ansible_python_interpreter: /usr/bin/python3",
    ]
    inventory.write_text("\n".join(lines) + "\n")
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"),
        ANSIBLE_ROLES_PATH=str(REPO / "roles"),
        ANSIBLE_FORKS=str(forks or len(names)),
        ANSIBLE_STRATEGY=strategy,
        ANSIBLE_PIPELINING=str(pipelining),
        ANSIBLE_HOST_KEY_CHECKING="False",
        PATH="%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")),
    )
    argv = [
        "ansible-playbook",
        str(REPO / "playbooks" / "rollback_app.yml"),
        "-i",
        str(inventory),
        "-e",
        "app_root=/srv/shop",
    ]
    reset(names)
    started = time.monotonic()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    if out.returncode != 0:
        raise SystemExit("rollback_app failed on %d hosts:\n%s" % (len(names), out.stdout[-3000:]))
    live = sh("podman", "exec", names[-1], "readlink", "/srv/shop/current")
    if live != "releases/20261122T090000Z":
        raise SystemExit("rollback_app did not switch %s: current -> %s" % (names[-1], live))
    return took


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--settings", default=";".join(SETTINGS), help="';'-separated names of SETTINGS")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if subprocess.run(["podman", "image", "exists", BASE], check=False).returncode != 0:
        subprocess.run(["bash", str(REPO / "molecule" / "prepare-hosts.sh")], check=True)
    link = REPO / "build" / "collections" / "ansible_collections" / "emergency" / "rollback"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO, target_is_directory=True)

    ensure_containers(max(sizes))
    per_host = memory_per_container() + conmon_rss()
    print(
        "memory per idle host container (cgroup + its conmon): %.1f MiB, so 50 hosts ~ %.0f MiB"
        % (per_host, 50 * per_host)
    )
    chosen = [s.strip() for s in args.settings.split(";")]
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for setting in chosen:
            forks, strategy, pipelining = SETTINGS[setting]
            for size in sizes:
                results[(setting, size)] = run(container_names(size), forks, strategy, pipelining, workdir)
                print("  %-34s %3d hosts %7.1fs" % (setting, size, results[(setting, size)]), flush=True)
    print()
    print("%-34s " % "setting" + " ".join("%8s" % ("%d hosts" % s) for s in sizes) + "  %s/%s" % (sizes[-1], sizes[0]))
    for setting in chosen:
        row = [results[(setting, s)] for s in sizes]
        print("%-34s " % setting + " ".join("%7.1fs" % t for t in row) + "  %6.2fx" % (row[-1] / row[0]))
    if not args.keep:
        for name in container_names(max(sizes)):
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)


if __name__ == "__main__":
    main()
