"""Where the emergency.rollback collection is, and which playbook a name means."""

from __future__ import annotations

import os
from pathlib import Path

NAMESPACE, NAME = "emergency", "rollback"


class UsageError(Exception):
    """Bad arguments: rollbackctl prints one line and exits 2."""


def _is_collection(path):
    return (path / "galaxy.yml").is_file() or (path / "MANIFEST.json").is_file()


def find_collection():
    """The collection root: $ROLLBACKCTL_COLLECTION, the checkout this package lives in, or an installed copy."""
    env = os.environ.get("ROLLBACKCTL_COLLECTION")
    if env:
        root = Path(env).resolve()
        if not _is_collection(root):
            raise UsageError("ROLLBACKCTL_COLLECTION=%s is not a collection (no galaxy.yml or MANIFEST.json)" % env)
        return root
    checkout = Path(__file__).resolve().parents[1]
    if _is_collection(checkout) and (checkout / "playbooks").is_dir():
        return checkout
    search = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    search += [os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"]
    for base in search:
        candidate = Path(base) / "ansible_collections" / NAMESPACE / NAME
        if _is_collection(candidate):
            return candidate.resolve()
    raise UsageError(
        "cannot find the emergency.rollback collection: install it with ansible-galaxy or set ROLLBACKCTL_COLLECTION"
    )


def collections_path(state_dir, root):
    """A collections dir in which emergency.rollback is `root`, for ANSIBLE_COLLECTIONS_PATH."""
    parts = root.parts
    if len(parts) >= 3 and parts[-3:] == ("ansible_collections", NAMESPACE, NAME):
        return root.parents[2]
    base = Path(state_dir) / "collections"
    link = base / "ansible_collections" / NAMESPACE / NAME
    if not (link.is_symlink() and link.resolve() == root):
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(root, target_is_directory=True)
    return base


def known_playbooks(root):
    names = []
    for path in sorted((root / "playbooks").glob("*.yml")):
        stem = path.stem
        names.append(stem[len("rollback_") :] if stem.startswith("rollback_") else stem)
    return names


def resolve_playbook(name, root):
    """A path as given, or a collection playbook by short name, file name or FQCN."""
    as_path = Path(name)
    if as_path.suffix in (".yml", ".yaml") and as_path.is_file():
        return as_path.resolve()
    short = name
    prefix = "%s.%s." % (NAMESPACE, NAME)
    if short.startswith(prefix):
        short = short[len(prefix) :]
    short = short.removesuffix(".yml").removesuffix(".yaml")
    for candidate in (short, "rollback_" + short):
        path = root / "playbooks" / ("%s.yml" % candidate)
        if path.is_file():
            return path
    raise UsageError(
        "unknown playbook %r (known: %s, or a path to a .yml file)" % (name, ", ".join(known_playbooks(root)))
    )


def check_inventory(inventory):
    if "," in inventory:  # an inline host list, as ansible-playbook accepts
        return inventory
    if not Path(inventory).exists():
        raise UsageError("inventory not found: %s" % inventory)
    return str(Path(inventory).resolve())
