"""The chaos suite's harness: a complete-rollback sandbox that resets to its bad deploy, faulted runs
of playbooks/rollback_complete.yml (the fault injector is the callback in tests/chaos/callback/),
the invariant checker, and fault plans drawn from a seed.

Invariants (checked after the faulted run, and again after a clean re-run):
- each component is exactly "before" (the bad deploy, as reset) or exactly "target" (the
  rollback's result): app release id and the checksums of what `current` serves; database oid and
  row counts; certificate files and the fingerprint nginx serves; cache keys (the session always
  kept); Stripe endpoint URL; load balancer upstream file (weights) and maintenance flag;
- every snapshot in the state dir is complete (meta.json) and its files match their checksums;
- every torn journal line is reported by the journal reader (never silently dropped);
- the lock is released, or held by a run whose controller is dead (the next run takes it over);
- no secret of the sandbox in the state dir, journals, reports or the run's output;
- after the re-run: the re-run succeeded and every component is at "target", maintenance off,
  lock released.
A run that was killed (controller or module process) may leave what only a live run can finish:
the maintenance page on and a certificate installed but not yet reloaded; both are reported as
"in flight" and must be gone after the re-run.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.ansible import link_collection, run_playbook
from tests.harness.app import make_layout
from tests.harness.database import SCHEMA
from tests.harness.providers import STRIPE_KEY
from tests.harness.sslcache import install_set
from tests.harness.stack import BAD_HOOK, COMPLETE, GOOD_HOOK, Stack

CALLBACK_DIR = Path(__file__).resolve().parent / "callback"
FAULTS = ("controller_kill", "module_kill", "disk_full", "pg_refuse", "nginx_broken")
KILLS = ("controller_kill", "module_kill")
GOOD_ROWS = {"users": 20, "orders": 50, "billing.invoices": 5}  # the "good" snapshot's rows
PAGES = 50

# The phases of rollback_complete (its plays) with the task results each has on the sandbox's
# host in a clean run from the bad deploy (calibration: `tests/chaos/run.py --calibrate`); a fault
# point past a phase's end in a faulted run (whose path differs) is reported as not applied.
PHASES = (
    ("assess", "Assess the targets", 27),
    ("notify start", "Announce the start", 1),
    ("maintenance on", "Maintenance page on", 14),
    ("database", "Database", 62),
    ("app", "Application", 39),
    ("ssl", "Certificates", 52),
    ("cache", "Caches", 51),
    ("webhooks", "Provider webhooks", 52),
    ("verify", "Verify the whole stack", 1),
    ("traffic", "Traffic back in steps", 3),
    ("revert traffic", "Revert traffic", 3),
    ("revert webhooks", "Revert webhooks", 2),
    ("revert cache", "Revert caches", 2),
    ("revert ssl", "Revert certificates", 2),
    ("revert app", "Revert the application", 2),
    ("revert database", "Revert the database", 2),
    ("maintenance off", "Maintenance page off", 13),
    ("notify end", "Announce the end", 1),
    ("alerts", "Let the alerts through", 1),
    ("unlock", "Release the locks", 7),
    ("report", "Incident report", 9),
    ("verdict", "Verdict", 4),
)
PHASE_OF_PLAY = {prefix: name for name, prefix, _count in PHASES}


def phase_of(play):
    return next((name for name, prefix, _count in PHASES if play.startswith(prefix)), play)


def digest_tree(path):
    """sha256 over every file under path (names and bytes): what `current` serves."""
    sha = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            sha.update(os.path.relpath(full, path).encode() + b"\0" + Path(full).read_bytes() + b"\0")
    return sha.hexdigest()


def sha(data):
    return hashlib.sha256(data).hexdigest()


@dataclass
class Fault:
    phase: str
    task: int
    fault: str
    host: str = "localhost"

    @property
    def play(self):
        return next(prefix for name, prefix, _count in PHASES if name == self.phase)

    def label(self):
        where = "" if self.host == "localhost" else "@" + self.host
        return "%s@%s#%d%s" % (self.fault, self.phase, self.task, where)


@dataclass
class Outcome:
    faults: list
    applied: list = field(default_factory=list)  # indexes of faults that were applied
    killed: bool = False
    rc: int | None = None
    after_fault: list = field(default_factory=list)  # violations
    in_flight: list = field(default_factory=list)
    after_rerun: list = field(default_factory=list)
    rerun_rc: int | None = None
    states: dict = field(default_factory=dict)
    seconds: float = 0.0
    run: object = None  # the faulted run and the re-run (PlaybookRun), for tests that read them
    rerun: object = None

    @property
    def ok(self):
        return not self.after_fault and not self.after_rerun and self.rerun_rc == 0


class ChaosBox:
    """A sandbox of its own (PostgreSQL, Redis, PKI, nginx, stand-ins) whose state dir is a small
    tmpfs (so the disk can be filled), reset to the bad deploy before each faulted run."""

    def __init__(self, base, tmpfs_size="16m"):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o711)
        state = self.base / "state"
        state.mkdir(exist_ok=True)
        self.tmpfs = (
            os.geteuid() == 0
            and subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % tmpfs_size, "chaos-state", str(state)],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
        self.runs = 0
        try:
            self.stack = Stack.start(self.base)
        except BaseException:
            self._umount()
            raise
        st = self.stack
        self.pristine = self.base / "state.pristine"
        shutil.copytree(st.state_dir, self.pristine, symlinks=True)
        self.pg_hba = st.postgres.data / "pg_hba.conf"
        self.pg_hba_text = self.pg_hba.read_text()
        self.upstream_text = st.upstream.read_text()
        self.secrets = [st.postgres.password, STRIPE_KEY, st.slack.path.strip("/")]
        self.before = None

    def stop(self):
        try:
            self.clear_faults()
            self.stack.stop()
        finally:
            self._umount()

    def _umount(self):
        if getattr(self, "tmpfs", False):
            subprocess.run(["umount", "-l", str(self.base / "state")], capture_output=True, check=False)
            self.tmpfs = False

    def faults_possible(self):
        return tuple(f for f in FAULTS if f != "disk_full" or self.tmpfs)

    # --- back to the bad deploy ------------------------------------------------------------

    def clear_faults(self):
        """What the operator does after a kill left a fault behind (the callback clears the rest)."""
        st = self.stack
        (st.state_dir / ".chaos-fill").unlink(missing_ok=True)
        for conf_d in (st.nginx.conf_d, st.tls.nginx.conf_d):
            (conf_d / "zz-chaos-broken.conf").unlink(missing_ok=True)
        if self.pg_hba.read_text() != self.pg_hba_text:
            self.pg_hba.write_text(self.pg_hba_text)
            os.kill(int((st.postgres.data / "postmaster.pid").read_text().split()[0]), 1)
            time.sleep(0.3)

    def reset(self):
        """The bad deploy again in every component, the state dir as built; returns the "before"."""
        self.clear_faults()
        st = self.stack
        # app: the layout as deployed, r2 live
        shutil.rmtree(st.root)
        make_layout(st.root, ["r1", "r2"], live="r2")
        # load balancer: maintenance off, the upstream as deployed
        st.maintenance.write_text("# maintenance: off\n")
        st.upstream.write_text(self.upstream_text)
        st.nginx.reload()
        # certificates: the bad release's set served. nginx -s reload only signals the master: wait
        # until the new workers serve it, or "before" would hold the last run's certificate
        install_set(st.tls.live, st.pki["current"])
        st.tls.nginx.reload()
        served_by = time.monotonic() + 30
        while st.served_certificate() != st.certificate_of("current") and time.monotonic() < served_by:
            time.sleep(0.05)
        # cache, provider
        st.redis.flushdb()
        st.redis.mset({"page:%d" % i: "bad" for i in range(PAGES)} | {"session:1": "keep"})
        st.stripe.endpoints[st.hook_id]["url"] = BAD_HOOK
        # database: the same name, the deploy's rows (orders and invoices lost), kept copies dropped
        st.db.drop_all()
        with st.db.connect("postgres") as conn:
            conn.execute('CREATE DATABASE "%s"' % st.db.name)
        with st.db.connect() as conn:
            conn.execute(SCHEMA)
            conn.execute(
                "INSERT INTO users (name, created_at)"
                " SELECT 'user' || g, now() - interval '1 day' FROM generate_series(1, %s) g",
                (GOOD_ROWS["users"],),
            )
        # state dir: as built (the "good" snapshot), no lock, no journal of earlier runs
        for entry in st.state_dir.iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        shutil.copytree(self.pristine, st.state_dir, symlinks=True, dirs_exist_ok=True)
        self.before = self.observe()
        return self.before

    # --- what each component is now ---------------------------------------------------------

    def observe(self):
        st = self.stack
        live = st.live()
        served = sha(st.served_certificate())
        files = st.tls.files()
        return {
            "app": (live, digest_tree(st.root / "current")),
            "database": (st.db.oid(), st.db.counts()),
            "ssl": {name: sha(data) for name, data in sorted(files.items())},
            "ssl_served": served,
            "cache": (len(st.redis.keys("page:*")), st.redis.exists("session:1")),
            "webhooks": st.hook_url,
            "upstream": st.upstream.read_text(),
            "maintenance": "maintenance: off" in st.maintenance.read_text(),
        }

    def target(self):
        st = self.stack
        good = st.pki["good"]
        return {
            "app": ("r1", digest_tree(st.root / "releases" / "r1")),
            "ssl": {
                "chain.pem": sha(good.chain.read_bytes()),
                "fullchain.pem": sha(good.fullchain.read_bytes()),
                "privkey.pem": sha(good.key.read_bytes()),
            },
            "ssl_served": sha(st.certificate_of("good")),
            "cache": (0, 1),
        }

    def classify(self, now):
        """{component: "before" | "target" | "between: ..."}"""
        before, target = self.before, self.target()
        out = {}
        out["app"] = "before" if now["app"] == before["app"] else "target" if now["app"] == target["app"] else None
        oid, rows = now["database"]
        if now["database"] == before["database"]:
            out["database"] = "before"
        elif rows == GOOD_ROWS and oid is not None and oid != before["database"][0]:
            out["database"] = "target"
        else:
            out["database"] = None
        out["ssl"] = "before" if now["ssl"] == before["ssl"] else "target" if now["ssl"] == target["ssl"] else None
        out["cache"] = (
            "before" if now["cache"] == before["cache"] else "target" if now["cache"] == target["cache"] else None
        )
        out["webhooks"] = (
            "before" if now["webhooks"] == BAD_HOOK else "target" if now["webhooks"] == GOOD_HOOK else None
        )
        out["lb"] = "before" if now["upstream"] == before["upstream"] else None  # the sandbox moves no weights
        for component, verdict in out.items():
            if verdict is None:
                out[component] = "between: %r" % (now[component] if component != "lb" else now["upstream"],)
        return out

    # --- the other invariants -----------------------------------------------------------------

    def snapshot_problems(self):
        return snapshot_problems(self.stack.state_dir)

    def journal_problems(self):
        return journal_problems(self.stack.state_dir)

    def lock_problems(self):
        return lock_problems(self.stack.state_dir)

    def secret_problems(self, texts):
        found = [
            "secret %s... in %s" % (secret[:4], where)
            for where, text in texts
            for secret in self.secrets
            if secret and secret in text
        ]
        return found + state_secret_problems(self.stack.state_dir, self.secrets)

    def check(self, run, killed, final=False, components=None):
        """(violations, in flight, states) now; after the re-run, `components` (default all) must be at target."""
        now = self.observe()
        states = self.classify(now)
        violations = ["%s %s" % (c, v) for c, v in states.items() if v.startswith("between")]
        in_flight = []
        if now["cache"][1] != 1:
            violations.append("cache lost the session key")
        served_matches = now["ssl_served"] == {
            "before": self.before["ssl_served"],
            "target": self.target()["ssl_served"],
        }.get(states["ssl"])
        if not served_matches:
            (in_flight if killed and not final else violations).append("ssl files %s but not served" % states["ssl"])
        if not now["maintenance"]:
            (in_flight if killed and not final else violations).append("maintenance page left on")
        violations += self.snapshot_problems() + self.journal_problems()
        violations += verdict_problems(run.stdout, states, lambda c: "%s on " % c)
        violations += self.secret_problems([("run output", run.stdout), ("runner artifacts", run.artifacts_text())])
        if final:
            if run.rc != 0:
                violations.append("re-run failed rc=%s: %s" % (run.rc, run.stdout[-600:].replace("\n", " ")))
            violations += [
                "%s not at target after the re-run" % c
                for c, v in states.items()
                if v != "target" and c != "lb" and (components is None or c in components)
            ]
            if (self.stack.state_dir / "rollback.lock").exists():
                violations.append("lock still held after the re-run")
        else:
            violations += self.lock_problems()
        return violations, in_flight, states

    # --- runs -------------------------------------------------------------------------------

    def extravars(self, **extra):
        return self.stack.extravars(webhooks_notify_slack_url=self.stack.slack.hook_url, **extra)

    def run(self, faults=(), log=None, extra=None):
        """One run of rollback_complete carrying the faults (Fault list); a PlaybookRun."""
        self.runs += 1
        tmp = self.base / "runs" / ("%03d" % self.runs)
        tmp.mkdir(parents=True)
        st = self.stack
        params = {
            "remote_tmp": str(tmp / ".ansible-remote"),
            "state_dir": str(st.state_dir),
            "pg_hba": str(self.pg_hba),
            "pg_data": str(st.postgres.data),
            "conf_dirs": [str(st.nginx.conf_d), str(st.tls.nginx.conf_d)],
        }
        plan = {
            "faults": [
                {"play": f.play, "task": f.task, "host": f.host, "fault": f.fault, "params": params} for f in faults
            ]
        }
        env = {
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
            "ANSIBLE_CALLBACKS_ENABLED": "chaos_fault",
            "CHAOS_PLAN": json.dumps(plan),
            "CHAOS_LOG": str(log or tmp / "chaos.jsonl"),
        }
        return run_playbook(
            tmp, COMPLETE, inventory=st.inventory(), extravars=self.extravars(**(extra or {})), envvars=env
        )

    def trial_landed(self, faults, attempts=3, **extra):
        """trial(), again while a module kill came only after its module had answered (a kill
        races the module it watches for): a test's plan is then run as planned."""
        for _ in range(attempts):
            out = self.trial(faults, **extra)
            late = [i for i, f in enumerate(faults) if f.fault == "module_kill" and i not in out.applied]
            if not late:
                break
        return out

    def trial(self, faults, **extra):
        """Reset, run with the faults, check, clear, re-run clean, check: an Outcome. `extra`: extra
        vars of both runs (rollback_components limits what must be at target after the re-run)."""
        started = time.monotonic()
        self.reset()
        log = self.base / "runs" / ("chaos-%03d.jsonl" % (self.runs + 1))
        run = self.run(faults, log=log, extra=extra)
        out = Outcome(faults=list(faults), rc=run.rc, run=run)
        out.applied, out.killed = read_log(log, faults)
        out.after_fault, out.in_flight, out.states["fault"] = self.check(run, out.killed)
        self.clear_faults()
        again = self.run(extra=extra)
        out.rerun, out.rerun_rc = again, again.rc
        components = extra.get("rollback_components")
        out.after_rerun, _, out.states["rerun"] = self.check(again, False, final=True, components=components)
        out.seconds = time.monotonic() - started
        return out


