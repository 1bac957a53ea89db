"""Fill a filesystem to its last byte (a full state dir for the tests and the chaos suite)."""

from __future__ import annotations

import os


def fill(path):
    """Append zeros to the file at path until the filesystem refuses even one byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)
