"""The chaos suite's fleet tier: rollback_complete across the fleet topology of molecule/complete
(nginx load balancer with TLS, two app hosts, a database host with PostgreSQL and Redis), on
podman systemd containers of its own (rb-chaos-*, network rb-chaos: never the scenario's names).

FleetBox has ChaosBox's interface (reset, observe, classify, check, run, trial, stop). Created
and converged once (the scenario's converge.yml and vars, host names rewritten), then reset to
the bad deploy in seconds between runs by podman exec scripts: the app trees and the nginx
configuration from tarballs of the bad state, the database from a dump of it, Redis keys again,
and each host's state dir (a small tmpfs on the machine, bind-mounted into the host, so it
survives a host stop and can be filled) from a pristine copy.

Fleet-only faults (tests/chaos/callback/chaos_fault.py): host_stop (SIGKILL of the host's systemd,
started again before the check), net_cut (nftables in the host's network namespace dropping all
but loopback traffic: the balancer's traffic to the app hosts and the controller's smoke checks
through it; the podman connection itself does not use the network). The others act on the chosen
host: disk_full fills its state dir, pg_refuse is for the database host, nginx_broken for the
balancer.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from tests.chaos.chaos import (
    CALLBACK_DIR,
    KILLS,
    ChaosBox,
    Fault,
    Outcome,
    journal_problems,
    lock_problems,
    read_log,
    snapshot_problems,
    state_secret_problems,
    verdict_problems,
)
from tests.harness.ansible import run_playbook

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "molecule" / "complete"
COMPLETE = REPO / "playbooks" / "rollback_complete.yml"
IMAGE = "localhost/rollback-services:bookworm"
PREFIX = "rb-chaos"
NETWORK = "rb-chaos"
SUBNET = "10.89.213.%d"
MAC = "02:42:0a:59:d5:%02x"
HOSTS = {"app1": "web", "app2": "web", "lb": "loadbalancers", "db": "databases"}
STATE = "/var/lib/emergency-rollback"
UPSTREAM = "/etc/nginx/conf.d/emergency-rollback-upstream.conf"
MAINTENANCE = "/etc/nginx/snippets/emergency-rollback-maintenance.conf"
PG_HBA = "/etc/postgresql/15/main/pg_hba.conf"
BAD, GOOD = "20261123T090000Z", "20261122T090000Z"
PG_PASSWORD = "molecule-pg-pass"
FLEET_FAULTS = ("controller_kill", "module_kill", "disk_full", "pg_refuse", "nginx_broken", "host_stop", "net_cut")
# which hosts a fault can act on (unlisted: any)
FAULT_HOSTS = {"pg_refuse": ("db",), "nginx_broken": ("lb",)}
# What may be left in flight: a killed run cannot finish the certificate reload and the maintenance
# page off, and a stopped balancer cannot either; a stopped app or database host leaves the
# controller alive and the balancer up, so the page must still go off.
LB_KILLS = ("host_stop",)

# Task results per phase and host in a clean run from the bad deploy (calibration:
# `tests/chaos/run.py --tier fleet --calibrate`); hosts without tasks in a phase are left out.
FLEET_PHASES = (
    ("assess", {"db": 27, "app1": 17, "app2": 17, "lb": 17}),
    ("notify start", {"localhost": 1}),
    ("maintenance on", {"lb": 14}),
    ("database", {"db": 62}),
    ("app", {"app1": 40, "app2": 40}),
    ("ssl", {"lb": 52}),
    ("cache", {"db": 51}),
    ("webhooks", {}),  # not among the fleet's components
    ("verify", {"localhost": 1}),
    ("traffic", {"lb": 29}),
    ("revert traffic", {"lb": 3}),
    ("revert webhooks", {}),
    ("revert cache", {"db": 2}),
    ("revert ssl", {"lb": 2}),
    ("revert app", {"app1": 2, "app2": 2}),
    ("revert database", {"db": 2}),
    ("maintenance off", {"lb": 13}),
    ("notify end", {"localhost": 1}),
    ("alerts", {"localhost": 1}),
    ("unlock", {"db": 7, "app1": 7, "app2": 7, "lb": 7}),
    ("report", {"db": 9, "app1": 6, "app2": 6, "lb": 6}),
    ("verdict", {"localhost": 4}),
)


def name(host):
    return "%s-%s" % (PREFIX, host)


def sh(*argv, check=True, input=None):
    run = subprocess.run(argv, capture_output=True, text=True, check=False, input=input)
    if check and run.returncode != 0:
        raise RuntimeError(
            "%s failed (%s): %s" % (" ".join(argv[:4]), run.returncode, (run.stderr or run.stdout)[-800:])
        )
    return run.stdout.strip()


def pexec(host, script, check=True):
    return sh("podman", "exec", "-i", name(host), "bash", "-s", check=check, input="set -e\n" + script)


def parallel(jobs):
    """{host: script} run at once on their hosts; raises on the first that failed."""
    procs = {
        host: subprocess.Popen(
            ["podman", "exec", "-i", name(host), "bash", "-s"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host in jobs
    }
    out = {}
    for host, proc in procs.items():
        stdout, stderr = proc.communicate("set -e\n" + jobs[host])
        if proc.returncode:
            raise RuntimeError("%s: %s" % (host, (stderr or stdout)[-800:]))
        out[host] = stdout
    return out


# reset scripts per host (the bad state saved by save_bad_state)
RESET = {
    "web": "systemctl stop shop; rm -rf /srv/shop; tar -C / -xf /var/tmp/chaos-shop.tar; systemctl start shop\n",
    "loadbalancers": "rm -rf /etc/nginx; tar -C / -xf /var/tmp/chaos-nginx.tar; systemctl restart nginx\n",
    "databases": r"""
