from __future__ import annotations

import socket

import pytest

from ansible_collections.emergency.rollback.plugins.modules import cache_info
from tests.harness.modules import run


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "args, expect",
    [
        ({"backend": "redis", "batch_size": 0}, "batch_size must be 1 or more"),
        ({"backend": "memcached", "timeout": 0}, "timeout more than 0"),
        ({"backend": "mongo"}, "value of backend must be one of"),
    ],
)
def test_bad_input_is_one_clear_line(args, expect):
    ok, res = run(cache_info, args)
    assert not ok and expect in res["msg"] and "\n" not in res["msg"]


@pytest.mark.parametrize("backend", ["redis", "memcached"])
def test_nothing_listening_fails_naming_the_target(backend):
    port = closed_port()
    ok, res = run(cache_info, {"backend": backend, "port": port, "timeout": 1})
    assert not ok and res["target"].endswith("127.0.0.1:%d" % port + ("/0" if backend == "redis" else ""))
    assert res["msg"].startswith("cache_info: cannot read ")
