"""rollbackctl run --container-image: the playbook runs inside the execution environment image."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.harness.awx import EE_IMAGE, ee_built
from tests.integration.test_rollbackctl import ctl, service  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


def ee_inventory(tmp_path, root, health_url):
    """One local host of the `web` group; inside the EE it is the container itself, with the
    sandbox mounted at the same path, so the image's own Python runs the modules."""
    inventory = tmp_path / "inventory" / "hosts.yml"
    (tmp_path / "inventory" / "group_vars").mkdir(parents=True)
    inventory.write_text(
        "all:\n  children:\n    web:\n      hosts:\n        h1:\n          app_root: %s\n        h2:\n"
        "          app_root: %s\n" % (json.dumps(str(root / "h1")), json.dumps(str(root / "h2")))
    )
    # group_vars next to an inventory file go into the container with it
    (tmp_path / "inventory" / "group_vars" / "all.yml").write_text(
        "ansible_connection: local\nansible_python_interpreter: /usr/bin/python3\n"
        "rollback_state_dir: %s\napp_health_urls: [%s]\n" % (json.dumps(str(tmp_path / "state")), health_url)
    )
    return inventory


@pytest.mark.skipif(not ee_built(), reason="no %s: make ee builds it (root, podman)" % EE_IMAGE)
def test_run_app_inside_the_ee(service, tmp_path):  # noqa: F811 - fixture
    from tests.harness.app import live_of, make_layout

    for name in ("h1", "h2"):
        make_layout(tmp_path / "apps" / name, ["r1", "r2", "r3"], live="r3")
    inventory = ee_inventory(tmp_path, tmp_path / "apps", "%s/health" % service)
    (tmp_path / "state").mkdir()
    in_ee = ["--container-image", EE_IMAGE]
    for path in (tmp_path / "apps", tmp_path / "state"):
        in_ee += ["--container-volume", "%s:%s:Z" % (path, path)]
    run_id = "rb-ee-%s" % uuid.uuid4().hex[:8]  # ansible-runner names the container after it: unique per machine
    out = ctl(tmp_path, "run", "app", "-i", str(inventory), "--limit", "h1", "--run-id", run_id, *in_ee)
    assert out.returncode == 0, out.stdout + out.stderr
    assert live_of(tmp_path / "apps" / "h1") == "r2" and live_of(tmp_path / "apps" / "h2") == "r3"
    assert "h1 => verified" in out.stdout and "all hosts verified" in out.stdout
    assert "in %s" % EE_IMAGE in out.stdout
    artifacts = tmp_path / "ctl" / "runs" / run_id / "artifacts" / run_id
    command = json.loads((artifacts / "command").read_text())["command"]
    assert command[0] == "podman" and EE_IMAGE in command and "ansible-playbook" in command
    journal = [json.loads(line) for line in (tmp_path / "state" / "journal.jsonl").read_text().splitlines()]
    assert any(e.get("run_id") == run_id and e.get("to") == "r2" for e in journal)

    status = ctl(tmp_path, "status", "-i", str(inventory), "--limit", "h1", "--json", *in_ee)
    assert status.returncode == 0, status.stdout + status.stderr
    releases = json.loads(status.stdout)["h1"]["releases"]
    assert [r["id"] for r in releases if r.get("live")] == ["r2"]


@pytest.mark.skipif(not ee_built(), reason="no %s: make ee builds it (root, podman)" % EE_IMAGE)
@pytest.mark.parametrize("command", [["run", "app"], ["status"]])
def test_container_that_does_not_start_says_why(tmp_path, command):
    """podman refuses to start (a volume that does not exist): its error, not "no host matched"."""
    inventory = tmp_path / "hosts"
    inventory.write_text("h1 ansible_connection=local\n")
    missing = tmp_path / "missing"
    in_ee = ["--container-image", EE_IMAGE, "--container-volume", "%s:/mnt" % missing]
    out = ctl(tmp_path, *command, "-i", str(inventory), *in_ee)
    assert out.returncode == 1, out.stdout + out.stderr
    [line] = [line for line in (out.stdout + out.stderr).splitlines() if "did not run" in line]
    assert line.startswith("rollbackctl: podman did not run the playbook in %s (exit " % EE_IMAGE)
    assert str(missing) in line and "no host matched" not in out.stdout + out.stderr


def test_missing_image_is_one_line_exit_2(tmp_path):
    inventory = tmp_path / "hosts"
    inventory.write_text("h1 ansible_connection=local\n")
    out = ctl(
        tmp_path, "run", "app", "-i", str(inventory), "--container-image", "localhost/no-such-ee:0", "--run-id", "x"
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "rollbackctl: container image localhost/no-such-ee:0 is not available to podman: "
        "build or pull it first (podman pull localhost/no-such-ee:0)"
    ]
    assert not (tmp_path / "ctl" / "runs" / "x").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--container-volume", "/srv:/srv"], "--container-volume and --process-isolation-executable need"),
        (["--container-image", EE_IMAGE, "--process-isolation-executable", "no-such-engine"], "not found on PATH"),
    ],
)
def test_container_option_errors(tmp_path, args, message):
    inventory = tmp_path / "hosts"
    inventory.write_text("h1 ansible_connection=local\n")
    out = ctl(tmp_path, "run", "app", "-i", str(inventory), *args)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and message in out.stderr


def test_help_names_the_container_options():
    from rollbackctl.cli import build_parser

    [commands] = [a for a in build_parser()._actions if a.dest == "command"]
    run_help = commands.choices["run"].format_help()
    assert "--container-image IMAGE" in run_help and "--process-isolation-executable ENGINE" in run_help
