"""The AWX execution environment image `make ee` builds, for tests that run inside it."""

from __future__ import annotations

import shutil
import subprocess

EE_IMAGE = "localhost/rollback-ee:latest"


def ee_built():
    if not shutil.which("podman"):
        return False
    return subprocess.run(["podman", "image", "exists", EE_IMAGE], capture_output=True, check=False).returncode == 0
