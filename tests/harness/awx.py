"""AWX-style jobs for tests: a private data dir as AWX writes it, and the image `make ee` builds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import yaml

EE_IMAGE = "localhost/rollback-ee:latest"


def ee_built():
    if not shutil.which("podman"):
        return False
    return subprocess.run(["podman", "image", "exists", EE_IMAGE], capture_output=True, check=False).returncode == 0


def copy_checkout(repo, dest):
    """The files a clone of the working tree has (tracked and new, not ignored), symlinks kept: a synced project."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        src = Path(repo) / name
        if not (src.exists() or src.is_symlink()):
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


class _AwxDumper(yaml.SafeDumper):
    """Values as AWX writes them: strings tagged !unsafe (keys stay plain)."""


_AwxDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar("!unsafe", value, style='"'))
_AwxDumper.add_representer(
    dict,
    lambda dumper, mapping: yaml.MappingNode(
        "tag:yaml.org,2002:map",
        [(yaml.ScalarNode("tag:yaml.org,2002:str", str(k)), dumper.represent_data(v)) for k, v in mapping.items()],
    ),
)


def unsafe_yaml(value):
    """Extra vars as AWX writes env/extravars: every string tagged !unsafe, so nothing is templated."""
    return yaml.dump(value, Dumper=_AwxDumper, sort_keys=False)


def render_injectors(credential_type, inputs):
    """The extra vars a credential of this type injects, rendered as AWX does (sandboxed Jinja)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment()
    return {
        name: env.from_string(template).render(**inputs)
        for name, template in credential_type["injectors"].get("extra_vars", {}).items()
    }


JOB_ID = "4242"


def write_private_data_dir(private, project, inventory, extravars, limit=None):
    """A job's private data dir as AWX writes it: project/ synced, inventory/, env/extravars, env/cmdline."""
    private = Path(private)
    shutil.copytree(project, private / "project", symlinks=True)
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text(json.dumps(inventory))
    (private / "env").mkdir()
    (private / "env" / "extravars").write_text(unsafe_yaml(extravars))
    if limit:
        (private / "env" / "cmdline").write_text("--limit %s" % limit)
    return private


def run_job(private, project, playbook, inventory, extravars, limit=None, **isolation):
    """ansible-runner on a private data dir laid out as AWX lays out a job's; returns (runner, artifact dir).

    The caller clears ANSIBLE_* from the environment: AWX sets no collections path for a project.
    """
    import ansible_runner

    private = write_private_data_dir(private, project, inventory, extravars, limit)
    runner = ansible_runner.run(private_data_dir=str(private), playbook=playbook, ident=JOB_ID, quiet=True, **isolation)
    return runner, private / "artifacts" / JOB_ID


class StreamedJob:
    """What the controller holds after a streamed job: the processor, its events and the worker's stderr."""

    def __init__(self, runner, events, worker_rc, worker_stderr, artifacts):
        self.runner, self.events, self.worker_rc = runner, events, worker_rc
        self.worker_stderr, self.artifacts = worker_stderr, artifacts


def stream_job(private, project, playbook, inventory, extravars, worker_command, limit=None):
    """A job the way AWX hands it to an execution node: `transmit` on the controller streams the
    private data dir and the job's arguments into the worker's stdin, `worker_command` (an
    `ansible-runner worker` inside the EE) runs it and streams events, status and artifacts back on
    stdout, and `process` on the controller turns that stream into events and artifacts again.
    Both pipes are live, as receptor's are: the processor reads while the worker runs."""
    import ansible_runner

    private = write_private_data_dir(private, project, inventory, extravars, limit)
    worker = subprocess.Popen(worker_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def transmit():
        try:
            ansible_runner.run(
                streamer="transmit",
                _output=worker.stdin,
                private_data_dir=str(private),
                playbook=playbook,
                ident=JOB_ID,
            )
        finally:
            worker.stdin.close()

    errors = []
    sender = threading.Thread(target=transmit)
    reader = threading.Thread(target=lambda: errors.append(worker.stderr.read()))
    sender.start()
    reader.start()
    events = []
    runner = ansible_runner.run(
        streamer="process",
        _input=worker.stdout,
        private_data_dir=str(private),
        ident=JOB_ID,
        quiet=True,
        event_handler=lambda event: events.append(event) or True,
    )
    sender.join()
    worker_rc = worker.wait()
    reader.join()
    stderr = b"".join(errors).decode(errors="replace")
    return StreamedJob(runner, events, worker_rc, stderr, private / "artifacts" / JOB_ID)


def artifacts_text(artifacts):
    return "\n".join(p.read_text(errors="replace") for p in sorted(Path(artifacts).rglob("*")) if p.is_file())


def clean_environment(monkeypatch, home, bin_dir):
    for name in [k for k in os.environ if k.startswith("ANSIBLE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ["PATH"])
