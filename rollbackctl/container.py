"""Running a playbook inside an execution environment image through ansible-runner's process isolation."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from rollbackctl.collection import UsageError

# Where ansible-builder installs the image's own collections: kept on the path behind ours.
EE_COLLECTIONS = "/usr/share/ansible/collections"
DEFAULTS = {"container_image": None, "container_volume": [], "process_isolation_executable": "podman"}


def check_arguments(args):
    """Before anything is written: the container options hang together and the image is there."""
    for name, default in DEFAULTS.items():
        if not hasattr(args, name):  # callers that build their own arguments run on the host
            setattr(args, name, list(default) if isinstance(default, list) else default)
    if args.container_image:
        check_image(args.container_image, args.process_isolation_executable)
    elif args.container_volume or args.process_isolation_executable != DEFAULTS["process_isolation_executable"]:
        raise UsageError("--container-volume and --process-isolation-executable need --container-image")


def check_image(image, executable):
    """One clear line before anything runs: the engine is missing, or the image is not there to run."""
    engine = shutil.which(executable)
    if not engine:
        raise UsageError("--process-isolation-executable %s: not found on PATH" % executable)
    # No pull: a rollback must not wait on a registry; the image is built or pulled beforehand.
    found = subprocess.run([engine, "image", "inspect", image], capture_output=True, check=False)
    if found.returncode != 0:
        raise UsageError(
            "container image %s is not available to %s: build or pull it first (%s pull %s)"
            % (image, executable, executable, image)
        )


def copy_inventory(inventory, dest):
    """ansible-runner always hands a container `-i /runner/inventory`: the inventory is copied there,
    a file with the group_vars/ and host_vars/ next to it, an inline host list as one host a line."""
    dest = Path(dest)
    source = Path(inventory)
    if "," in inventory and not source.exists():
        dest.mkdir()
        (dest / "hosts").write_text("".join("%s\n" % h.strip() for h in inventory.split(",") if h.strip()))
    elif source.is_dir():
        shutil.copytree(source, dest)
    else:
        dest.mkdir()
        shutil.copy(source, dest / source.name)
        for vars_dir in ("group_vars", "host_vars"):
            if (source.parent / vars_dir).is_dir():
                shutil.copytree(source.parent / vars_dir, dest / vars_dir)


def isolation(args, env, collections_dir, root, playbook, private):
    """ansible-runner keyword arguments that run the playbook in `args.container_image`.

    The container sees the collection (and the playbook) at the same paths as the host, read-only,
    so the code that runs is the code rollbackctl resolved; the image brings ansible-core and the
    Python libraries. Host networking, so the targets, health URLs and load balancers are reached
    as from the host.
    """
    executable = args.process_isolation_executable
    copy_inventory(args.inventory, Path(private) / "inventory")
    mounted = []
    for path in (Path(collections_dir), Path(root), Path(playbook).parent):
        if not any(path == m or m in path.parents for m in mounted):
            mounted.append(path)
    mounts = ["%s:%s:ro" % (path, path) for path in mounted] + args.container_volume
    options = ["--network=host"]
    if "podman" in executable:
        # The job files belong to the calling user; in the image they must be that user's too.
        options.append("--user=0" if os.getuid() == 0 else "--userns=keep-id")
    container_env = {k: v for k, v in env.items() if k != "PATH"}  # the host's PATH means nothing inside
    container_env["ANSIBLE_COLLECTIONS_PATH"] = "%s%s%s" % (collections_dir, os.pathsep, EE_COLLECTIONS)
    return {
        "process_isolation": True,
        "process_isolation_executable": executable,
        "container_image": args.container_image,
        "container_volume_mounts": mounts,
        "container_options": options,
        "envvars": container_env,
        "inventory": None,
    }


def start_failure(args, runner):
    """The engine's own error when the container never got to run ansible-playbook."""
    if runner.rc == 0 or any(e.get("event") == "playbook_on_start" for e in runner.events):
        return None
    stdout = Path(runner.config.artifact_dir) / "stdout"
    lines = stdout.read_text(errors="replace").splitlines() if stdout.is_file() else []
    first = next((line.strip() for line in lines if line.strip()), "no output")
    return "%s did not run the playbook in %s (exit %s): %s" % (
        args.process_isolation_executable,
        args.container_image,
        runner.rc,
        first,
    )


def add_arguments(p):
    p.add_argument(
        "--container-image",
        metavar="IMAGE",
        help="run ansible-playbook inside this execution environment image (e.g. localhost/rollback-ee:latest)",
    )
    p.add_argument(
        "--process-isolation-executable",
        default=DEFAULTS["process_isolation_executable"],
        metavar="ENGINE",
        help="container engine for --container-image (default: %(default)s)",
    )
    p.add_argument(
        "--container-volume",
        action="append",
        default=[],
        metavar="SRC:DST[:OPTS]",
        help="extra bind mount for --container-image, repeatable (files local targets need)",
    )
