"""Wall time of playbooks/rollback_complete.yml on the localhost sandbox (one host in every
group), against the five component playbooks run one after the other on the same bad deploy,
measured in the same run, alternating, each round on a freshly built stack
(tests/harness/stack.py: nginx LB + app proxy, PostgreSQL, Redis, a TLS site, the Stripe stand-in).

    python bench/complete_rollback.py [rounds]    (default 3; prints medians)

The baseline is what the on-call engineer ran before rollback_complete existed: rollback_database,
rollback_app, rollback_ssl, rollback_cache and rollback_webhooks by hand, in that order, with the
same variables. The ratio is what the complete run costs on top: one lock for the whole run, the
maintenance page on and off, the smoke checks, the whole-stack revert plays (no-ops on success),
in one ansible-playbook process instead of five. No soak wait is configured (the sandbox sets no
traffic_restore_pool, so the gradual restore and its soaks are skipped): the times exclude them.
Each phase's share comes from the runner events (a phase is a play: from its start to the next
play's start; "startup" is ansible-playbook's start to the first play).

    python bench/complete_rollback.py --fleet [rounds] [--keep]    (default 1 round; root, podman)

times the same playbook on the Molecule `complete` scenario's fleet instead (molecule/complete:
nginx load balancer with TLS, two app hosts, a database host with PostgreSQL and Redis, podman
systemd containers): `molecule create` once, then each round stages a fresh bad
deploy with the scenario's converge.yml and times rollback_complete with the scenario's variables
(the app phase one host at a time, the gradual restore in two steps without soak, a smoke check
through the balancer). The containers are destroyed at the end unless --keep is given.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import pki as pki_mod  # noqa: E402
from tests.harness import services  # noqa: E402
from tests.harness.ansible import run_playbook  # noqa: E402
from tests.harness.stack import GOOD_HOOK, Stack  # noqa: E402

COMPLETE = REPO / "playbooks" / "rollback_complete.yml"
COMPONENTS = ("database", "app", "ssl", "cache", "webhooks")
# play name (prefix) -> phase of the table
PHASES = (
    ("Assess", "assess + lock"),
    ("Announce the start", "notify start"),
    ("Maintenance page on", "maintenance on"),
    ("Database", "database"),
    ("Application", "app"),
    ("Certificates", "ssl"),
    ("Caches", "cache"),
    ("Provider webhooks", "webhooks"),
    ("Verify", "verify (smoke checks)"),
    ("Traffic back", "traffic restore (no soak)"),
    ("Revert", "revert plays (no-ops)"),
    ("Maintenance page off", "maintenance off"),
    ("Announce the end", "notify end"),
    ("Release the locks", "unlock"),
    ("Verdict", "verdict"),
)


def phase_of(play):
    return next((phase for prefix, phase in PHASES if play.startswith(prefix)), play)


def created(event):
    moment = datetime.fromisoformat(event["created"])
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()  # runner writes UTC


def phase_times(run, started):
    """{phase: seconds} of one run from its events; `started` is when ansible-runner was called."""
    marks = [
        (created(e), phase_of(e["event_data"].get("play", "")))
        for e in run.events
        if e["event"] == "playbook_on_play_start"
    ]
    end = next(created(e) for e in run.events if e["event"] == "playbook_on_stats")
    out = {"startup": marks[0][0] - started}
    for (at, phase), (nxt, _) in zip(marks, marks[1:] + [(end, None)], strict=True):
        out[phase] = out.get(phase, 0.0) + (nxt - at)
    return out


def failures(run):
    """The failed tasks of a run and their messages (its stdout may end before them)."""
    lines = [
        "%s: %s" % (e["event_data"].get("task"), (e["event_data"].get("res") or {}).get("msg"))
        for e in run.events
        if e["event"] in ("runner_on_failed", "runner_on_unreachable") and not e["event_data"].get("ignore_errors")
    ]
    return "\n".join(lines) or "rc %s, status %s:\n%s" % (run.rc, run.status, run.stdout[-3000:])


def back_at_previous(stack):
    """Raise unless every component is back (a timing of a run that did nothing is no timing)."""
    state = stack.state()
    wrong = []
    if state["app"]["live"] != "r1":
        wrong.append("app %s" % state["app"]["live"])
    if state["database"]["rows"]["orders"] != 50:
        wrong.append("database %s" % state["database"]["rows"])
    if stack.served_certificate() != stack.certificate_of("good"):
        wrong.append("ssl")
    if state["cache"]["page:*"]:
        wrong.append("cache")
    if stack.hook_url != GOOD_HOOK:
        wrong.append("webhooks")
    if wrong:
        raise SystemExit("the run left components behind: %s" % ", ".join(wrong))


def complete(stack, work):
    started = time.time()
    with contextlib.redirect_stdout(io.StringIO()):
        run = run_playbook(work, str(COMPLETE), inventory=stack.inventory(), extravars=stack.extravars())
    took = time.time() - started
    if run.rc != 0:
        raise SystemExit("rollback_complete failed:\n%s" % failures(run))
    return took, phase_times(run, started)


def components(stack, work):
    """The five playbooks one after the other; {component: seconds} and the total."""
    extravars = stack.extravars()
    out = {}
    for component in COMPONENTS:
        started = time.time()
        playbook = REPO / "playbooks" / ("rollback_%s.yml" % component)
        with contextlib.redirect_stdout(io.StringIO()):
            run = run_playbook(work, str(playbook), inventory=stack.inventory(), extravars=extravars)
        out[component] = time.time() - started
        if run.rc != 0:
            raise SystemExit("%s failed:\n%s" % (playbook.name, failures(run)))
    return sum(out.values()), out


SCENARIO = REPO / "molecule" / "complete"


def molecule(*args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), PY_COLORS="0")
    env["PATH"] = "%s:%s" % (Path(sys.executable).parent, env.get("PATH", ""))
    run = subprocess.run(
        [str(Path(sys.executable).parent / "molecule"), *args, "-s", "complete"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit("molecule %s failed:\n%s" % (" ".join(args), (run.stdout + run.stderr)[-3000:]))


def fleet_inventory():
    """The scenario's platforms as an inventory: podman connections, groups as molecule.yml has them."""
    platforms = yaml.safe_load((SCENARIO / "molecule.yml").read_text())["platforms"]
    hosts = {
        p["name"]: {"ansible_connection": "podman", "ansible_python_interpreter": "/usr/bin/python3"} for p in platforms
    }
    groups = {}
    for p in platforms:
        for group in p.get("groups", []):
            groups.setdefault(group, {"hosts": {}})["hosts"][p["name"]] = {}
    return {"all": {"hosts": hosts, "children": groups}}


