"""Target Python interpreters found on this machine (pyenv's, or pythonX.Y on PATH)."""

from __future__ import annotations

import glob
import os
import shutil

# The range tests/config.yml declares for modules and module_utils.
TARGET_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13")


def find_python(version):
    """Path of a python<version> interpreter, or None when this machine has none."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for path in sorted(glob.glob(os.path.join(root, "versions", version + ".*", "bin", "python")), reverse=True):
        if os.access(path, os.X_OK):
            return path
    return shutil.which("python" + version)