# --- invariants of a state dir (the sandbox's, or each fleet host's seen from the machine) ------


def snapshot_problems(state_dir):
    """Snapshots without their meta.json or whose files do not match their checksums."""
    problems = []
    root = Path(state_dir) / "snapshots"
    for meta_path in sorted(root.glob("*/*")):
        if meta_path.name.startswith("."):
            continue  # a staging dir: never renamed into place, not a snapshot
        try:
            meta = json.loads((meta_path / "meta.json").read_text())
        except (OSError, ValueError) as err:
            problems.append("snapshot %s incomplete: %s" % (meta_path.relative_to(root), err))
            continue
        for entry in meta.get("files", []):
            path = meta_path / "files" / entry["name"]
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                problems.append("snapshot %s: %s does not verify" % (meta_path.relative_to(root), entry["name"]))
    return problems


def journal_problems(state_dir):
    """Torn journal lines the journal reader does not report."""
    path = Path(state_dir) / "journal.jsonl"
    if not path.exists():
        return []
    torn = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict) or "component" not in entry:
                raise ValueError("not an entry")
        except ValueError:
            torn.append(number)
    if not torn:
        return []
    sys.path.insert(0, str(link_collection()))
    from ansible_collections.emergency.rollback.plugins.module_utils._journal import Journal

    _entries, reported = Journal(str(path)).read()
    unreported = sorted(set(torn) - {p["line"] for p in reported})
    return ["journal line %d torn and not reported" % n for n in unreported]


