from __future__ import annotations

import socket

from ansible_collections.emergency.rollback.plugins.modules import pg_info
from tests.harness.modules import run


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_db_is_required():
    ok, res = run(pg_info, {})
    assert not ok and "missing required arguments: database" in res["msg"]


def test_nothing_listening_is_one_clear_line(tmp_path):
    ok, res = run(pg_info, {"database": "shop", "login_port": closed_port(), "state_dir": str(tmp_path)})
    assert not ok and res["msg"].startswith("pg_info: ") and "\n" not in res["msg"]
    assert not any(tmp_path.iterdir()), "nothing written"
