"""The app role through playbooks/rollback_app.yml: real nginx, zero failed requests, auto-revert, fleet."""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.harness.app import SITE, fingerprint, live_of, make_layout

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = str(REPO / "playbooks" / "rollback_app.yml")
FAIL_TASK = "Fail saying what failed and what was reverted"
# one host, symlink, nothing between the switch and the verdict: the whole run is this one task
ONE_RUN = "Switch current back and journal the verdict of the run of app"
JOURNAL_OK = [
    ("lock", "acquire", "changed"),
    ("app", "release", "changed"),
    ("app", "verify", "ok"),
    ("lock", "release", "changed"),
]


def inventory(hosts):
    return {
        "all": {
            "children": {
                "web": {
                    "hosts": {
                        name: dict(
                            {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}, **hostvars
                        )
                        for name, hostvars in hosts.items()
                    }
                }
            }
        }
    }


def serve(nginx_factory, root):
    return nginx_factory(SITE % root)


class ClientLoop(threading.Thread):
    """GETs / on loopback until stopped (bounded in count and time); records bodies and failures."""

    def __init__(self, port, max_requests=20000, max_seconds=120, pause=0.002):
        super().__init__(daemon=True)
        self.port, self.max_requests, self.max_seconds, self.pause = port, max_requests, max_seconds, pause
        self.stop = threading.Event()
        self.bodies, self.failures = [], []

    def run(self):
        deadline = time.monotonic() + self.max_seconds
        while not self.stop.is_set() and len(self.bodies) + len(self.failures) < self.max_requests:
            if time.monotonic() > deadline:
                break
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read().decode()
                if resp.status != 200:
                    self.failures.append("%d %s" % (resp.status, body[:80]))
                else:
                    self.bodies.append(body.strip())
            except OSError as err:
                self.failures.append(repr(err))
            finally:
                conn.close()
            time.sleep(self.pause)


def test_zero_failed_requests_while_rollback_app_switches(playbook, nginx_factory, tmp_path, capsys):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3", broken=["r3"])
    state = tmp_path / "state"
    server = serve(nginx_factory, root)
    client = ClientLoop(server.http_port)
    client.start()
    while not client.bodies and client.is_alive():
        time.sleep(0.01)
    run = playbook(
        PLAYBOOK,
        inventory=inventory({"web1": {}}),
        extravars={
            "app_root": str(root),
            "app_state_dir": str(state),
            "app_run_id": "rb-zero",
            "app_health_urls": ["http://127.0.0.1:%d/health" % server.http_port],
            "app_health_attempts": 3,
            "app_health_interval": 0.2,
        },
    )
    # keep the load on a little after the switch, so the new release is seen
    seen_after = len(client.bodies)
    while len(client.bodies) < seen_after + 50 and client.is_alive():
        time.sleep(0.01)
    client.stop.set()
    client.join(30)
    assert run.rc == 0, run.stdout[-3000:]
    total = len(client.bodies) + len(client.failures)
    with capsys.disabled():
        print("\nzero-downtime: %d requests during rollback_app, %d failed" % (total, len(client.failures)))
    assert client.failures == []
    assert total < client.max_requests, "the loop ran through the whole rollback, not up to its bound"
    assert client.bodies[0] == "release r3" and client.bodies[-1] == "release r2"
    switches = sum(1 for a, b in zip(client.bodies, client.bodies[1:], strict=False) if a != b)
    assert switches == 1, "responses switch once from r3 to r2"
    assert live_of(root) == "r2"
    # a symlink switch with health URLs and nothing else: the one module run, then the health check
    res = run.result(ONE_RUN, "web1")
    assert (res["from"], res["to"], res["marked_bad"]) == ("r3", "r2", "r3")
    journal = [json.loads(line) for line in (state / "journal.jsonl").read_text().splitlines()]
    assert [(j["component"], j["action"], j["result"]) for j in journal] == JOURNAL_OK, journal
    assert all(j["run_id"] == "rb-zero" for j in journal)
    assert not (state / "rollback.lock").exists()


