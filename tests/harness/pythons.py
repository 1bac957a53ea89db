"""Target Python interpreters found on this machine (pyenv's, or pythonX.Y on PATH)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

# The range tests/config.yml declares for modules and module_utils.
TARGET_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13")


def find_python(version):
    """Path of a python<version> interpreter, or None when this machine has none."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for path in sorted(glob.glob(os.path.join(root, "versions", version + ".*", "bin", "python")), reverse=True):
        if os.access(path, os.X_OK):
            return path
    return shutil.which("python" + version)


def target_venv(version, packages, name):
    """A throwaway target interpreter: python<version> in a venv with only `packages`.

    Kept under build/target-venvs/<name> between runs (made once, a few seconds of pip).
    Returns the venv's python, or None when the interpreter or the packages are not available.
    """
    from tests.harness.ansible import REPO

    python = find_python(version)
    if python is None:
        return None
    venv = REPO / "build" / "target-venvs" / name
    marker = venv / ".packages"
    wanted = " ".join(packages)
    if marker.exists() and marker.read_text() == wanted:
        return str(venv / "bin" / "python")
    shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *packages],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        shutil.rmtree(venv, ignore_errors=True)
        return None
    marker.write_text(wanted)
    return str(venv / "bin" / "python")