def lock_problems(state_dir):
    """A lock still held by a live controller (the lock records ansible-playbook's pid, here)."""
    path = Path(state_dir) / "rollback.lock"
    if not path.exists():
        return []
    try:
        holder = json.loads(path.read_text())
    except ValueError as err:
        return ["lock unreadable: %s" % err]
    pid = holder.get("pid")
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, TypeError, ValueError):
        return []  # held by a dead run: stale, the next run takes it over
    return ["lock held by live pid %s (run %s)" % (pid, holder.get("run_id"))]


def state_secret_problems(state_dir, secrets):
    found = []
    for path in Path(state_dir).rglob("*"):
        if path.is_file() and path.suffix != ".pgc" and path.name != ".chaos-fill":
            text = path.read_text(errors="replace")
            found += ["secret %s... in %s" % (s[:4], path) for s in secrets if s and s in text]
    return found


def verdict_problems(stdout, states, named, same=lambda c, v: v == "before"):
    """A verdict "reverted to its pre-rollback state" must be true of every component, not only of
    those whose undo ran, except those it names as not undoable (a flushed cache): named(c) is how
    the verdict names component c, same(c, v) whether state v of c is the state before the run."""
    if "the stack was reverted to its pre-rollback state" not in stdout:
        return []
    kept = re.search(r"cannot be undone \(([^)]*)\)", stdout)
    return [
        "verdict says reverted, but %s is %s" % (c, v)
        for c, v in states.items()
        if not same(c, v) and not (kept and named(c) in kept.group(1))
    ]