def test_check_diff_changes_nothing_then_second_run_is_a_noop(playbook, tmp_path):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    env = root / "shared" / ".env"
    env.write_text("DB_PASSWORD=hunter2\nFLAG=on\n")
    state = tmp_path / "state"
    state.mkdir()
    extravars = {"app_root": str(root), "app_state_dir": str(state), "app_config_files": [str(env)]}
    before = (fingerprint(root), fingerprint(state))
    check = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars, check=True, diff=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert "current -> releases/r2" in check.stdout
    assert (fingerprint(root), fingerprint(state)) == before
    first = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars)
    assert first.rc == 0 and live_of(root) == "r2"
    second = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars)
    assert second.rc == 0, second.stdout[-3000:]
    assert live_of(root) == "r2", "a second run does not go back a second release"
    assert second.result("Switch current to release r2", "web1")["changed"] is False
    assert "hunter2" not in check.artifacts_text() + first.artifacts_text()


def test_failed_verification_switches_back_and_restores_config(playbook, nginx_factory, tmp_path):
    # r3 is live and broken; r2 (the rollback target) is broken too
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3", broken=["r2", "r3"])
    env = root / "shared" / ".env"
    env.write_text("ENABLE_NEW_PAYMENT_FLOW=true\n")
    state = tmp_path / "state"
    server = serve(nginx_factory, root)
    marker = tmp_path / "restarts"
    run = playbook(
        PLAYBOOK,
        inventory=inventory({"web1": {}}),
        extravars={
            "app_root": str(root),
            "app_state_dir": str(state),
            "app_env_file": str(env),
            "app_env_set": {"ENABLE_NEW_PAYMENT_FLOW": False},
            "app_restart": "command",
            "app_restart_command": [sys.executable, "-c", "open(%r, 'a').write('x')" % str(marker)],
            "app_health_urls": ["http://127.0.0.1:%d/health" % server.http_port],
            "app_health_attempts": 2,
            "app_health_interval": 0.1,
        },
    )
    assert run.rc != 0 and run.failed_hosts() == {"web1"}
    assert live_of(root) == "r3", "the pre-rollback release is live again"
    assert env.read_text() == "ENABLE_NEW_PAYMENT_FLOW=true\n", "config restored"
    msg = run.result(FAIL_TASK, "web1")["msg"]
    assert "failed in the verify phase" in msg and "release r2 -> r3" in msg and "config restored from snapshot" in msg
    assert marker.read_text() == "xx", "restarted after the rollback and again after the revert"
    bad = json.loads((root / ".rollback/bad.json").read_text())
    # r3 served before the run: the revert clears its mark, so a later `previous` can land on it
    assert set(bad) == {"r2"} and "failed in its verify phase" in bad["r2"]["reason"]
    assert not (state / "rollback.lock").exists(), "the lock is released after a failure too"
    journal = [json.loads(line) for line in (state / "journal.jsonl").read_text().splitlines()]
    steps = [(j["component"], j["action"], j["result"]) for j in journal]
    # the revert is journaled, then the run's one verdict entry
    assert steps.index(("app", "auto_revert", "reverted")) < steps.index(("app", "verify", "failed"))
    assert [s for s in steps if s[1] == "verify"] == [("app", "verify", "failed")]
    assert ("app", "restart", "changed") in steps
    revert = next(j for j in journal if j["action"] == "auto_revert")
    assert (revert["from"], revert["to"]) == ("r2", "r3")


