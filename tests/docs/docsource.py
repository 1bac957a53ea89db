"""What the docs are made of: the files the doc tests read, their fenced blocks, the shipped inventories."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCS = [REPO / "README.md", *sorted(REPO.glob("roles/*/README.md"))]
ARG_SPECS = sorted(REPO.glob("roles/*/meta/argument_specs.yml"))
INVENTORIES = sorted(p for p in (REPO / "inventories").iterdir() if p.is_dir())
PLAYBOOKS = sorted((REPO / "playbooks").glob("*.yml"))
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())
MODULES = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py") if not p.name.startswith("_"))

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Block:
    path: Path
    index: int  # position among the file's fenced blocks
    lang: str
    text: str

    @property
    def id(self):
        return "%s#%d" % (self.path.relative_to(REPO), self.index)


def blocks(path):
    text = path.read_text()
    return [Block(path, i, m.group(1), m.group(2)) for i, m in enumerate(FENCE.finditer(text))]


def all_blocks():
    return [b for doc in DOCS for b in blocks(doc)]


def prose(path):
    """A doc's text outside fenced blocks (the blocks are checked by running them)."""
    return FENCE.sub("", path.read_text())


def spec_text(path):
    """Every description string of a role's argument_specs.yml, joined."""
    out = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "short_description"):
                    out.extend(value if isinstance(value, list) else [value])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(path.read_text()))
    return "\n".join(str(s) for s in out)


def ansible_env():
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "build" / "collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "False"
    env["PATH"] = "%s:%s" % (BIN, env.get("PATH", ""))
    return env


def ansible(tool, *args):
    """stdout of one of the venv's ansible tools run in the repo; raises when it fails."""
    return subprocess.run(
        [str(BIN / tool), *args], cwd=REPO, env=ansible_env(), capture_output=True, text=True, check=True
    ).stdout


def inventory_groups(inventory):
    """{group: [hosts, including those of child groups]} as ansible-inventory --list reads it."""
    data = json.loads(ansible("ansible-inventory", "-i", str(inventory), "--list"))

    def hosts(group):
        node = data.get(group, {})
        found = list(node.get("hosts", []))
        for child in node.get("children", []):
            found += hosts(child)
        return sorted(set(found))

    groups = [g for g in data if g != "_meta"]
    return {g: hosts(g) for g in groups}


def play_hosts_default(playbook):
    """The group each play of a playbook targets when rollback_hosts is not set."""
    out = []
    for play in yaml.safe_load(playbook.read_text()):
        if "hosts" not in play:  # import_playbook: the imported file is read on its own
            continue
        pattern = play["hosts"]
        if pattern == "localhost":  # implicit, in no inventory
            continue
        if "{{" not in pattern:
            out.append(pattern)
            continue
        # A templated pattern targets the defaults of the variables that name its groups.
        out.extend(re.findall(r"rollback_(?:hosts|group_\w+)\s*\|\s*default\('([^']+)'\)", pattern))
    return out
