"""Partial and serial app rollbacks across a real fleet, driven through the real playbook.

The tests run in file order: first `--limit rb-fleet-app2` (only app2 may change), then both app
hosts one at a time (`rollback_serial=1`) while a client loop on the load balancer counts errors.
"""

import json
import os
import subprocess
import time

import testinfra

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
SCENARIO = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
R1, R2, R3 = "20261121T090000Z", "20261122T090000Z", "20261123T090000Z"
APP1, APP2, LB, DB = (testinfra.get_host("podman://rb-fleet-%s" % n) for n in ("app1", "app2", "lb", "db"))

CLIENT = r"""
import json, os, time, urllib.request
total, errors, last_error, versions = 0, 0, None, {}
deadline = time.monotonic() + 300
while total < 20000 and time.monotonic() < deadline and not os.path.exists("/tmp/stop-client"):
    total += 1
    try:
        body = urllib.request.urlopen("http://127.0.0.1/", timeout=5).read().decode().split()
        seq = versions.setdefault(body[3], [])
        if not seq or seq[-1] != body[1]:
            seq.append(body[1])
    except Exception as err:
        errors += 1
        last_error = repr(err)
    time.sleep(0.005)
print(json.dumps({"total": total, "errors": errors, "last_error": last_error, "versions": versions}))
"""


def app_state(host):
    return {
        "current": host.file("/srv/shop/current").linked_to,
        "files": host.check_output(
            "cd /srv/shop && find . -path ./current -prune -o -type f -print0 | sort -z | xargs -0 sha256sum"
        ),
        "started": host.check_output("systemctl show shop -p ActiveEnterTimestampMonotonic"),
        "state_dir": host.run("find /var/lib/emergency-rollback -type f | sort").stdout,
    }


def other_state():
    return {
        "lb_conf": LB.check_output("sha256sum /etc/nginx/sites-enabled/default"),
        "lb_pid": LB.check_output("systemctl show nginx -p MainPID"),
        "db_pid": DB.check_output("systemctl show postgresql@15-main -p MainPID"),
        "untouched": [h.file("/var/lib/emergency-rollback").exists for h in (LB, DB)],
    }


def playbook(*extra):
    argv = [
        "ansible-playbook",
        os.path.join(PROJECT, "playbooks", "rollback_app.yml"),
        "-i",
        INVENTORY,
        "-e",
        "@" + os.path.join(SCENARIO, "vars", "rollback.yml"),
        *extra,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)


def test_limit_app2_changes_only_app2():
    before_app1, before_other = app_state(APP1), other_state()
    assert before_app1["current"] == "/srv/shop/releases/" + R3
    run = playbook("--limit", "rb-fleet-app2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "rb-fleet-app1" not in run.stdout
    assert APP2.file("/srv/shop/current").linked_to == "/srv/shop/releases/" + R2
    assert R3 in json.loads(APP2.file("/srv/shop/.rollback/bad.json").content_string)
    assert app_state(APP1) == before_app1
    assert other_state() == before_other
    assert before_other["untouched"] == [False, False]


def test_serial_rollback_behind_the_balancer_without_errors():
    LB.run("rm -f /tmp/stop-client")
    client = subprocess.Popen(
        ["podman", "exec", "rb-fleet-lb", "python3", "-c", CLIENT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    run = playbook("-e", "rollback_serial=1", "-e", "app_rollback_to=" + R1)
    time.sleep(2)
    LB.run("touch /tmp/stop-client")
    out, err = client.communicate(timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    # one host per batch: the play ran twice, each time for one host
    assert run.stdout.count("PLAY [Roll back the application]") == 2
    result = json.loads(out or "{}") if out else {"error": err}
    print("fleet client loop: %(total)s requests through the balancer, %(errors)s failed" % result)
    assert result["errors"] == 0, result
    assert result["total"] > 100
    assert result["versions"]["rb-fleet-app1"][-1] == "1.4.1" and "1.5.0" in result["versions"]["rb-fleet-app1"]
    assert result["versions"]["rb-fleet-app2"][-1] == "1.4.1" and "1.4.2" in result["versions"]["rb-fleet-app2"]
    # lock, switch and systemd restart in one module run per host, then the health check and the
    # verdict; the journal as phase by phase
    assert run.stdout.count("TASK [emergency.rollback.app : Switch current back and journal the verdict") == 2
    for host in (APP1, APP2):
        assert host.file("/srv/shop/current").linked_to == "/srv/shop/releases/" + R1
        assert not host.file("/var/lib/emergency-rollback/rollback.lock").exists
        text = host.file("/var/lib/emergency-rollback/journal.jsonl").content_string
        last = [json.loads(line) for line in text.splitlines()][-4:]
        assert [(e["action"], e["result"]) for e in last] == [
            ("release", "changed"),
            ("restart", "changed"),
            ("verify", "ok"),
            ("release", "changed"),
        ], last
        assert last[1]["to"] == "shop" and last[0]["to"] == R1
