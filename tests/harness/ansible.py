"""Run real playbooks through ansible-runner against a localhost inventory in a temp dir."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rollbackctl.collection import collections_path

REPO = Path(__file__).resolve().parents[2]


def link_collection():
    """build/collections/ansible_collections/emergency/rollback -> the repo, so FQCNs resolve."""
    return collections_path(REPO / "build", REPO)


def ansible_env(tmp):
    """Environment for ansible-playbook: our collection, the venv first on PATH, no colour."""
    bin_dir = os.path.dirname(sys.executable)
    env = {
        "ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (link_collection(), os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")),
        "ANSIBLE_LOCAL_TEMP": str(Path(tmp) / ".ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(Path(tmp) / ".ansible-remote"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "PATH": "%s:%s" % (bin_dir, os.environ.get("PATH", "")),
    }
    return env


@dataclass
class PlaybookRun:
    rc: int
    status: str
    events: list
    stdout: str
    artifact_dir: Path
    results: dict = field(default_factory=dict)

    def task_results(self, name):
        """Every result (one per host) of the task with this name, in event order."""
        return self.results.get(name, [])

    def result(self, name, host="localhost"):
        for res in self.task_results(name):
            if res["host"] == host:
                return res["res"]
        raise KeyError("no result for task %r on %s; tasks seen: %s" % (name, host, list(self.results)))

    def artifacts_text(self):
        """All of the run's artifacts as one string (for secret-leak greps)."""
        parts = []
        for path in sorted(self.artifact_dir.rglob("*")):
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def failed_hosts(self):
        return {
            ev["event_data"]["host"]
            for ev in self.events
            if ev.get("event") in ("runner_on_failed", "runner_on_unreachable")
            and not ev["event_data"].get("ignore_errors")
        }


RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


def run_playbook(
    tmp,
    playbook,
    extravars=None,
    inventory=None,
    limit=None,
    check=False,
    diff=False,
    envvars=None,
    verbosity=0,
    roles_path=None,
    tags=None,
    skip_tags=None,
):
    """Run a playbook (a path, or a list of plays) and collect per-task results."""
    import ansible_runner

    tmp = Path(tmp)
    private = tmp / ("runner-%d" % len(list(tmp.glob("runner-*"))))
    (private / "project").mkdir(parents=True)
    if isinstance(playbook, (list, dict)):
        path = private / "project" / "play.yml"
        path.write_text(yaml.safe_dump(playbook if isinstance(playbook, list) else [playbook], sort_keys=False))
        playbook = str(path)
    if inventory is None:
        inventory = {
            "all": {
                "hosts": {
                    "localhost": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                    }
                }
            }
        }
    inv_path = private / "inventory.yml"
    if isinstance(inventory, dict):
        inv_path.write_text(yaml.safe_dump(inventory))
        inventory = str(inv_path)
    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    if tags:
        cmdline.append("--tags=%s" % tags)
    if skip_tags:
        cmdline.append("--skip-tags=%s" % skip_tags)
    env = ansible_env(tmp)
    env.update(envvars or {})
    if roles_path:
        env["ANSIBLE_ROLES_PATH"] = str(roles_path)
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=playbook,
        inventory=inventory,
        extravars=extravars or {},
        limit=limit,
        cmdline=" ".join(cmdline) or None,
        envvars=env,
        quiet=True,
        verbosity=verbosity or None,
        settings={"suppress_ansible_output": False},
    )
    events = list(runner.events)
    results = {}
    for ev in events:
        if ev.get("event") in RESULT_EVENTS:
            data = ev["event_data"]
            results.setdefault(data.get("task"), []).append(
                {"host": data.get("host"), "event": ev["event"], "res": data.get("res", {})}
            )
    stdout = runner.stdout.read() if runner.stdout else ""
    return PlaybookRun(
        rc=runner.rc,
        status=runner.status,
        events=events,
        stdout=stdout,
        artifact_dir=Path(runner.config.artifact_dir),
        results=results,
    )


FOUR_RUNS = (("1 check", True), ("2 real", False), ("3 check again", True), ("4 real again", False))


def four_runs(
    tmp, module, args, expect=(True, True, False, False), extravars=None, pre_tasks=None, diff=True, **task_extra
):
    """Run one task four times in one play: check, real, check again, real again.

    Asserts the changed flags are `expect` (by default true, true, false, false) and that
    none failed; returns the four results in order.
    """
    tasks = list(pre_tasks or [])
    for name, check in FOUR_RUNS:
        task = {"name": name, module: args, "check_mode": check, "diff": diff}
        task.update(task_extra)
        tasks.append(task)
    play = {"hosts": "all", "gather_facts": False, "tasks": tasks}
    run = run_playbook(tmp, [play], extravars=extravars)
    results = []
    for name, _check in FOUR_RUNS:
        res = run.task_results(name)
        assert res, "task %r did not run (rc=%s):\n%s" % (name, run.rc, run.stdout[-4000:])
        assert res[0]["event"] == "runner_on_ok", "task %r failed: %s" % (
            name,
            json.dumps(res[0]["res"], default=str)[:2000],
        )
        results.append(res[0]["res"])
    changed = tuple(bool(r.get("changed")) for r in results)
    assert changed == tuple(expect), "changed flags %s, expected %s" % (changed, tuple(expect))
    return results


def run_task(tmp, module, args, check=False, diff=False, extravars=None, **task_extra):
    """Run a single task once; returns (event, result). The play does not stop the test on failure."""
    task = {"name": "the task", module: args, "check_mode": check, "diff": diff, "ignore_errors": True}
    task.update(task_extra)
    play = {"hosts": "all", "gather_facts": False, "tasks": [task]}
    run = run_playbook(tmp, [play], extravars=extravars)
    res = run.task_results("the task")
    assert res, "task did not run (rc=%s):\n%s" % (run.rc, run.stdout[-4000:])
    return res[0]["event"], res[0]["res"], run
