"""The execution environment definition: ansible-builder create works offline, and the collection's own
meta/execution-environment.yml gives ansible-builder's introspection the requirements it declares."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness.awx import EE_IMAGE, ee_built

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(args, cwd, env):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The EE definition next to a freshly built collection tarball, and its build context."""
    tmp = tmp_path_factory.mktemp("ee")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    # Offline: any attempt to reach a registry fails instead of hanging.
    env.update(HOME=str(tmp), ANSIBLE_COLLECTIONS_PATH=str(tmp / "none"), https_proxy="http://127.0.0.1:9", no_proxy="")
    run([BIN / "ansible-galaxy", "collection", "build", "--output-path", tmp, REPO], tmp, env)
    [tarball] = tmp.glob("emergency-rollback-*.tar.gz")
    (tmp / "build" / "ee-files" / "wheels").mkdir(parents=True)  # scripts/build-ee.sh fills it for a build
    shutil.copy(tarball, tmp / "build" / "ee-files" / "emergency-rollback.tar.gz")
    shutil.copy(REPO / "execution-environment.yml", tmp)
    run([BIN / "ansible-builder", "create", "-f", "execution-environment.yml", "-c", "ctx"], tmp, env)
    return tmp, env


def test_create_writes_a_context_for_the_debian_base(context):
    tmp, _env = context
    containerfile = (tmp / "ctx" / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="localhost/rollback-base:bookworm"' in containerfile
    assert 'ARG PKGMGR="/usr/bin/apt-get"' in containerfile
    assert "ensurepip" not in containerfile  # Debian disables it for the system Python
    assert "apt-get install -y -qq --no-install-recommends python3-pip" in containerfile
    assert "PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels" in containerfile  # wheels fetched on the host
    requirements = yaml.safe_load((tmp / "ctx" / "_build" / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": "collections/emergency-rollback.tar.gz", "type": "file"}]}
    assert (tmp / "ctx" / "_build" / "collections" / "emergency-rollback.tar.gz").is_file()


def test_introspection_finds_the_collection_requirements(context):
    """What the builder stage of the image runs on the installed collection, run here."""
    tmp, env = context
    collections = tmp / "collections"
    tarball = tmp / "ctx" / "_build" / "collections" / "emergency-rollback.tar.gz"
    run([BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", collections, tarball], tmp, env)
    script = tmp / "ctx" / "_build" / "scripts" / "introspect.py"
    found = yaml.safe_load(run([sys.executable, script, "introspect", collections], tmp, env).stdout)
    python = [line.split("#")[0].strip() for line in found["python"]]
    system = [line.split("#")[0].strip() for line in found["system"]]
    declared = [
        line.split("#")[0].strip()
        for line in (REPO / "meta" / "ee-requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert python == declared and "cryptography>=3.4" in python
    assert "openssh-client [platform:dpkg]" in system


@pytest.mark.skipif(not ee_built(), reason="no %s: make ee builds it (root, podman)" % EE_IMAGE)
def test_built_image_runs_the_collection():
    def inside(*args):
        command = ["podman", "run", "--rm", EE_IMAGE, *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    assert inside("ansible-playbook", "--version").startswith("ansible-playbook [core 2.19.")
    assert "emergency.rollback.release" in inside("ansible-doc", "emergency.rollback.release")
    assert inside("python3", "-c", "import cryptography, redis; print('ok')").strip() == "ok"
    assert inside("ansible-runner", "--version").strip()