def test_a_failure_before_verify_switches_back_without_marking_the_target_bad(playbook, tmp_path):
    """A failed restart says nothing about the release switched to (chaos seed 2715 run 5: a killed
    journal entry in the same phase): the revert leaves it usable, so a re-run can land on it."""
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "state"
    extravars = {
        "app_root": str(root),
        "app_state_dir": str(state),
        "app_restart": "command",
        "app_restart_command": [sys.executable, "-c", "raise SystemExit(3)"],
    }
    run = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars)
    assert run.rc != 0 and live_of(root) == "r3", "switched back"
    assert run.task_results(ONE_RUN), "a restart alone keeps the rollback one module run"
    msg = run.result(FAIL_TASK, "web1")["msg"]
    assert "failed in the rollback phase" in msg and "release r2 -> r3" in msg
    # the reverted release is restarted too; that restart failing is said, not lost
    assert "the restart after it failed (rc 3)" in msg
    assert not (state / "rollback.lock").exists(), "the lock the failed restart kept is released"
    steps = [(e["action"], e["result"]) for e in map(json.loads, (state / "journal.jsonl").read_text().splitlines())]
    assert (
        steps.index(("restart", "failed"))
        < steps.index(("auto_revert", "reverted"))
        < steps.index(("release", "changed"), 4)
    )
    bad_file = root / ".rollback/bad.json"
    bad = json.loads(bad_file.read_text()) if bad_file.exists() else {}
    assert "r2" not in bad, bad
    extravars["app_restart_command"] = [sys.executable, "-c", "pass"]
    again = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars)
    assert again.rc == 0, again.stdout[-3000:]
    assert live_of(root) == "r2", "the re-run lands on the target"


def test_auto_revert_then_previous_lands_on_the_good_release(playbook, nginx_factory, tmp_path):
    """r3 good and live, r2 broken: the rollback to r2 is reverted; after a broken r4 is deployed,
    `previous` goes back to r3 (the release the revert returned to), not past it to r1."""
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3", broken=["r2"])
    state = tmp_path / "state"
    server = serve(nginx_factory, root)
    extravars = {
        "app_root": str(root),
        "app_state_dir": str(state),
        "app_health_urls": ["http://127.0.0.1:%d/health" % server.http_port],
        "app_health_attempts": 2,
        "app_health_interval": 0.1,
    }
    first = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars)
    assert first.rc != 0 and live_of(root) == "r3"
    make_layout(root, ["r4"], broken=["r4"])  # another tool deploys r4 ...
    os.symlink("releases/r4", root / "current.new")
    os.replace(root / "current.new", root / "current")
    second = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars)
    assert second.rc == 0, second.stdout[-3000:]
    assert live_of(root) == "r3"
    journal = [json.loads(line) for line in (state / "journal.jsonl").read_text().splitlines()]
    revert = [j for j in journal if j["action"] == "release" and "cleared the bad mark of r3" in (j["message"] or "")]
    assert len(revert) == 1, "the journal says why r3 is good again"


def test_lock_held_by_another_run_fails_and_changes_nothing(playbook, tmp_path):
    root = make_layout(tmp_path / "shop", ["r1", "r2"], live="r2")
    state = tmp_path / "state"
    state.mkdir()
    (state / "rollback.lock").write_text(
        json.dumps(
            {
                "run_id": "rb-other",
                "pid": os.getpid(),
                "machine": os.uname().nodename,
                "user": "bob",
                "since": time.time(),
                "ttl": None,
            }
        )
    )
    before = (fingerprint(root), fingerprint(state))
    run = playbook(
        PLAYBOOK, inventory=inventory({"web1": {}}), extravars={"app_root": str(root), "app_state_dir": str(state)}
    )
    assert run.rc != 0
    # one host, symlink, no health URL: the one module run takes the lock before it reads
    res = run.result(ONE_RUN, "web1")
    assert "run_id=rb-other" in res["msg"] and "\n" not in res["msg"] and res["phase"] == "preflight"
    msg = run.result(FAIL_TASK, "web1")["msg"]
    assert "failed in the preflight phase" in msg and "Reverted: nothing" in msg
    assert (fingerprint(root), fingerprint(state)) == before