def podman_exec(name, *argv):
    return subprocess.run(["podman", "exec", name, *argv], capture_output=True, text=True, check=True).stdout.strip()


# systemd containers mount a tmpfs on /tmp that podman's file copy cannot see: the default remote tmp.
FLEET_ENV = {"ANSIBLE_REMOTE_TEMP": "~/.ansible/tmp"}


def fleet_round(work, inventory, index):
    """A fresh bad deploy, then one timed rollback_complete; (seconds, {phase: seconds})."""
    converge = run_playbook(work, str(SCENARIO / "converge.yml"), inventory=inventory, envvars=FLEET_ENV)
    if converge.rc != 0:
        raise SystemExit("the scenario's converge failed:\n%s" % failures(converge))
    lb = subprocess.run(
        ["podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "rb-complete-lb"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    extravars = yaml.safe_load((SCENARIO / "vars" / "rollback.yml").read_text())
    extravars["rollback_run_id"] = "bench-fleet-%d-%d" % (os.getpid(), index)
    extravars["rollback_smoke_checks"] = [{"url": "http://%s/health.json" % lb, "body_regex": '"version": "1.4.2"'}]
    started = time.time()
    with contextlib.redirect_stdout(io.StringIO()):
        run = run_playbook(work, str(COMPLETE), inventory=inventory, extravars=extravars, envvars=FLEET_ENV)
    took = time.time() - started
    if run.rc != 0:
        raise SystemExit("rollback_complete failed on the fleet:\n%s" % failures(run))
    live = {
        name: podman_exec(name, "readlink", "-f", "/srv/shop/current")
        for name in ("rb-complete-app1", "rb-complete-app2")
    }
    orders = podman_exec(
        "rb-complete-db",
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-Atq",
        "-d",
        "shop",
        "-c",
        "SELECT count(*) FROM orders",
    )
    if set(live.values()) != {"/srv/shop/releases/" + str(extravars["app_rollback_to"])} or orders != "100":
        raise SystemExit("the run left components behind: releases %s, orders %s" % (json.dumps(live), orders))
    return took, phase_times(run, started)


def fleet(rounds, keep):
    work = Path(tempfile.mkdtemp(prefix="bench-complete-fleet-"))
    inventory = fleet_inventory()
    times, phases = [], []
    try:
        molecule("create")
        for i in range(rounds):
            took, detail = fleet_round(work, inventory, i)
            times.append(took)
            phases.append(detail)
            print("round %d: rollback_complete on the fleet %6.1f s" % (i + 1, took), flush=True)
    finally:
        if not keep:
            molecule("destroy")
        shutil.rmtree(work, ignore_errors=True)
    total = statistics.median(times)
    print(
        "\ncomplete rollback on the Molecule fleet (lb, app1, app2, db), %d round(s), median %.1f s" % (rounds, total)
    )
    print("  load average at the end: %s" % " ".join("%.1f" % x for x in os.getloadavg()))
    print("\n  %-28s %8s %7s" % ("rollback_complete phase", "median s", "share"))
    for phase in dict.fromkeys(p for run in phases for p in run):
        median = statistics.median(run.get(phase, 0.0) for run in phases)
        print("  %-28s %8.1f %6.0f%%" % (phase, median, 100 * median / total))


def main():
    if "--fleet" in sys.argv:
        args = [a for a in sys.argv[1:] if not a.startswith("--")]
        fleet(int(args[0]) if args else 1, "--keep" in sys.argv)
        return
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    work = Path(tempfile.mkdtemp(prefix="bench-complete-"))
    work.chmod(0o711)  # the postgres user traverses it
    postgres = services.start_postgres(work / "postgres")
    redis = services.start_redis(work / "redis")
    pki = pki_mod.build(work / "pki")
    times = {"rollback_complete": [], "five component playbooks": []}
    phases, parts = [], []
    try:
        for i in range(rounds):
            order = [("rollback_complete", complete), ("five component playbooks", components)]
            for name, measure in order if i % 2 == 0 else order[::-1]:
                base = work / ("%s-%d" % (measure.__name__, i))
                stack = Stack(base / "stack", postgres, redis, pki)
                try:
                    took, detail = measure(stack, base)
                    back_at_previous(stack)
                finally:
                    stack.stop()
                times[name].append(took)
                (phases if measure is complete else parts).append(detail)
                print("round %d: %-26s %6.1f s" % (i + 1, name, took), flush=True)
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)

    ours, base = statistics.median(times["rollback_complete"]), statistics.median(times["five component playbooks"])
    print("\ncomplete rollback on the localhost sandbox, one host, %d rounds (wall time, no soak configured)" % rounds)
    for name, values in times.items():
        print(
            "  %-26s median %6.1f s  min %6.1f s  max %6.1f s"
            % (name, statistics.median(values), min(values), max(values))
        )
    print("  ratio rollback_complete / five component playbooks: %.2fx" % (ours / base))
    print(
        "\n  %-28s %8s %7s   %s"
        % ("rollback_complete phase", "median s", "share", "component playbook alone (median s)")
    )
    for phase in dict.fromkeys(p for run in phases for p in run):
        median = statistics.median(run.get(phase, 0.0) for run in phases)
        alone = [run[phase] for run in parts if phase in run]
        print(
            "  %-28s %8.1f %6.0f%%   %s"
            % (phase, median, 100 * median / ours, "%.1f" % statistics.median(alone) if alone else "")
        )
    print("  goal: under 60 s for one host excluding soak waits: %s" % ("met" if ours < 60 else "NOT met"))


if __name__ == "__main__":
    main()
