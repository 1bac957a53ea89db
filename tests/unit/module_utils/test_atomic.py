from __future__ import annotations

import os
import stat
import threading

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic


def test_symlink_switch_never_leaves_the_link_missing(tmp_path):
    for name in ("r1", "r2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "id").write_text(name)
    link = tmp_path / "current"
    _atomic.switch_symlink(str(link), "r1")
    stop = threading.Event()
    errors, reads = [], []

    def reader():
        while not stop.is_set():
            try:
                reads.append((link / "id").read_text())
            except OSError as err:
                errors.append(err)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(1000):
            previous = _atomic.switch_symlink(str(link), "r2" if i % 2 == 0 else "r1")
            assert previous == ("r1" if i % 2 == 0 else "r2")
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert {"r1", "r2"} <= set(reads)
    assert os.readlink(link) == "r1"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_switch_refuses_a_real_directory(tmp_path):
    (tmp_path / "current").mkdir()
    with pytest.raises(_atomic.AtomicError):
        _atomic.switch_symlink(str(tmp_path / "current"), "r1")
    assert (tmp_path / "current").is_dir()


def test_write_file_keeps_mode_of_existing_file(tmp_path):
    dest = tmp_path / ".env"
    dest.write_text("A=1\n")
    os.chmod(dest, 0o600)
    _atomic.write_file(str(dest), b"A=2\n")
    assert dest.read_text() == "A=2\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_copy_file_with_source_attrs(tmp_path):
    src = tmp_path / "src"
    src.write_text("x")
    os.chmod(src, 0o640)
    dest = tmp_path / "dest"
    dest.write_text("old")
    os.chmod(dest, 0o644)
    _atomic.copy_file(str(src), str(dest), preserve_src_attrs=True)
    assert dest.read_text() == "x"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640


def test_exchange_swaps_directories(tmp_path):
    a, b = tmp_path / "live", tmp_path / "backup"
    a.mkdir()
    b.mkdir()
    (a / "v").write_text("new")
    (b / "v").write_text("old")
    _atomic.exchange(str(a), str(b))
    assert (a / "v").read_text() == "old"
    assert (b / "v").read_text() == "new"
