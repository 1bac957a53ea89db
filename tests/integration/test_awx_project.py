"""The repository as an AWX project: playbooks resolve from a plain checkout and from an installed collection."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ROLE_PLAYBOOKS = ["rollback_app", "rollback_cache", "rollback_database", "rollback_ssl", "rollback_webhooks"]


def clean_env(home):
    """No collections path from the Makefile or the user: only what the project itself sets up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["HOME"] = str(home)
    return env


def syntax_check(playbook, cwd, env):
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", playbook, "--syntax-check"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The files a clone of the working tree has (tracked and new, not ignored), symlinks kept."""
    dest = tmp_path_factory.mktemp("project") / "emergency-rollback"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        src = REPO / name
        if not (src.exists() or src.is_symlink()):
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def test_checkout_finds_its_own_collection(checkout, tmp_path):
    listed = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "list", "emergency.rollback"],
        cwd=checkout,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "# %s/collections/ansible_collections" % checkout in listed
    assert re.search(r"^emergency\.rollback\s+\d", listed, re.M)


@pytest.mark.parametrize("playbook", ROLE_PLAYBOOKS)
def test_playbook_resolves_from_a_checkout(checkout, tmp_path, playbook):
    code, output = syntax_check("playbooks/%s.yml" % playbook, checkout, clean_env(tmp_path))
    assert code == 0, output


def test_checkout_without_the_project_config_does_not_resolve(checkout, tmp_path):
    """The control case: the project ansible.cfg is what makes the FQCNs resolve."""
    bare = tmp_path / "bare"
    shutil.copytree(checkout, bare, symlinks=True)
    (bare / "ansible.cfg").unlink()
    code, output = syntax_check("playbooks/rollback_app.yml", bare, clean_env(tmp_path))
    assert code != 0
    assert "emergency.rollback" in output


def test_awx_lists_each_playbook_once(checkout):
    """AWX's project scan: *.yml with hosts:/import_playbook: outside roles, tasks and vars dirs, links not followed."""
    skip = {"roles", "tasks", "group_vars", "host_vars"}
    found = []
    for dirpath, dirnames, filenames in os.walk(checkout):
        dirnames[:] = [d for d in dirnames if d not in skip and not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.endswith(".yml") and re.search(r"^\s*-?\s*(hosts|import_playbook):", path.read_text(), re.M):
                found.append(str(path.relative_to(checkout)))
    for playbook in ROLE_PLAYBOOKS:
        assert found.count("playbooks/%s.yml" % playbook) == 1
    assert not [p for p in found if p.startswith("collections/")]


def test_fqcn_playbooks_resolve_from_the_installed_collection(tmp_path):
    env = dict(clean_env(tmp_path), ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"))
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    [tarball] = tmp_path.glob("emergency-rollback-*.tar.gz")
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", env["ANSIBLE_COLLECTIONS_PATH"]]
        + [str(tarball)],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    installed = tmp_path / "collections" / "ansible_collections" / "emergency" / "rollback"
    assert not (installed / "collections").exists() and not (installed / "ansible.cfg").exists()
    for playbook in ROLE_PLAYBOOKS:
        code, output = syntax_check("emergency.rollback.%s" % playbook, tmp_path, env)
        assert code == 0, output
