from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import (
    SnapshotCorrupt,
    SnapshotError,
    SnapshotExists,
    SnapshotNotFound,
    SnapshotStore,
    sha256_file,
)


def make(store, content, sid=None, now=None, tmp=None):
    src = tmp / ("src-%s" % (sid or now))
    src.write_text(content)
    with store.staging(sid, source=str(src), now=now) as stage:
        stage.add_file(str(src), "app.env")
    return stage.meta


def test_snapshot_metadata_and_listing(tmp_path):
    store = SnapshotStore.in_state_dir(str(tmp_path / "state"), "app")
    meta = make(store, "A=1\n", sid="s1", now=1000.0, tmp=tmp_path)
    assert meta["id"] == "s1" and meta["component"] == "app"
    assert meta["created"] == "1970-01-01T00:16:40.000Z"
    [item] = meta["files"]
    assert item["name"] == "app.env" and item["size"] == 4
    assert item["sha256"] == sha256_file(str(tmp_path / "src-s1"))
    on_disk = json.loads((tmp_path / "state/snapshots/app/s1/meta.json").read_text())
    assert on_disk == meta
    make(store, "A=2\n", sid="s2", now=2000.0, tmp=tmp_path)
    assert [m["id"] for m in store.list()] == ["s1", "s2"]
    assert store.get("latest")["id"] == "s2"
    assert store.get("previous")["id"] == "s1"
    assert store.get("s1")["id"] == "s1"


def test_failed_staging_leaves_nothing(tmp_path):
    store = SnapshotStore(str(tmp_path), "db")
    with pytest.raises(RuntimeError):
        with store.staging("broken") as stage:
            open(stage.file("dump"), "w").write("partial")
            raise RuntimeError("pg_dump died")
    assert store.list() == []
    assert os.listdir(store.dir) == []


def test_duplicate_and_bad_ids_are_refused(tmp_path):
    store = SnapshotStore(str(tmp_path), "app")
    make(store, "x", sid="same", tmp=tmp_path)
    with pytest.raises(SnapshotExists):
        make(store, "y", sid="same", tmp=tmp_path)
    for bad in ("latest", "../etc", "a/b", ""):
        with pytest.raises(SnapshotError):
            store.path(bad)


def test_not_found_names_what_exists(tmp_path):
    store = SnapshotStore(str(tmp_path), "app")
    with pytest.raises(SnapshotNotFound, match="no latest snapshot"):
        store.get("latest")
    make(store, "x", sid="only", tmp=tmp_path)
    with pytest.raises(SnapshotNotFound, match="latest: only"):
        store.get("nope")
    with pytest.raises(SnapshotNotFound, match="no previous snapshot"):
        store.get("previous")


def test_retention_keeps_newest_and_protected(tmp_path):
    store = SnapshotStore(str(tmp_path), "app")
    for i in range(6):
        make(store, str(i), sid="s%d" % i, now=1000.0 + i, tmp=tmp_path)
    assert store.plan_prune(3, protect={"s0"}) == ["s1", "s2", "s3"]
    assert store.prune(3, protect={"s0"}) == ["s1", "s2", "s3"]
    assert [m["id"] for m in store.list()] == ["s0", "s4", "s5"]
    assert store.prune(None) == [] and store.prune(0) == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_checksum_mismatch_is_detected(tmp_path, damage):
    store = SnapshotStore(str(tmp_path), "db")
    with store.staging("dump1") as stage:
        with open(stage.file("db.dump"), "wb") as handle:
            handle.write(bytes(range(256)) * 64)
    store.verify("dump1")
    path = tmp_path / "db/dump1/files/db.dump"
    if damage == "flip":
        data = bytearray(path.read_bytes())
        data[1000] ^= 0x01
        path.write_bytes(bytes(data))
        match = "checksum mismatch"
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
        match = "truncated"
    else:
        path.unlink()
        match = "missing"
    with pytest.raises(SnapshotCorrupt, match=match):
        store.verify("dump1")


def test_restore_file_puts_back_content_and_mode(tmp_path):
    live = tmp_path / ".env"
    live.write_text("SECRET=old\n")
    os.chmod(live, 0o600)
    store = SnapshotStore(str(tmp_path / "store"), "app")
    with store.staging("before") as stage:
        stage.add_file(str(live), ".env")
    live.write_text("SECRET=new\n")
    os.chmod(live, 0o644)
    store.restore_file("before", ".env", str(live))
    assert live.read_text() == "SECRET=old\n"
    assert stat.S_IMODE(live.stat().st_mode) == 0o600


def test_restore_refuses_a_corrupt_file_and_leaves_live_alone(tmp_path):
    live = tmp_path / "app.conf"
    live.write_text("good\n")
    store = SnapshotStore(str(tmp_path / "store"), "app")
    with store.staging("s") as stage:
        stage.add_file(str(live))
    (tmp_path / "store/app/s/files/app.conf").write_text("evil\n")
    live.write_text("current\n")
    with pytest.raises(SnapshotCorrupt):
        store.restore_file("s", "app.conf", str(live))
    assert live.read_text() == "current\n"


def test_tree_snapshot_with_symlink(tmp_path):
    src = tmp_path / "release"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("1")
    os.symlink("sub/f", src / "link")
    store = SnapshotStore(str(tmp_path / "store"), "app")
    with store.staging("t") as stage:
        stage.adopt(str(src))
    assert not src.exists()
    names = {f["name"]: f for f in store.get("t")["files"]}
    assert names["release/link"] == {"name": "release/link", "link": "sub/f"}
    assert "release/sub/f" in names
    store.verify("t")