def test_fleet_with_one_host_lacking_the_target_switches_no_host(playbook, tmp_path):
    web1 = make_layout(tmp_path / "web1", ["r1", "r2", "r3"], live="r3")
    web2 = make_layout(tmp_path / "web2", ["r1", "r3"], live="r3")
    hosts = {
        "web1": {"app_root": str(web1), "app_state_dir": str(tmp_path / "s1")},
        "web2": {"app_root": str(web2), "app_state_dir": str(tmp_path / "s2")},
    }
    before = (fingerprint(web1), fingerprint(web2))
    run = playbook(PLAYBOOK, inventory=inventory(hosts))
    assert run.rc != 0
    assert (fingerprint(web1), fingerprint(web2)) == before, "all or nothing: no host was switched"
    msg = run.result("Every host passed its preflight (all or nothing)", "web1")["msg"]
    assert msg.startswith("app: no host was changed.")
    assert "web2: " in msg and "release r2 (resolved from 'previous' on web1) is missing on web2" in msg
    assert "passed on web1." in msg
    for state in ("s1", "s2"):
        assert not (tmp_path / state / "rollback.lock").exists()
    # the refusal is journaled on the host that refused
    refusal = [json.loads(x) for x in (tmp_path / "s2" / "journal.jsonl").read_text().splitlines()][-2]
    assert (refusal["action"], refusal["result"]) == ("verify", "failed") and "is missing on web2" in refusal["message"]

    # best effort: the hosts that can be rolled back are, each on its own
    run = playbook(PLAYBOOK, inventory=inventory(hosts), extravars={"rollback_best_effort": True})
    assert run.failed_hosts() == {"web2"}
    assert live_of(web1) == "r2" and fingerprint(web2) == before[1]

    # --limit web1 with an explicit id works too
    run = playbook(PLAYBOOK, inventory=inventory(hosts), limit="web1", extravars={"app_rollback_to": "r1"})
    assert run.rc == 0 and live_of(web1) == "r1" and live_of(web2) == "r3"


def test_serial_batches_land_on_one_release_and_a_failed_batch_stops_the_rest(playbook, tmp_path):
    roots = {name: make_layout(tmp_path / name, ["r1", "r2", "r3"], live="r3") for name in ("web1", "web2", "web3")}
    hosts = {n: {"app_root": str(root), "app_state_dir": str(tmp_path / ("s-" + n))} for n, root in roots.items()}
    # nothing listens on web2's health URL: its batch fails and is reverted, web3 is never touched
    hosts["web2"]["app_health_urls"] = ["http://127.0.0.1:1/health"]
    hosts["web2"]["app_health_attempts"] = 1
    run = playbook(PLAYBOOK, inventory=inventory(hosts), extravars={"rollback_serial": 1})
    assert run.rc != 0
    assert live_of(roots["web1"]) == "r2" and live_of(roots["web2"]) == "r3" and live_of(roots["web3"]) == "r3"
    assert "web3" not in {r["host"] for r in run.task_results("Switch current to release r2")}
    msg = run.result(FAIL_TASK, "web2")["msg"]
    assert "Fleet: rolled back on web1; not started on web3." in msg
    ids = set()
    for name in ("web1", "web2"):
        journal = [json.loads(x) for x in (tmp_path / ("s-" + name) / "journal.jsonl").read_text().splitlines()]
        ids |= {j["run_id"] for j in journal}
    assert len(ids) == 1, "one run id for every host and batch: %s" % ids


def test_directory_and_git_strategies_through_the_role(playbook, tmp_path):
    from tests.harness.app import git, make_repo

    live, backup = tmp_path / "www", tmp_path / "backups" / "1.4.2"
    for path, text in ((live, "1.5.0 broken"), (backup, "1.4.2 good")):
        path.mkdir(parents=True)
        (path / "index.html").write_text(text)
    state = tmp_path / "state"
    common = {"app_state_dir": str(state)}
    run = playbook(
        PLAYBOOK,
        inventory=inventory({"web1": {}}),
        extravars=dict(common, app_strategy="directory", app_live_path=str(live), app_backup_path=str(backup)),
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert (live / "index.html").read_text() == "1.4.2 good"
    kept = run.result("Restore the deployment backup into the live path " + str(live), "web1")["snapshot"]["path"]
    assert (Path(kept) / "index.html").read_text() == "1.5.0 broken"

    repo = tmp_path / "repo"
    shas = make_repo(repo, ("v1", "v2"))
    extravars = dict(common, app_strategy="git", app_git_repo=str(repo), app_git_ref=shas[0])
    run = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars)
    assert run.rc == 0, run.stdout[-3000:]
    assert git(repo, "rev-parse", "HEAD") == shas[0]
    again = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars)
    assert again.result("Roll back the work tree with git reset", "web1")["changed"] is False


