"""Run a module's main() in-process (ansible-core >= 2.19 patch_module_args) and catch how it exits."""

from __future__ import annotations

from ansible.module_utils.testing import patch_module_args


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


def run(module, args, check_mode=False):
    """(succeeded, result) of module.main() with args; module is a module object or its main."""
    main = getattr(module, "main", module)
    args = dict(args, _ansible_check_mode=True) if check_mode else dict(args)
    with patch_module_args(args):
        try:
            main()
        except AnsibleExitJson as done:
            return True, done.args[0]
        except AnsibleFailJson as failed:
            return False, failed.args[0]
    raise AssertionError("module returned without exit_json or fail_json")