def read_log(log, faults):
    """(indexes of the applied faults, whether a kill was applied) from the callback's log; a
    module kill counts only when it killed a module process before that module answered (its task
    did not end ok)."""
    records = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    late = {r["index"] for r in records if r["event"] == "kill_result" and r["status"] in ("ok", "skipped")}
    kills = {r["index"] for r in records if r["event"] == "killed"} - late
    applied = [
        r["index"]
        for r in records
        if r["event"] == "fault" and (faults[r["index"]].fault != "module_kill" or r["index"] in kills)
    ]
    return applied, any(faults[i].fault in KILLS for i in applied)


def plan_from_seed(seed, runs, faults=FAULTS, kill_share=0.5):
    """`runs` fault plans: each a fault in every phase from a random first one on (a fault that
    fails a host outside a component phase ends the run there, so later phases need runs of
    their own); about kill_share of the runs end with a controller kill in a random phase."""
    rng = random.Random(seed)
    plans = []
    for _ in range(runs):
        plan = []
        first = rng.randrange(len(PHASES))
        kill_at = (
            rng.randrange(first, len(PHASES)) if "controller_kill" in faults and rng.random() < kill_share else None
        )
        for index, (name, _prefix, count) in enumerate(PHASES):
            if index < first:
                continue
            task = rng.randint(1, count)
            if index == kill_at:
                plan.append(Fault(name, task, "controller_kill"))
                break
            plan.append(Fault(name, task, rng.choice([f for f in faults if f != "controller_kill"])))
        plans.append(plan)
    return plans


def table(outcomes, order=FAULTS):
    """phases x faults: applied/planned per cell, (n) runs with a violation after the fault or re-run."""
    kinds = [k for k in order if any(f.fault == k for o in outcomes for f in o.faults)]
    cells = {}
    for o in outcomes:
        for index, f in enumerate(o.faults):
            planned, applied, bad = cells.get((f.phase, f.fault), (0, 0, 0))
            cells[(f.phase, f.fault)] = (planned + 1, applied + (index in o.applied), bad + (not o.ok))
    lines = [
        "%-16s " % "phase \\ fault"
        + " ".join("%15s" % k for k in kinds)
        + "   (applied/planned, (runs with a violation))"
    ]
    for phase, _prefix, _count in PHASES:
        row = []
        for kind in kinds:
            planned, applied, bad = cells.get((phase, kind), (0, 0, 0))
            row.append("%15s" % (("%d/%d" % (applied, planned) + (" (%d)" % bad if bad else "")) if planned else "-"))
        lines.append("%-16s " % phase + " ".join(row))
    return "\n".join(lines)
