"""Every module and module_utils file compiles and imports under each target Python (3.9 - 3.13)."""

from __future__ import annotations

import os
import subprocess

import ansible
import pytest

from tests.harness.ansible import REPO, link_collection
from tests.harness.pythons import TARGET_VERSIONS, find_python


@pytest.mark.parametrize("version", TARGET_VERSIONS)
def test_modules_compile_and_import(version, tmp_path):
    python = find_python(version)
    if python is None:
        pytest.skip("no python%s here (pyenv install %s; README 'Supported targets')" % (version, version))
    # Only ansible.module_utils is imported, as on a target; the package dir is linked alone
    # so the controller venv's other packages (psycopg, redis, cryptography) stay out of reach.
    (tmp_path / "ansible").symlink_to(os.path.dirname(ansible.__file__))
    proc = subprocess.run(
        [python, "-B", "-I", str(REPO / "scripts" / "target_smoke.py"), str(link_collection()), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, "python%s:\n%s%s" % (version, proc.stdout, proc.stderr)


def test_smoke_reports_a_failing_import(tmp_path):
    """The smoke script itself can fail: a module_utils file that cannot import is named."""
    root = tmp_path / "ansible_collections" / "emergency" / "rollback" / "plugins"
    for kind in ("module_utils", "modules"):
        (root / kind).mkdir(parents=True)
    (root / "module_utils" / "_broken.py").write_text("import datetime\nUTC = datetime.UTC\n")
    (tmp_path / "ansible").symlink_to(os.path.dirname(ansible.__file__))
    python = find_python("3.9") or find_python("3.10")
    if python is None:
        pytest.skip("needs a Python older than 3.11 (datetime.UTC is 3.11+)")
    proc = subprocess.run(
        [python, "-B", "-I", str(REPO / "scripts" / "target_smoke.py"), str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and "module_utils/_broken.py: AttributeError" in proc.stdout, proc.stdout
