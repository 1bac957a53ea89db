"""The complete rollback across a real fleet, driven through playbooks/rollback_complete.yml.

Converge left the bad deploy in every component: release 1.5.0 live on both app hosts, the
database migrated by it (Alembic, half of the orders gone; the pre-deploy snapshot `good`), the
certificate for the wrong name served by the load balancer, and the bad release's pages in Redis.
The tests run in file order: the rollback under a client loop, a re-run that changes nothing, then
a fresh bad deploy (converge again) and a rollback whose final verify cannot pass.
"""

import json
import os
import re
import subprocess
import time

import testinfra

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
SCENARIO = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
R2, R3 = "20261122T090000Z", "20261123T090000Z"
APP1, APP2, LB, DB = (testinfra.get_host("podman://rb-complete-%s" % n) for n in ("app1", "app2", "lb", "db"))
APPS = {"rb-complete-app1": APP1, "rb-complete-app2": APP2}
STATE = "/var/lib/emergency-rollback"
UPSTREAM = "/etc/nginx/conf.d/emergency-rollback-upstream.conf"
MAINTENANCE = "/etc/nginx/snippets/emergency-rollback-maintenance.conf"
VERDICT_START = "The complete rollback failed and the stack was reverted"
# nginx's 100 ms of old and new workers after a reload, with room for a loaded machine
RELOAD_OVERLAP = 0.5

# Runs on the load balancer; prints runs of equal answers: [status, Retry-After, body, count, first
# and last time]. A new connection for every request, so each answer is what a new visitor gets.
CLIENT = r"""
import http.client, json, os, time
runs, errors, last_error = [], 0, None
deadline = time.monotonic() + 600
while time.monotonic() < deadline and not os.path.exists("/tmp/stop-client"):
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=5)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        answer = [resp.status, resp.getheader("Retry-After"), resp.read().decode().strip()[:40]]
    except Exception as err:
        errors, last_error = errors + 1, repr(err)
        answer = ["error", None, repr(err)[:40]]
    finally:
        conn.close()
    now = time.monotonic()
    if runs and runs[-1][:3] == answer:
        runs[-1][3] += 1
        runs[-1][5] = now
    else:
        runs.append(answer + [1, now, now])
    time.sleep(0.005)
print(json.dumps({"runs": runs, "errors": errors, "last_error": last_error}))
"""


