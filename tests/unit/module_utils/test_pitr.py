"""Plain helpers of _pitr: LSNs, times, locating a target in a WAL scan, picking the backup."""

from __future__ import annotations

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _pitr


@pytest.mark.parametrize(
    ("text", "value"),
    [("0/3000060", 0x3000060), ("1/0", 1 << 32), ("A/FF", (10 << 32) | 0xFF)],
)
def test_lsn_round_trip(text, value):
    assert _pitr.parse_lsn(text) == value and _pitr.format_lsn(value) == text


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-26 18:50:01.5+00",
        "2026-11-26 18:50:01.5+00:00",
        "2026-11-26T18:50:01.5Z",
        "2026-11-26 18:50:01.500000 UTC",
        "2026-11-26 19:50:01.5+01",
    ],
)
def test_times_in_every_spelling_are_one_instant(text):
    assert _pitr.parse_time(text) == pytest.approx(1795719001.5)


def test_bad_time_is_refused():
    with pytest.raises(ValueError, match="not a timestamp"):
        _pitr.parse_time("yesterday")


def scan():
    s = _pitr.WalScan()
    s.restore_points = [("before-deploy-1", 100), ("before-deploy-1", 500)]
    s.commits = [(740, 90, 1000.0), (741, 200, 1001.0), (742, 300, 1002.0)]
    s.end_lsn = 600
    return s


@pytest.mark.parametrize(
    ("kind", "target", "lsn", "reason"),
    [
        ("name", "before-deploy-1", 100, None),  # the first point of that name, as PostgreSQL stops there
        ("name", "nope", None, "restore point nope is not in the WAL archive"),
        ("lsn", "0/258", 600, None),
        ("lsn", "0/259", None, "LSN 0/259 is beyond the WAL archive (it ends at 0/258)"),
        ("xid", "741", 200, None),
        ("xid", "999", None, "transaction 999 did not commit in the WAL archive"),
        ("time", "1970-01-01 00:16:40.5+00", 200, None),  # the first commit after 1000.5
        ("time", "1970-01-01 00:16:42+00", None, "is beyond the WAL archive"),
    ],
)
def test_locate_target(kind, target, lsn, reason):
    found, _ts, why = _pitr.locate_target(scan(), kind, target)
    assert found == lsn
    assert (why is None) if reason is None else (reason in why)


def test_commits_after_a_point():
    lost = _pitr.commits_after(scan(), 150)
    assert lost["transactions"] == 2 and lost["first"].startswith("1970-01-01T00:16:41")


def test_pick_backup_newest_that_ended_before_the_target():
    info = {
        "backup": [
            {"label": "F1", "lsn": {"stop": "0/64"}, "timestamp": {"stop": 1000}},
            {"label": "F2", "lsn": {"stop": "0/1F4"}, "timestamp": {"stop": 2000}},
        ]
    }
    assert _pitr.pick_backup(info, 0x100, None)["label"] == "F1"
    assert _pitr.pick_backup(info, 0x1F4, None)["label"] == "F2"
    assert _pitr.pick_backup(info, None, 1500)["label"] == "F1"
    assert _pitr.pick_backup(info, 0x10, None) is None and _pitr.pick_backup(info, None, 999) is None


def test_side_options_override_port_socket_and_archiving():
    opts = _pitr.side_options(["-p", "5432", "-c", "archive_mode=on"], 6543, "/tmp/s")
    assert opts[-6:] == ["-p", "6543", "-k", "/tmp/s", "-c", "archive_mode=off"]


def test_segment_files_prefer_the_newest_timeline(tmp_path):
    adir = tmp_path / "15-1" / "0000000100000000"
    adir.mkdir(parents=True)
    (adir / ("000000010000000000000003-" + "a" * 40 + ".gz")).write_bytes(b"")
    (adir / ("000000020000000000000003-" + "b" * 40)).write_bytes(b"")
    (adir / ("000000030000000000000004-" + "c" * 40)).write_bytes(b"")
    found = _pitr.segment_files(str(tmp_path / "15-1"), 2)
    assert sorted(found) == [(0, 3)] and found[(0, 3)][0] == 2