def verdicts(state):
    """The frame's verdict entries (action verify) of the journal in state."""
    journal = [json.loads(line) for line in (state / "journal.jsonl").read_text().splitlines()]
    return [j for j in journal if j["action"] == "verify"]


def test_failing_hook_after_the_switch_reverts_release_and_env_flags(playbook, tmp_path):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    env = root / "shared" / ".env"
    env.write_text("ENABLE_NEW_PAYMENT_FLOW=true\n")
    hook = tmp_path / "drain.yml"
    hook.write_text("- name: A load-balancer step that fails\n  ansible.builtin.fail:\n    msg: lb said no\n")
    state = tmp_path / "state"
    run = playbook(
        PLAYBOOK,
        inventory=inventory({"web1": {}}),
        extravars={
            "app_root": str(root),
            "app_state_dir": str(state),
            "app_env_file": str(env),
            "app_env_set": {"ENABLE_NEW_PAYMENT_FLOW": False},
            "app_hooks_after_rollback": [str(hook)],
        },
    )
    assert run.rc != 0 and run.failed_hosts() == {"web1"}
    assert live_of(root) == "r3" and env.read_text() == "ENABLE_NEW_PAYMENT_FLOW=true\n"
    msg = run.result(FAIL_TASK, "web1")["msg"]
    assert "failed in the rollback phase" in msg and "lb said no" in msg and "release r2 -> r3" in msg
    [verdict] = verdicts(state)
    assert verdict["result"] == "failed" and verdict["component"] == "app"
    assert not (state / "rollback.lock").exists()


def test_no_health_urls_is_not_verified_in_one_journal_entry(playbook, tmp_path):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "state"
    run = playbook(
        PLAYBOOK, inventory=inventory({"web1": {}}), extravars={"app_root": str(root), "app_state_dir": str(state)}
    )
    assert run.rc == 0, run.stdout[-3000:]
    [verdict] = verdicts(state)
    assert (verdict["result"], verdict["message"]) == ("not_verified", "not verified: no health URLs given")
    entry = run.result(ONE_RUN, "web1")["journal_entry"]
    assert entry == verdict
    assert [p["phase"] for p in verdict["details"]["phases"]] == ["preflight", "snapshot", "rollback", "verify"]
    assert (verdict["details"]["live_before"], verdict["details"]["target"]) == ("r3", "r2")


def test_role_prefixed_tag_still_takes_and_releases_the_lock(playbook, tmp_path):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    state = tmp_path / "state"
    run = playbook(
        PLAYBOOK,
        inventory=inventory({"web1": {}}),
        extravars={"app_root": str(root), "app_state_dir": str(state)},
        tags="app_rollback",
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert live_of(root) == "r2"
    journal = [json.loads(line) for line in (state / "journal.jsonl").read_text().splitlines()]
    steps = [(j["component"], j["action"]) for j in journal]
    assert steps[0] == ("lock", "acquire") and steps[-1] == ("lock", "release")
    assert ("app", "release") in steps
    assert verdicts(state)[0]["result"] == "not_verified"
    assert not (state / "rollback.lock").exists()


def test_refusing_a_bad_release_names_app_force(playbook, tmp_path):
    root = make_layout(tmp_path / "shop", ["r1", "r2", "r3"], live="r3")
    extravars = {"app_root": str(root), "app_state_dir": str(tmp_path / "state")}
    assert playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars).rc == 0
    run = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=dict(extravars, app_rollback_to="r3"))
    assert run.rc != 0 and live_of(root) == "r2"
    msg = run.result(FAIL_TASK, "web1")["msg"]
    assert "use app_force=true to switch anyway" in msg and "use force=true" not in msg