def run_playbook(path, *extra):
    argv = ["ansible-playbook", path, "-i", INVENTORY, *extra]
    # results as one JSON line each, so the verdict can be read back
    env = {**os.environ, "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, env=env)


def verdict(run):
    """The message of the complete rollback's failing verdict (failed results go to stderr here:
    Molecule's ansible.cfg sets display_failed_stderr)."""
    for line in (run.stdout + "\n" + run.stderr).splitlines():
        if line.startswith("fatal: [localhost]: FAILED! => "):
            msg = json.loads(line.split(" => ", 1)[1]).get("msg", "")
            if msg.startswith(VERDICT_START):
                return msg
    raise AssertionError("no failing verdict in:\n" + run.stdout[-3000:] + run.stderr[-3000:])


def complete(run_id, *extra):
    return run_playbook(
        os.path.join(PROJECT, "playbooks", "rollback_complete.yml"),
        "-e",
        "@" + os.path.join(SCENARIO, "vars", "rollback.yml"),
        "-e",
        "rollback_run_id=" + run_id,
        *extra,
    )


def lb_address():
    out = subprocess.run(
        ["podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "rb-complete-lb"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[0]


def smoke(body_regex):
    """Smoke check through the load balancer (the health path passes its maintenance page)."""
    check = [{"url": "http://%s/health.json" % lb_address(), "status": 200, "body_regex": body_regex}]
    return json.dumps({"rollback_smoke_checks": check})  # JSON: key=value would pass a string


def fingerprint(host, cmd):
    return host.check_output(cmd + " | openssl x509 -noout -fingerprint -sha256").split("=", 1)[1]


def served_certificate():
    return fingerprint(
        LB, "openssl s_client -connect 127.0.0.1:443 -servername shop.example.test </dev/null 2>/dev/null"
    )


def psql(sql, database="shop"):
    return DB.check_output("runuser -u postgres -- psql -Atq -d %s -c %s" % (database, json.dumps(sql)))


def stack():
    """Every component's state, as the rollback must leave it (or put it back)."""
    return {
        "releases": {name: host.file("/srv/shop/current").linked_to for name, host in APPS.items()},
        "db": {
            "oid": psql("SELECT oid FROM pg_database WHERE datname = 'shop'", "postgres"),
            "orders": psql("SELECT count(*) FROM orders"),
            "revision": psql("SELECT version_num FROM alembic_version"),
        },
        "certificate": served_certificate(),
        "upstream": LB.file(UPSTREAM).content_string,
        "maintenance": LB.file(MAINTENANCE).content_string,
        "pages": DB.check_output("redis-cli --scan --pattern 'page:*' | wc -l"),
    }


def journal(host, run_id):
    path = STATE + "/journal.jsonl"
    lines = host.file(path).content_string.splitlines() if host.file(path).exists else []
    return [e for e in map(json.loads, lines) if e.get("run_id") == run_id]


def changed_tasks(stdout):
    """(task, host) of every task that reported a change, from the default callback's output."""
    task, changed = None, []
    for line in stdout.splitlines():
        m = re.match(r"TASK \[(.*)\] \*+", line)
        if m:
            task = m.group(1)
        m = re.match(r"changed: \[([^\]]+)\]", line)
        if m:
            changed.append((task, m.group(1).split(" -> ")[0]))
    return changed


def no_locks():
    return [h.file(STATE + "/rollback.lock").exists for h in (APP1, APP2, LB, DB)] == [False] * 4


def test_complete_rollback_across_the_fleet_under_load():
    bad = stack()
    assert bad["releases"] == dict.fromkeys(APPS, "/srv/shop/releases/" + R3)
    assert bad["db"]["orders"] == "50" and bad["db"]["revision"] == "b2_coupons"
    assert bad["certificate"] == fingerprint(LB, "cat /etc/rollback-pki/bad.crt")
    assert bad["pages"] == "200" and "# maintenance: off" in bad["maintenance"]

    LB.run("rm -f /tmp/stop-client")
    client = subprocess.Popen(
        ["podman", "exec", "rb-complete-lb", "python3", "-c", CLIENT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    started = time.monotonic()
    run = complete("molecule-complete-1", "-e", smoke('"version": "1.4.2"'))
    print("rollback_complete across the fleet: %.1f s" % (time.monotonic() - started))
    time.sleep(2)
    LB.run("touch /tmp/stop-client")
    out, err = client.communicate(timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # the app phase took one host per batch
    assert run.stdout.count("PLAY [Application]") == 2

    # every component back at the previous release, on every host
    after = stack()
    assert after["releases"] == dict.fromkeys(APPS, "/srv/shop/releases/" + R2)
    assert after["db"]["orders"] == "100" and after["db"]["revision"] == "a1_orders"
    assert after["db"]["oid"] != bad["db"]["oid"]
    assert after["certificate"] == fingerprint(LB, "cat /etc/rollback-pki/good.crt")
    assert after["pages"] == "0" and DB.check_output("redis-cli --scan --pattern 'session:*' | wc -l") == "200"
    assert "# maintenance: off" in after["maintenance"]
    assert after["upstream"] == bad["upstream"]  # the gradual restore ended at full weight
    # and verified, each component on the hosts it ran on
    verified = {
        (name, e["component"])
        for name, host in {**APPS, "rb-complete-lb": LB, "rb-complete-db": DB}.items()
        for e in journal(host, "molecule-complete-1")
        if e["action"] == "verify" and e["result"] == "ok"
    }
    assert {
        ("rb-complete-app1", "app"),
        ("rb-complete-app2", "app"),
        ("rb-complete-db", "database"),
        ("rb-complete-db", "cache"),
        ("rb-complete-lb", "ssl"),
    } <= verified, verified
    steps = [e for e in journal(LB, "molecule-complete-1") if e["component"] == "traffic"]
    assert steps, "the gradual restore journaled no step"
    # the maintenance page was seen by new connections before the database phase changed anything
    actions = [(e["action"], e["result"]) for e in steps]
    confirmed = steps[[a for a, _ in actions].index("maintenance_on") + 1]
    assert (confirmed["action"], confirmed["result"]) == ("verify", "ok"), actions
    database = [e for e in journal(DB, "molecule-complete-1") if e["component"] == "database"]
    assert database and database[0]["ts"] >= confirmed["ts"], (confirmed, database[0])
    assert no_locks()

    # the client loop: no 502/504, no connection error; 503 only as one maintenance window
    result = json.loads(out) if out else {"error": err}
    runs = result["runs"]
    summary = []  # runs merged across the two app hosts: (status, release served, count)
    for s, _, b, n, _, _ in runs:
        key = (s, b.split()[1] if s == 200 else None)
        if summary and tuple(summary[-1][:2]) == key:
            summary[-1][2] += n
        else:
            summary.append([*key, n])
    print("fleet client loop: %s" % summary)
    assert result["errors"] == 0, result
    assert {s for s, *_ in runs} == {200, 503}, runs
    assert {r for s, r, *_ in runs if s == 503} == {"7"}, runs
    # the bad release until the page went on, the previous one after it went off, never back again
    releases = [b.split()[1] for s, _, b, *_ in runs if s == 200]
    assert set(releases) == {"1.5.0", "1.4.2"}, runs
    assert releases.index("1.4.2") > len(releases) - 1 - releases[::-1].index("1.5.0"), runs
    statuses = [s for s, *_ in runs]
    first, last = statuses.index(503), len(statuses) - 1 - statuses[::-1].index(503)
    on, off = runs[first][4], runs[last][5]
    # One 503 window. At its edges nginx's reload shows: the master starts the new workers and lets
    # the old ones take new connections for another 100 ms, so a few visitors still get the side the
    # reload is leaving (the bad release just after the page went on, the page just before it went
    # off). Nothing changes meanwhile: the role confirms the page before the next phase (above).
    for s, _, b, _, start, end in runs[first : last + 1]:
        if s == 200:
            at_on = b.startswith("shop 1.5.0") and end - on <= RELOAD_OVERLAP
            at_off = b.startswith("shop 1.4.2") and off - start <= RELOAD_OVERLAP
            assert at_on or at_off, runs
    served_last = {b.split()[-1] for s, _, b, *_ in runs[last + 1 :] if s == 200}
    assert served_last == set(APPS), runs  # both app hosts back in the balancer
    assert all(b.startswith("shop 1.4.2") for s, _, b, *_ in runs[last + 1 :]), runs


def test_rerun_changes_nothing():
    before = stack()
    # Without the maintenance page, whose on and off are changes by design. The gradual restore
    # still steps the weights (50 then 100): it must end where it started.
    run = complete("molecule-complete-2", "-e", "rollback_maintenance=false", "-e", smoke('"version": "1.4.2"'))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    changed = changed_tasks(run.stdout)
    steps = [c for c in changed if "Send the step's share" in c[0]]
    assert steps and all(host == "rb-complete-lb" for _, host in steps), changed
    assert [c for c in changed if c not in steps] == [], changed
    assert stack() == before
    assert no_locks()


def test_failed_verify_reverts_the_whole_fleet():
    converge = run_playbook(os.path.join(SCENARIO, "converge.yml"))
    assert converge.returncode == 0, converge.stdout[-4000:] + converge.stderr[-2000:]
    before = stack()
    assert before["releases"] == dict.fromkeys(APPS, "/srv/shop/releases/" + R3)
    assert before["db"]["orders"] == "50" and before["db"]["revision"] == "b2_coupons"
    assert before["certificate"] == fingerprint(LB, "cat /etc/rollback-pki/bad.crt")

    run = complete("molecule-complete-3", "-e", smoke("shop-never-served"), "-e", "rollback_smoke_attempts=1")
    assert run.returncode != 0, run.stdout[-4000:]
    assert "TASK [Fail listing what was reverted and why]" in run.stdout, run.stdout[-4000:] + run.stderr[-2000:]
    msg = verdict(run)
    undone_but = " to its pre-rollback state, except what cannot be undone (cache on rb-complete-db)."
    assert msg.startswith(VERDICT_START + undone_but), msg
    assert "verify:" in msg and "shop-never-served" in msg, msg
    for name in APPS:
        assert "app on %s: release %s -> %s" % (name, R2, R3) in msg, msg
    assert "database on rb-complete-db: the pre-rollback database" in msg, msg
    assert "schema upgraded back to revision b2_coupons" in msg, msg
    assert "ssl on rb-complete-lb: the previous certificate set" in msg, msg
    assert "cache on rb-complete-db: nothing: a cache flush cannot be undone" in msg, msg
    # The verdict lists the undos host by host; on each host the newest phase comes first.
    assert msg.index("cache on rb-complete-db") < msg.index("database on rb-complete-db"), msg

    # every component back at its pre-rollback state (the flushed pages cannot come back)
    after = stack()
    assert after["pages"] == "0"
    assert {**after, "pages": before["pages"]} == before
    assert no_locks()
    undone = {
        (e["component"], e["result"])
        for host in (APP1, APP2, LB, DB)
        for e in journal(host, "molecule-complete-3")
        if e["action"] == "auto_revert"
    }
    assert ("app", "reverted") in undone, undone
