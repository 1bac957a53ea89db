# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Atomic switches: a symlink re-pointed, a file replaced, two directories exchanged.

PRIVATE to this collection: the leading underscore means no API promise.

Every switch is a single rename(2), so a reader sees the old or the new state and
never a missing path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import tempfile
import uuid


class AtomicError(Exception):
    pass


def _sibling(path, tag):
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, ".%s.%s-%s" % (name, tag, uuid.uuid4().hex[:12]))


def read_link(path):
    """The symlink's target as written, or None if path is not a symlink."""
    return os.readlink(path) if os.path.islink(path) else None


def switch_symlink(link_path, target):
    """Point link_path at target via a temp link + rename. Returns the previous target or None.

    Owner of an existing link is kept. Refuses to replace something that is not a symlink.
    """
    if os.path.lexists(link_path) and not os.path.islink(link_path):
        raise AtomicError("%s exists and is not a symlink; refusing to replace it" % link_path)
    previous = read_link(link_path)
    tmp = _sibling(link_path, "tmp")
    os.symlink(target, tmp)
    try:
        if previous is not None:
            st = os.lstat(link_path)
            try:
                os.lchown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass
        os.replace(tmp, link_path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(link_path)))
    return previous


def _copy_attrs(reference, path):
    st = os.stat(reference)
    os.chmod(path, st.st_mode & 0o7777)
    try:
        os.chown(path, st.st_uid, st.st_gid)
    except PermissionError:
        pass


def replace_file(src, dest, module=None, mode=None):
    """Move src over dest atomically, keeping dest's owner and mode (or setting mode).

    With an AnsibleModule, its atomic_move is used (it also keeps SELinux context).
    """
    existed = os.path.exists(dest)
    if module is not None:
        module.atomic_move(src, dest, keep_dest_attrs=existed)
    else:
        if existed:
            _copy_attrs(dest, src)
        os.replace(src, dest)
        _fsync_dir(os.path.dirname(os.path.abspath(dest)))
    if mode is not None:
        os.chmod(dest, mode)


def write_file(dest, data, module=None, mode=None):
    """Write bytes to dest atomically via a temp file in the same directory."""
    directory = os.path.dirname(os.path.abspath(dest))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None and not os.path.exists(dest):
            os.chmod(tmp, mode)
        replace_file(tmp, dest, module=module, mode=mode)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def copy_file(src, dest, module=None, preserve_src_attrs=False):
    """Copy src over dest atomically. dest keeps its own owner/mode unless preserve_src_attrs."""
    directory = os.path.dirname(os.path.abspath(dest))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), dir=directory)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if preserve_src_attrs or not os.path.exists(dest):
            _copy_attrs(src, tmp)
            os.replace(tmp, dest)
            _fsync_dir(directory)
        else:
            replace_file(tmp, dest, module=module)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.lru_cache(maxsize=1)
def _renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return getattr(libc, "renameat2", None)


def exchange(path_a, path_b):
    """Swap two paths (files or directories) in one step with renameat2(RENAME_EXCHANGE).

    Falls back to three renames where the kernel or libc lacks it (a brief window
    in which path_a is missing). Returns True when the swap was atomic.
    """
    func = _renameat2()
    if func is not None:
        res = func(_AT_FDCWD, os.fsencode(path_a), _AT_FDCWD, os.fsencode(path_b), _RENAME_EXCHANGE)
        if res == 0:
            _fsync_dir(os.path.dirname(os.path.abspath(path_a)))
            return True
        err = ctypes.get_errno()
        if err not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: not supported here
            raise OSError(err, os.strerror(err), path_a)
    tmp = _sibling(path_a, "swap")
    os.rename(path_a, tmp)
    os.rename(path_b, path_a)
    os.rename(tmp, path_b)
    return False


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
