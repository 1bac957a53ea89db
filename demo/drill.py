"""make demo: the complete rollback drill in a local sandbox.

Builds, in a directory it prints (ROLLBACK_SANDBOX, else a new temp dir; no root-only paths),
a bad deploy in every component (tests/harness/stack.py): release r2 live behind an nginx load
balancer and app proxy (its /health answers 500), a PostgreSQL database that lost its orders
after the "good" snapshot, Redis pages written by the bad release, a new certificate served, and
the Stripe stand-in's endpoint re-pointed at the bad URL. It writes $ROLLBACK_SANDBOX/services.json
so inventories/sandbox carries every variable of the complete rollback, shows each component
before, runs `rollbackctl run complete -i inventories/sandbox` with its live progress while a
client loop counts the load balancer's answers, shows each component after, the verdict and
where `rollbackctl report` wrote the report, and stops everything it started.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness.stack import GOOD_HOOK, Stack  # noqa: E402
from tests.harness.traffic import ClientLoop  # noqa: E402

INVENTORY = REPO / "inventories" / "sandbox"


def banner(text):
    print("\n\033[1m== %s\033[0m" % text, flush=True)


def show(state):
    """One line per component."""
    app, db = state["app"], state["database"]
    print(
        "  app        current -> %s (%s), /health %s, load balancer: %s"
        % (app["live"], app["revision"], app["health"], app["lb"])
    )
    print("  database   oid %s, rows %s" % (db["oid"], ", ".join("%s=%s" % kv for kv in db["rows"].items())))
    print("  ssl        served certificate %s" % state["ssl"]["served"])
    print("  cache      %s" % ", ".join("%s: %s" % kv for kv in state["cache"].items()))
    for name, url in state["webhooks"].items():
        print("  webhooks   %s -> %s" % (name, url))
    print("  traffic    %s" % state["maintenance"], flush=True)


def expected(stack, state):
    """What is not back at the previous release, one line each (empty: every component is)."""
    wrong = []
    if state["app"]["live"] != "r1" or state["app"]["health"] != 200:
        wrong.append("app: %s live, /health %s" % (state["app"]["live"], state["app"]["health"]))
    if state["database"]["rows"]["orders"] != 50:
        wrong.append("database: %s orders" % state["database"]["rows"]["orders"])
    if not state["ssl"]["served"].endswith("(good)"):
        wrong.append("ssl: serves %s" % state["ssl"]["served"])
    if state["cache"]["page:*"] or not state["cache"]["session:1"]:
        wrong.append("cache: %s" % state["cache"])
    if stack.hook_url != GOOD_HOOK:
        wrong.append("webhooks: %s" % stack.hook_url)
    if "off" not in state["maintenance"]:
        wrong.append("traffic: %s" % state["maintenance"])
    return wrong


def rollbackctl(args, env):
    return subprocess.call([sys.executable, "-m", "rollbackctl", *args], cwd=REPO, env=env)


def main():
    sandbox = Path(os.environ.get("ROLLBACK_SANDBOX") or tempfile.mkdtemp(prefix="rollback-demo-")).resolve()
    sandbox.mkdir(parents=True, exist_ok=True)
    banner("sandbox: %s" % sandbox)
    print(
        "building a bad deploy in every component: nginx, PostgreSQL, Redis, TLS, Stripe and Slack stand-ins",
        flush=True,
    )
    stack = Stack.start(sandbox, broken=("r2",))
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        ROLLBACK_SANDBOX=str(sandbox),
        ROLLBACKCTL_STATE_DIR=str(sandbox / "rollbackctl"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"),
        ANSIBLE_LOCAL_TEMP=str(sandbox / ".ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(sandbox / ".ansible-remote"),
    )
    rc = 1
    try:
        # inventories/sandbox reads these (services.sh); the inventory's host is `sandbox`
        variables = stack.extravars(webhooks_notify_slack_url=stack.slack.hook_url)
        (sandbox / "services.json").write_text(json.dumps(variables, indent=2, sort_keys=True))
        banner("before: the bad deploy (load balancer on %s)" % stack.url)
        show(stack.state())

        banner("rollbackctl run complete -i inventories/sandbox")
        started = time.monotonic()
        with ClientLoop(stack) as clients:
            rc = rollbackctl(["run", "complete", "-i", str(INVENTORY)], env)
        took = time.monotonic() - started
        counts = ClientLoop.count(clients.answers)
        print(
            "client loop through the load balancer during the run: %s"
            % ", ".join("%s x%d" % (status, n) for status, n in sorted(counts.items(), key=str)),
            flush=True,
        )

        banner("after (%.1f s)" % took)
        after = stack.state()
        show(after)
        wrong = expected(stack, after)
        if set(counts) - {200, 503}:
            wrong.append("load balancer answered %s during the run" % sorted(set(counts) - {200, 503}, key=str))
        announced = [json.dumps(r.json()) for r in stack.slack.seen("POST")]
        print("slack stand-in: %d announcements (start and end of the run among them)" % len(announced))

        banner("rollbackctl report -i inventories/sandbox")
        report_rc = rollbackctl(["report", "-i", str(INVENTORY)], env)
        if report_rc != 0:
            wrong.append("rollbackctl report exited %d" % report_rc)

        verified = rc == 0 and not wrong
        for line in wrong:
            print("NOT BACK: %s" % line)
        banner("drill %s; sandbox kept in %s" % ("verified" if verified else "FAILED", sandbox))
        rc = 0 if verified else (rc or 1)
    finally:
        stack.stop()
        if os.environ.get("ROLLBACK_DEMO_CLEAN"):
            shutil.rmtree(sandbox, ignore_errors=True)
    return rc


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print("(%.1f s)" % (time.monotonic() - started))
    sys.exit(code)