def test_health_from_the_controller_checks_the_batch_once_and_reverts_only_the_unhealthy_host(
    playbook, nginx_factory, tmp_path
):
    roots = {name: make_layout(tmp_path / name, ["r1", "r2", "r3"], live="r3") for name in ("web1", "web2")}
    server = serve(nginx_factory, roots["web1"])
    hosts = {n: {"app_root": str(root), "app_state_dir": str(tmp_path / ("s-" + n))} for n, root in roots.items()}
    hosts["web1"]["app_health_urls"] = ["http://127.0.0.1:%d/health" % server.http_port]
    # nothing listens on web2's health URL
    hosts["web2"]["app_health_urls"] = ["http://127.0.0.1:1/health"]
    run = playbook(
        PLAYBOOK,
        inventory=inventory(hosts),
        extravars={
            "app_health_from": "controller",
            "app_health_attempts": 2,
            "app_health_interval": 0.1,
            "rollback_best_effort": True,
        },
    )
    assert run.rc != 0 and run.failed_hosts() == {"web2"}
    assert live_of(roots["web1"]) == "r2" and live_of(roots["web2"]) == "r3"
    checks = [
        r
        for r in run.task_results("Check the app health of every host of the batch from the controller")
        if not r["res"].get("skipped")
    ]
    assert len(checks) == 1, "one module run for the batch"
    urls = hosts["web1"]["app_health_urls"] + hosts["web2"]["app_health_urls"]
    assert {u["url"] for u in checks[0]["res"]["urls"]} == set(urls)
    assert "127.0.0.1:1/health" in run.result(FAIL_TASK, "web2")["msg"]
    verdicts = [
        json.loads(line)
        for line in (tmp_path / "s-web1" / "journal.jsonl").read_text().splitlines()
        if json.loads(line)["action"] == "verify"
    ]
    assert [(v["result"], v["message"]) for v in verdicts] == [("ok", "health checked: " + urls[0])]


@pytest.mark.parametrize("restart_and_health", [False, True], ids=["switch", "restart-and-health"])
def test_one_module_run_journals_as_phase_by_phase(playbook, nginx_factory, tmp_path, restart_and_health):
    """The one module run (one host, no hook, config file or env key) and the phases one by one (any
    --skip-tags leaves the one run out) write the same journal and leave the same state, with a
    restart and a health check after it too."""
    runs = {}
    for label, skip_tags in (("one run", None), ("phases", "no_such_tag")):
        # no space in the path: nginx's root directive serves it in the health case
        root = make_layout(tmp_path / label.replace(" ", "-") / "shop", ["r1", "r2", "r3"], live="r3")
        state = tmp_path / label.replace(" ", "-") / "state"
        extravars = {"app_root": str(root), "app_state_dir": str(state), "rollback_run_id": "rb-same"}
        if restart_and_health:
            server = serve(nginx_factory, root)
            extravars.update(
                app_restart="command",
                app_restart_command=[sys.executable, "-c", "pass"],
                app_health_urls=["http://127.0.0.1:%d/health" % server.http_port],
                app_health_interval=0.1,
            )
        run = playbook(PLAYBOOK, inventory=inventory({"web1": {}}), extravars=extravars, skip_tags=skip_tags)
        assert run.rc == 0, run.stdout[-3000:]
        assert live_of(root) == "r2" and not (state / "rollback.lock").exists()
        journal = [json.loads(line) for line in (state / "journal.jsonl").read_text().splitlines()]
        runs[label] = (run, journal, json.loads((root / ".rollback" / "bad.json").read_text()))
    (one, one_journal, one_bad), (phases, phases_journal, phases_bad) = runs["one run"], runs["phases"]
    assert one.task_results(ONE_RUN) and not phases.task_results(ONE_RUN)

    def shape(journal):
        return [
            (
                e["component"],
                e["action"],
                e["result"],
                e["from"],
                e["to"],
                e["run_id"],
                # each run has its own health server
                re.sub(r":\d+/", ":port/", e["message"] or ""),
                sorted(e.get("details", {})),
            )
            for e in journal
        ]

    assert shape(one_journal) == shape(phases_journal)
    verdict = next(e for e in one_journal if e["action"] == "verify")
    assert verdict["result"] == ("ok" if restart_and_health else "not_verified")
    assert [e["action"] for e in one_journal] == (
        ["acquire", "release", "restart", "verify", "release"]
        if restart_and_health
        else ["acquire", "release", "verify", "release"]
    )
    assert [p["phase"] for p in verdict["details"]["phases"]] == ["preflight", "snapshot", "rollback", "verify"]
    assert one_bad.keys() == phases_bad.keys() == {"r3"}
