"""maintenance and traffic_weights in-process: rendering, parsing, the nginx -t gate and its revert.

`true` and `false` stand for nginx's test and reload commands; the real nginx runs in
tests/integration/test_traffic_modules.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _nginx
from ansible_collections.emergency.rollback.plugins.modules import maintenance, traffic_weights
from tests.harness import modules

POOLS = {"blue": ["10.0.0.1:8080", "10.0.0.2:8080"], "green": ["[::1]:8080", "unix:/run/app.sock"]}


def weights_args(tmp_path, weights, **extra):
    args = {
        "path": str(tmp_path / "upstream.conf"),
        "upstream": "shop",
        "pools": POOLS,
        "weights": weights,
        "test_command": ["true"],
        "reload_command": ["true"],
        "state_dir": str(tmp_path / "state"),
    }
    args.update(extra)
    return args


def test_render_then_parse_gives_the_weights_back():
    text = traffic_weights.render("shop", POOLS, {"blue": 75, "green": 0}, ["keepalive 16"])
    assert "    server [::1]:8080 down;\n" in text and "    server 10.0.0.2:8080 weight=75;\n" in text
    assert text.rstrip().endswith("keepalive 16;\n}".rstrip())
    assert traffic_weights.pool_weights(POOLS, traffic_weights.parse_weights(text)) == {"blue": 75, "green": 0}


def test_parse_reads_hand_written_upstreams():
    text = (
        "upstream a {\n  server 10.0.0.1:8080;\n  server 10.0.0.2:8080 max_fails=3 weight=5;\n  server x:1 down;\n}\n"
    )
    assert traffic_weights.parse_weights(text) == {"10.0.0.1:8080": 1, "10.0.0.2:8080": 5, "x:1": 0}
    assert traffic_weights.pool_weights({"p": ["10.0.0.9:1"]}, traffic_weights.parse_weights(text)) == {"p": None}


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("10.0.0.1:8080", True),
        ("[::1]:80", True),
        ("unix:/run/a.sock", True),
        ("app", True),
        ("a b:80", False),
        ("a;b", False),
        ("", False),
    ],
)
def test_check_address(address, ok):
    assert _nginx.check_address(address) is ok


def test_weights_check_real_again_then_revert_when_test_fails(tmp_path):
    args = weights_args(tmp_path, {"blue": 1, "green": 0})
    ok, check = modules.run(traffic_weights, args, check_mode=True)
    assert ok and check["changed"] and check["previous_weights"] is None and not (tmp_path / "upstream.conf").exists()
    ok, real = modules.run(traffic_weights, args)
    assert ok and real["changed"] and real["reloaded"] and real["snapshot"] is None  # nothing was replaced
    ok, again = modules.run(traffic_weights, args)
    assert ok and not again["changed"] and again["previous_weights"] == {"blue": 1, "green": 0}
    live = (tmp_path / "upstream.conf").read_text()

    # nginx -t passes on the live conf, fails on the new one: the file is put back
    marker = tmp_path / "tested-once"
    flaky = ["sh", "-c", "test -e %s && echo 'emerg: bad' >&2 && exit 1; touch %s" % (marker, marker)]
    ok, res = modules.run(traffic_weights, weights_args(tmp_path, {"blue": 0, "green": 1}, test_command=flaky))
    assert not ok and "the previous file was put back" in res["msg"] and "emerg: bad" in res["msg"]
    assert (tmp_path / "upstream.conf").read_text() == live

    # a failing reload puts the file back too
    ok, res = modules.run(traffic_weights, weights_args(tmp_path, {"blue": 0, "green": 1}, reload_command=["false"]))
    assert not ok and res["msg"].startswith("reloading nginx failed")
    assert (tmp_path / "upstream.conf").read_text() == live


def test_maintenance_page_renders_exceptions_and_escapes_the_body(tmp_path):
    text = maintenance.render_on(30, "it's down \\ sorry", "text/plain", ["/healthz"], ["::1"])
    assert "if ($uri = '/healthz') { set $emergency_rollback_maintenance 0; }" in text
    assert "if ($remote_addr = '::1') { set $emergency_rollback_maintenance 0; }" in text
    assert "add_header Retry-After 30 always;" in text
    assert "return 503 'it\\'s down \\\\ sorry';" in text
    assert maintenance.is_on(text) is True and maintenance.is_on(maintenance.OFF) is False
    assert maintenance.is_on(None) is None


def test_maintenance_off_creates_the_include_file_then_is_unchanged(tmp_path):
    args = {
        "path": str(tmp_path / "m.conf"),
        "state": "disabled",
        "test_command": ["true"],
        "reload_command": ["true"],
        "state_dir": str(tmp_path / "state"),
    }
    ok, first = modules.run(maintenance, args)
    assert ok and first["changed"] and first["enabled_before"] is None and first["enabled"] is False
    ok, second = modules.run(maintenance, args)
    assert ok and not second["changed"] and second["enabled_before"] is False


def test_maintenance_off_goes_ahead_on_a_full_state_dir_on_is_refused(tmp_path, full_disk):
    """Turning the page off restores service: with no room for its safety snapshot or journal line it
    still turns the page off (the undo of off is on, rendered from the options alone) and returns the
    journal line it could not write; turning it on without a snapshot is refused before any change."""
    conf = tmp_path / "m.conf"
    args = {"path": str(conf), "test_command": ["true"], "reload_command": ["true"], "state_dir": str(full_disk.path)}
    # set up without a journal: an append into the free tail of an existing file would still fit
    assert modules.run(maintenance, dict(args, state="disabled", journal=False))[0]
    ok, on = modules.run(maintenance, dict(args, journal=False))
    assert ok and on["changed"] and on["snapshot"] and "journal_error" not in on
    full_disk.fill()

    ok, check = modules.run(maintenance, dict(args, state="disabled"), check_mode=True)
    assert ok and check["changed"] and check["enabled"] is False and maintenance.is_on(conf.read_text())
    ok, off = modules.run(maintenance, dict(args, state="disabled"))
    assert ok, off["msg"]
    assert off["changed"] and off["enabled"] is False and off["snapshot"] is None
    assert off["journal_error"] == "No space left on device"
    assert conf.read_text() == maintenance.OFF
    ok, again = modules.run(maintenance, dict(args, state="disabled"))
    assert ok and not again["changed"]

    ok, refused = modules.run(maintenance, args)
    assert not ok and refused["msg"].endswith("nothing was changed") and "No space left on device" in refused["msg"]
    assert conf.read_text() == maintenance.OFF


def test_weights_put_back_on_a_full_state_dir_a_new_step_is_refused(tmp_path, full_disk):
    """Chaos seed 2712, runs 8 and 11: the state dir ran full in the middle of a gradual restore; the
    next step was refused (right: its undo needs the snapshot) and putting the weights live before
    the restore back was refused too, leaving the upstream at the half-way weights. undo=true
    (what the role's revert passes) goes ahead without the snapshot and says so."""
    args = weights_args(tmp_path, {"blue": 100, "green": 100}, state_dir=str(full_disk.path), journal=False)
    conf = args["path"]
    assert modules.run(traffic_weights, args)[0]
    ok, half = modules.run(traffic_weights, dict(args, weights={"blue": 50, "green": 100}))
    assert ok and half["changed"] and half["snapshot"]
    full_disk.fill()
    ok, step = modules.run(traffic_weights, dict(args, weights={"blue": 100, "green": 50}, journal=True))
    assert not ok and "No space left on device" in step["msg"] and step["msg"].endswith("nothing was changed")
    ok, back = modules.run(traffic_weights, dict(args, weights=half["previous_weights"], journal=True, undo=True))
    assert ok, back["msg"]
    assert back["changed"] and back["snapshot"] is None and back["journal_error"] == "No space left on device"
    assert traffic_weights.pool_weights(POOLS, traffic_weights.parse_weights(open(conf).read())) == {
        "blue": 100,
        "green": 100,
    }


def test_missing_directory_is_refused(tmp_path):
    ok, res = modules.run(
        traffic_weights, weights_args(tmp_path, {"blue": 1, "green": 1}, path=str(tmp_path / "no/u.conf"))
    )
    assert not ok and res["msg"] == "directory of %s does not exist; nothing was changed" % (tmp_path / "no/u.conf")


def test_safety_snapshots_are_kept_per_file_up_to_keep(tmp_path):
    """A gradual restore takes one snapshot per step: the oldest of that file go beyond keep, nothing else."""
    store = tmp_path / "state" / "snapshots" / "traffic"
    on = {"path": str(tmp_path / "m.conf"), "test_command": ["true"], "reload_command": ["true"]}
    ok, page = modules.run(maintenance, dict(on, state="disabled", state_dir=str(tmp_path / "state")))
    ok, page = modules.run(maintenance, dict(on, state="enabled", state_dir=str(tmp_path / "state")))
    assert ok and page["snapshot"] and page["pruned"] == []
    taken = []
    for step in (25, 50, 75, 100, 25, 50):
        ok, res = modules.run(traffic_weights, weights_args(tmp_path, {"blue": step, "green": 100 - step}, keep=3))
        assert ok and res["changed"], res
        if res["snapshot"]:
            taken.append(res["snapshot"]["id"])
    assert len(taken) == 5 and res["pruned"] == [taken[1]]
    upstream = sorted(p.name for p in store.iterdir() if p.name != page["snapshot"]["id"])
    assert upstream == sorted(taken[2:])
    # the maintenance include's snapshot is another file's: not counted, not removed
    assert (store / page["snapshot"]["id"]).is_dir()

    # check mode says what the next change would remove and removes nothing
    args = weights_args(tmp_path, {"blue": 0, "green": 100}, keep=3)
    ok, plan = modules.run(traffic_weights, args, check_mode=True)
    assert ok and plan["changed"] and plan["pruned"] == [taken[2]] and (store / taken[2]).is_dir()
    # keep 0 keeps all
    ok, res = modules.run(traffic_weights, dict(args, keep=0))
    assert ok and res["pruned"] == [] and len(list(store.iterdir())) == 5


def test_negative_keep_is_refused(tmp_path):
    ok, res = modules.run(traffic_weights, weights_args(tmp_path, {"blue": 1, "green": 1}, keep=-1))
    assert not ok and res["msg"] == "keep must be 0 (keep all) or more; nothing was changed"
    assert not (tmp_path / "upstream.conf").exists()
