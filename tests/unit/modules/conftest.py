"""Run a module's main() in-process with patch_module_args and catch its exit."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


@pytest.fixture
def run_module(monkeypatch):
    """run_module(main, args, check_mode=False) -> ("exit"|"fail", result)."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)

    def run(main, args, check_mode=False):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        with patch_module_args(args):
            try:
                main()
            except AnsibleExitJson as done:
                return "exit", json.loads(json.dumps(done.args[0], default=str))
            except AnsibleFailJson as failed:
                return "fail", json.loads(json.dumps(failed.args[0], default=str))
        raise AssertionError("module returned without exit_json or fail_json")

    return run
