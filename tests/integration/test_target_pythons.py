"""Modules run through Ansible with each target Python (3.9 - 3.13) as the host's interpreter.

The pyenv interpreters carry no third-party packages, like a minimal target: the modules
that need psycopg, redis or cryptography must fail with one line naming the package.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.harness.pythons import TARGET_VERSIONS, find_python

pytestmark = pytest.mark.integration


def interpreter(version):
    python = find_python(version)
    if python is None:
        pytest.skip("no python%s on this machine (pyenv install %s)" % (version, version))
    return python


@pytest.mark.parametrize("version", TARGET_VERSIONS)
def test_stdlib_modules_run_on_target_python(version, playbook, state_dir, tmp_path):
    python = interpreter(version)
    env = tmp_path / "app.env"
    env.write_text("DB_HOST=db1\n")
    common = {"state_dir": str(state_dir), "run_id": "rb-py"}
    tasks = [
        {"name": "lock", "emergency.rollback.lock": dict(common, pid=os.getpid())},
        # A second holder is refused with the first one's start time (the lock's UTC formatting).
        {
            "name": "lock again",
            "emergency.rollback.lock": dict(common, run_id="rb-other", pid=os.getpid()),
            "ignore_errors": True,
        },
        {"name": "snapshot", "emergency.rollback.config_snapshot": dict(common, paths=[str(env)])},
        {
            "name": "record",
            "emergency.rollback.journal_record": dict(common, component="app", action="restart", result="changed"),
        },
        {"name": "unlock", "emergency.rollback.lock": dict(common, state="absent")},
        {"name": "facts", "ansible.builtin.setup": {"gather_subset": ["!all", "!min", "python"]}},
    ]
    run = playbook(
        [{"hosts": "all", "gather_facts": False, "tasks": tasks}], extravars={"ansible_python_interpreter": python}
    )
    facts = run.result("facts")["ansible_facts"]["ansible_python"]["version"]
    assert "%(major)s.%(minor)s" % facts == version
    for name in ("lock", "snapshot", "record", "unlock"):
        res = run.result(name)
        assert not res.get("failed"), "%s on python%s: %s" % (name, version, json.dumps(res)[:1500])
        assert res["changed"] is True
    assert run.task_results("lock again")[0]["event"] == "runner_on_failed"
    refused = run.result("lock again")
    assert "run_id=rb-py" in refused["msg"] and "Traceback" not in refused["msg"]
    assert run.result("snapshot")["snapshot"]["id"]
    journal = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(j["component"], j["action"]) for j in journal] == [
        ("lock", "acquire"),
        ("config", "snapshot"),
        ("app", "restart"),
        ("lock", "release"),
    ]
    assert all(j["ts"].endswith("Z") for j in journal)


@pytest.mark.parametrize(
    ("module", "args", "package"),
    [
        ("emergency.rollback.pg_snapshot", {"database": "shop"}, "psycopg"),
        ("emergency.rollback.cache_flush", {"backend": "redis", "flushdb": True}, "redis"),
        ("emergency.rollback.tls_probe", {"host": "127.0.0.1", "port": 9}, "cryptography"),
    ],
)
def test_missing_library_is_one_line_naming_the_package(module, args, package, task, state_dir):
    python = interpreter("3.9")
    event, res, _ = task(module, args, extravars={"ansible_python_interpreter": python})
    assert event == "runner_on_failed"
    assert "required Python library (%s" % package in res["msg"], res["msg"]
    assert "\n" not in res["msg"] and "Traceback" not in res["msg"]
    assert res.get("changed") is False
    assert not (state_dir / "journal.jsonl").exists()