psql() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -Atq "$@"; }
for db in $(psql -d postgres -c "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"); do
  psql -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db'" >/dev/null
  psql -d postgres -c "DROP DATABASE \"$db\""
done
psql -d postgres -c 'CREATE DATABASE shop'
runuser -u postgres -- pg_restore -d shop /var/tmp/chaos-shop.dump
redis-cli flushall >/dev/null
for i in $(seq 1 200); do echo "SET page:$i rendered-by-1.5.0"; echo "SET session:$i user-$i"; done \
  | redis-cli >/dev/null
""",
}

# what each host is now: one JSON line per host
OBSERVE = {
    "web": r"""
live=$(readlink -f /srv/shop/current)
tree=$(cd /srv/shop/current && find -L . -type f | sort | xargs -r sha256sum | sha256sum | cut -c1-64)
printf '{"live": "%s", "tree": "%s"}\n' "$live" "$tree"
""",
    "loadbalancers": r"""
crt=$(sha256sum /etc/nginx/tls/server.crt | cut -c1-64)
key=$(sha256sum /etc/nginx/tls/server.key | cut -c1-64)
served=$(openssl s_client -connect 127.0.0.1:443 -servername shop.example.test </dev/null 2>/dev/null \
  | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2 || true)
python3 -c 'import json, sys; print(json.dumps({"crt": sys.argv[1], "key": sys.argv[2], "served": sys.argv[3],
  "upstream": open(sys.argv[4]).read(), "maintenance": open(sys.argv[5]).read()}))' \
  "$crt" "$key" "$served" /etc/nginx/conf.d/emergency-rollback-upstream.conf \
  /etc/nginx/snippets/emergency-rollback-maintenance.conf
""",
    "databases": r"""
