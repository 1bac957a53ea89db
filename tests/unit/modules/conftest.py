"""Whole-module unit tests: exit_json / fail_json raise, so a test sees how main() ended."""

from __future__ import annotations

import pytest
from ansible.module_utils import basic

from tests.harness import modules


@pytest.fixture(autouse=True)
def _catch_module_exits(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", modules.exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", modules.fail_json)