psql() { runuser -u postgres -- psql -Atq "$@"; }
oid=$(psql -d postgres -c "SELECT oid FROM pg_database WHERE datname = 'shop'")
orders=$(psql -d shop -c 'SELECT count(*) FROM orders' 2>/dev/null || echo none)
rev=$(psql -d shop -c 'SELECT version_num FROM alembic_version' 2>/dev/null || echo none)
tables=$(psql -d shop -c "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables
  WHERE schemaname = 'public'" 2>/dev/null || echo none)
pages=$(redis-cli --scan --pattern 'page:*' | wc -l)
sessions=$(redis-cli --scan --pattern 'session:*' | wc -l)
printf '{"oid": "%s", "orders": "%s", "rev": "%s", "tables": "%s", "pages": %d, "sessions": %d}\n' \
  "$oid" "$orders" "$rev" "$tables" "$pages" "$sessions"
""",
}


class FleetBox:
    """The fleet topology on containers of its own, converged once, reset fast between runs."""

    def __init__(self, base, tmpfs_size="16m", reuse=False):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.tmpfs_size = tmpfs_size
        self.runs = 0
        self.before = None
        self.target_state = None
        self.secrets = [PG_PASSWORD]
        self.pristine = {}
        self.scenario = self.base / "scenario"
        saved = self.base / "target.json"
        if reuse and saved.exists():  # a box kept by an earlier run (run.py --keep)
            self.target_state = json.loads(saved.read_text())
            self.pristine = {host: self.base / host / "state.pristine" for host in HOSTS}
            # on from the last run kept (a killed driver may leave a run's log without its directory)
            self.runs = max((int(re.sub(r"\D", "", p.name)) for p in (self.base / "runs").glob("*[0-9]*")), default=0)
            return
        try:
            self._create()
            self._converge()
            self._save_bad_state()
            saved.write_text(json.dumps(self.target_state))
        except BaseException:
            self.stop()
            raise

    # --- creation -------------------------------------------------------------------------

    def state_dir(self, host):
        return self.base / host / "state"

    def _create(self):
        self.stop_containers()
        if subprocess.run(["podman", "network", "exists", NETWORK], check=False).returncode:
            sh("podman", "network", "create", "--subnet", SUBNET % 0 + "/24", NETWORK)
        # Fixed addresses in every host's /etc/hosts: a stopped host's name still resolves, as a DNS
        # record does when a server dies (podman's DNS forgets it, and nginx -t on the balancer would
        # then fail on the upstream's server name). A fixed MAC too: a restarted host keeps its NIC,
        # where podman would give it a new one that the balancer's ARP cache does not know yet.
        hosts = [a for i, h in enumerate(HOSTS) for a in ("--add-host", "%s:%s" % (name(h), SUBNET % (11 + i)))]
        for index, host in enumerate(HOSTS):
            state = self.state_dir(host)
            state.mkdir(parents=True, exist_ok=True)
            sh("mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % self.tmpfs_size, "chaos-%s" % host, str(state))
            sh(
                "podman", "run", "-d", "--name", name(host), "--hostname", name(host), "--network", NETWORK,
                "--ip", SUBNET % (11 + index), "--mac-address", MAC % (11 + index), *hosts,
                "--systemd", "always", "-v", "%s:%s" % (state, STATE), IMAGE, "/sbin/init",
            )  # fmt: skip
        for host in HOSTS:
            self.wait_booted(host)
        # the scenario with this box's host names
        shutil.rmtree(self.scenario, ignore_errors=True)
        shutil.copytree(SCENARIO, self.scenario, ignore=shutil.ignore_patterns("tests", "molecule.yml"))
        for path in (self.scenario / "converge.yml", self.scenario / "vars" / "rollback.yml"):
            path.write_text(path.read_text().replace("rb-complete-", PREFIX + "-"))

    def wait_booted(self, host, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = sh("podman", "exec", name(host), "systemctl", "is-system-running", check=False)
            if state in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise RuntimeError("%s did not boot: %s" % (name(host), state))

    def inventory(self):
        hosts = {
            name(h): {
                "ansible_connection": "containers.podman.podman",
                "ansible_python_interpreter": "/usr/bin/python3",
            }
            for h in HOSTS
        }
        groups = {}
        for host, group in HOSTS.items():
            groups.setdefault(group, {"hosts": {}})["hosts"][name(host)] = {}
        return {"all": {"hosts": hosts, "children": groups}}

    def _converge(self):
        work = self.base / "converge"
        work.mkdir(exist_ok=True)
        run = run_playbook(
            work, str(self.scenario / "converge.yml"), inventory=self.inventory(), envvars=self.envvars("converge")
        )
        if run.rc != 0:
            raise RuntimeError("converge failed: %s" % run.stdout[-3000:])
        # Redis keeps every write, also after a restart (a host stop is a SIGKILL of its systemd)
        pexec(
            "db",
            "redis-cli config set appendonly yes >/dev/null; redis-cli config set appendfsync always >/dev/null\n"
            "redis-cli config rewrite >/dev/null\n",
        )

    def _save_bad_state(self):
        parallel(
            {
                "app1": "tar -C / -cf /var/tmp/chaos-shop.tar srv/shop\n",
                "app2": "tar -C / -cf /var/tmp/chaos-shop.tar srv/shop\n",
                "lb": "tar -C / -cf /var/tmp/chaos-nginx.tar etc/nginx\n",
                "db": "runuser -u postgres -- pg_dump -Fc -f /var/tmp/chaos-shop.dump shop\n"
                "cp %s /var/tmp/chaos-pg_hba.conf\n" % PG_HBA,
            }
        )
        for host in HOSTS:
            pristine = self.base / host / "state.pristine"
            shutil.rmtree(pristine, ignore_errors=True)
            shutil.copytree(self.state_dir(host), pristine, symlinks=True)
            self.pristine[host] = pristine
        good = pexec("lb", "sha256sum /etc/rollback-pki/good.crt /etc/rollback-pki/good.key | cut -c1-64")
        fingerprint = pexec(
            "lb", "openssl x509 -noout -fingerprint -sha256 -in /etc/rollback-pki/good.crt | cut -d= -f2"
        )
        trees = parallel(
            {
                h: "cd /srv/shop/releases/%s && find -L . -type f | sort | xargs -r sha256sum | sha256sum"
                " | cut -c1-64\n" % GOOD
                for h in ("app1", "app2")
            }
        )
        crt, key = good.split()
        self.target_state = {
            "app1": {"live": "/srv/shop/releases/" + GOOD, "tree": trees["app1"].strip()},
            "app2": {"live": "/srv/shop/releases/" + GOOD, "tree": trees["app2"].strip()},
            "ssl": {"crt": crt, "key": key, "served": fingerprint},
        }

    def stop_containers(self):
        for host in HOSTS:
            subprocess.run(["podman", "rm", "-f", "-t", "0", name(host)], capture_output=True, check=False)
            subprocess.run(["umount", "-l", str(self.state_dir(host))], capture_output=True, check=False)

    def stop(self):
        self.stop_containers()
        subprocess.run(["podman", "network", "rm", NETWORK], capture_output=True, check=False)

    def faults_possible(self):
        return FLEET_FAULTS

    # --- back to the bad deploy ---------------------------------------------------------------

    def clear_faults(self):
        """Hosts stopped by a fault started again, the network mended, the other faults undone
        (after a kill the callback could not)."""
        restarted = []
        for host in HOSTS:
            if sh("podman", "inspect", "-f", "{{.State.Running}}", name(host)) != "true":
                sh("podman", "start", name(host))
                self.wait_booted(host)
                restarted.append(host)
            subprocess.run(
                ["nsenter", "-t", self.pid(host), "-n", "nft", "delete", "table", "inet", "chaos"],
                capture_output=True,
                check=False,
            )
            (self.state_dir(host) / ".chaos-fill").unlink(missing_ok=True)
        pexec("lb", "rm -f /etc/nginx/conf.d/zz-chaos-broken.conf")
        pexec(
            "db",
            "if ! cmp -s /var/tmp/chaos-pg_hba.conf %s; then cat /var/tmp/chaos-pg_hba.conf > %s;"
            " systemctl reload postgresql@15-main; sleep 0.3; fi\n"
            "until runuser -u postgres -- pg_isready -q; do sleep 0.2; done\n"
            'until [ "$(redis-cli ping 2>/dev/null)" = PONG ]; do sleep 0.2; done\n' % (PG_HBA, PG_HBA),
        )
        # a host is back when its service answers the balancer (the operator re-runs then)
        for host in restarted:
            if HOSTS[host] == "web":
                pexec(
                    "lb",
                    "for i in $(seq 150); do curl -sf -o /dev/null http://%s:8080/ && exit 0; sleep 0.2; done\n"
                    "exit 1\n" % name(host),
                )

    def pid(self, host):
        return sh("podman", "inspect", "-f", "{{.State.Pid}}", name(host))

    def reset(self):
        self.clear_faults()
        parallel({host: RESET[group] for host, group in HOSTS.items()})
        for host in HOSTS:
            state = self.state_dir(host)
            for entry in state.iterdir():
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            shutil.copytree(self.pristine[host], state, symlinks=True, dirs_exist_ok=True)
        self.before = self.observe()
        return self.before

    # --- what each host is now ------------------------------------------------------------------

    def observe(self):
        out = parallel({host: OBSERVE[group] for host, group in HOSTS.items()})
        return {host: json.loads(text.strip().splitlines()[-1]) for host, text in out.items()}

    def classify(self, now):
        """{host/component: "before" | "target" | "between: ..."}"""
        before, target = self.before, self.target_state
        out = {}
        for host in ("app1", "app2"):
            out["%s/app" % host] = (
                "before" if now[host] == before[host] else "target" if now[host] == target[host] else None
            )
        ssl_now = {k: now["lb"][k] for k in ("crt", "key")}
        out["lb/ssl"] = (
            "before"
            if ssl_now == {k: before["lb"][k] for k in ("crt", "key")}
            else "target"
            if ssl_now == {k: target["ssl"][k] for k in ("crt", "key")}
            else None
        )
        db, db_before = now["db"], before["db"]
        keys = ("oid", "orders", "rev", "tables")
        if all(db[k] == db_before[k] for k in keys):
            out["db/database"] = "before"
        elif db["orders"] == "100" and db["rev"] == "a1_orders" and db["oid"] not in ("", db_before["oid"]):
            out["db/database"] = "target"
        else:
            out["db/database"] = None
        cache = (db["pages"], db["sessions"])
        out["db/cache"] = (
            "before"
            if cache == (db_before["pages"], db_before["sessions"])
            else "target"
            if cache == (0, 200)
            else None
        )
        # the gradual restore ends at the weights it started from: before and target are one
        out["lb/upstream"] = "target" if now["lb"]["upstream"] == before["lb"]["upstream"] else None
        for component, verdict in out.items():
            if verdict is None:
                host = component.split("/")[0]
                out[component] = "between: %r" % (now[host],)
        return out

    # --- the invariants -------------------------------------------------------------------------

    def check(self, run, killed, final=False, components=None, weights_killed=False, lb_refused=()):
        """weights_killed: the controller or the balancer died before the revert of the traffic phase
        could put the weights back, so a gradual restore may be left half-way (in flight).
        lb_refused: the phases in which nginx -t refused every configuration (a broken include, to
        the end of the phase). Refused through the traffic revert, weights left half-way by the
        traffic phase cannot be put back: in flight where the run failed and its verdict says
        traffic was not brought back, and so is the maintenance page it then keeps on."""
        now = self.observe()
        states = self.classify(now)
        violations, in_flight = [], []
        refused = (
            not final
            and "revert traffic" in lb_refused
            and run.rc != 0
            and re.search(r"revert failed for [^:]*traffic on %s" % name("lb"), run.stdout)
        )
        if not final and states["lb/upstream"].startswith("between") and (weights_killed or refused):
            in_flight.append(
                "upstream weights left half-way by a kill before the traffic revert"
                if weights_killed
                else "upstream weights left half-way: nginx refused every configuration in the traffic revert"
            )
            states = dict(states, **{"lb/upstream": "in flight"})
        violations += ["%s %s" % (c, v) for c, v in states.items() if v.startswith("between")]
        if now["db"]["sessions"] != 200:
            violations.append("cache lost session keys: %d left" % now["db"]["sessions"])
        expected = {"before": self.before["lb"]["served"], "target": self.target_state["ssl"]["served"]}
        if now["lb"]["served"] != expected.get(states["lb/ssl"]):
            (in_flight if killed and not final else violations).append(
                "ssl files %s but not served (%s)" % (states["lb/ssl"], now["lb"]["served"] or "nothing")
            )
        if now["lb"]["maintenance"] != self.before["lb"]["maintenance"]:
            (in_flight if (killed or refused) and not final else violations).append("maintenance page left on")
        for host in HOSTS:
            state = self.state_dir(host)
            violations += ["%s: %s" % (host, p) for p in snapshot_problems(state) + journal_problems(state)]
            violations += ["%s: %s" % (host, p) for p in state_secret_problems(state, self.secrets)]
        if not final:  # "before" is the faulted run's start; a re-run starts where that one left off
            violations += verdict_problems(
                run.stdout,
                states,
                lambda c: "%s on %s" % (c.split("/")[1], name(c.split("/")[0])),
                lambda c, v: v == "before" or (c == "lb/upstream" and v == "target"),
            )
        texts = [("run output", run.stdout), ("runner artifacts", run.artifacts_text())]
        violations += ["secret %s... in %s" % (s[:4], w) for w, t in texts for s in self.secrets if s in t]
        if final:
            if run.rc != 0:
                violations.append("re-run failed rc=%s: %s" % (run.rc, failed_tasks(run)))
            violations += [
                "%s not at target after the re-run" % c
                for c, v in states.items()
                if v != "target" and (components is None or c.split("/")[1] in components)
            ]
            violations += ["%s: lock still held after the re-run" % h for h in HOSTS if lock_held(self.state_dir(h))]
        else:
            for host in HOSTS:
                violations += ["%s: %s" % (host, p) for p in lock_problems(self.state_dir(host))]
        return violations, in_flight, states

    # --- runs -----------------------------------------------------------------------------------

    def envvars(self, tag):
        # a remote temp dir per run: the module_kill fault finds the run's module processes by it
        return {"ANSIBLE_REMOTE_TEMP": "/root/.ansible/tmp-%s-%d" % (tag, os.getpid())}

    def extravars(self, run_id, **extra):
        extravars = yaml.safe_load((self.scenario / "vars" / "rollback.yml").read_text())
        lb = sh("podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name("lb"))
        extravars["rollback_run_id"] = run_id
        extravars["rollback_smoke_checks"] = [
            {"url": "http://%s/health.json" % lb.split()[0], "body_regex": '"version": "1.4.2"'}
        ]
        extravars.update(extra)
        return extravars

    def fault_params(self, fault, remote_tmp):
        host = fault.host
        params = {"container": name(host), "remote_tmp": remote_tmp, "state_dir": str(self.state_dir(host))}
        if fault.fault == "pg_refuse":
            params.update(pg_hba=PG_HBA, reload=["systemctl", "reload", "postgresql@15-main"])
        elif fault.fault == "nginx_broken":
            params.update(conf_dirs=["/etc/nginx/conf.d"])
        return params

    def run(self, faults=(), log=None, extra=None, run_id=None):
        self.runs += 1
        tmp = self.base / "runs" / ("%03d" % self.runs)
        tmp.mkdir(parents=True)
        tag = "chaos%03d" % self.runs
        remote_tmp = self.envvars(tag)["ANSIBLE_REMOTE_TEMP"]
        plan = {
            "faults": [
                {
                    "play": f.play,
                    "task": f.task,
                    "host": f.host if f.host == "localhost" else name(f.host),
                    "fault": f.fault,
                    "params": self.fault_params(f, remote_tmp),
                }
                for f in faults
            ]
        }
        env = dict(
            self.envvars(tag),
            ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR),
            ANSIBLE_CALLBACKS_ENABLED="chaos_fault",
            CHAOS_PLAN=json.dumps(plan),
            CHAOS_LOG=str(log or tmp / "chaos.jsonl"),
        )
        extravars = self.extravars(run_id or "chaos-fleet-%d-%d" % (os.getpid(), self.runs), **(extra or {}))
        return run_playbook(tmp, str(COMPLETE), inventory=self.inventory(), extravars=extravars, envvars=env)

    trial_landed = ChaosBox.trial_landed  # the same retry of a plan whose module kill came late

    def trial(self, faults, **extra):
        """Reset, run with the faults, bring stopped hosts back and mend the network, check, re-run
        clean (the same run id: the operator re-runs the same rollback), check: an Outcome."""
        started = time.monotonic()
        self.reset()
        run_id = "chaos-fleet-%d-%d" % (os.getpid(), self.runs + 1)
        log = self.base / "runs" / ("chaos-%03d.jsonl" % (self.runs + 1))
        run = self.run(faults, log=log, extra=extra, run_id=run_id)
        out = Outcome(faults=list(faults), rc=run.rc, run=run)
        out.applied, _ = read_log(log, faults)
        kills = [
            f for f in (faults[i] for i in out.applied) if f.fault in KILLS or (f.fault in LB_KILLS and f.host == "lb")
        ]
        out.killed = bool(kills)
        self.clear_faults()
        order = [name for name, _counts in FLEET_PHASES]
        weights_killed = any(order.index(f.phase) <= order.index("revert traffic") for f in kills)
        refused = {faults[i].phase for i in out.applied if faults[i].fault == "nginx_broken"}
        out.after_fault, out.in_flight, out.states["fault"] = self.check(
            run, out.killed, weights_killed=weights_killed, lb_refused=refused
        )
        again = self.run(extra=extra, run_id=run_id)
        out.rerun, out.rerun_rc = again, again.rc
        out.after_rerun, _, out.states["rerun"] = self.check(
            again, False, final=True, components=extra.get("rollback_components")
        )
        out.seconds = time.monotonic() - started
        return out


def lock_held(state_dir):
    return (Path(state_dir) / "rollback.lock").exists()


def failed_tasks(run):
    lines = [
        "%s [%s]: %s"
        % (e["event_data"].get("task"), e["event_data"].get("host"), (e["event_data"].get("res") or {}).get("msg"))
        for e in run.events
        if e["event"] in ("runner_on_failed", "runner_on_unreachable") and not e["event_data"].get("ignore_errors")
    ]
    return " | ".join(lines)[-1200:] or run.stdout[-600:].replace("\n", " ")


def fleet_plan_from_seed(seed, runs, phases=FLEET_PHASES, faults=FLEET_FAULTS, kill_share=0.2, share=1.0):
    """`runs` fault plans over `phases` ([(phase, {host: task count})] in run order): from a random
    first phase in the first half on, in each phase a fault at each host with tasks there (with probability `share`,
    at least one per phase) of a kind that can act on that host; about kill_share of the runs end
    with a controller kill in a random phase."""
    rng = random.Random(seed)
    plans = []
    for _ in range(runs):
        plan = []
        # from the first half on: a failed forward phase makes the revert phases run, and their
        # faults apply too (a run on the fleet takes minutes: the more faults per run, the better)
        first = rng.randrange((len(phases) + 1) // 2)
        kill_at = (
            rng.randrange(first, len(phases)) if "controller_kill" in faults and rng.random() < kill_share else None
        )
        for index, (phase, counts) in enumerate(phases):
            if index < first or not counts:
                continue
            if index == kill_at:
                host = rng.choice(sorted(counts))
                plan.append(Fault(phase, rng.randint(1, counts[host]), "controller_kill", host))
                break
            hosts = [h for h in sorted(counts) if rng.random() < share] or [rng.choice(sorted(counts))]
            for host in hosts:
                if host == "localhost":  # the controller's own tasks: only a module process to kill
                    kinds = [k for k in faults if k == "module_kill"]
                else:
                    kinds = [k for k in faults if k != "controller_kill" and host in FAULT_HOSTS.get(k, (host,))]
                if kinds:
                    plan.append(Fault(phase, rng.randint(1, counts[host]), rng.choice(kinds), host))
        plans.append(plan)
    return plans
