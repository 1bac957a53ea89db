"""Every shipped inventory gives every play of every playbook at least one host."""

from __future__ import annotations

import re

import pytest

from tests.docs.docsource import INVENTORIES, PLAYBOOKS, REPO, ansible


def list_hosts(inventory):
    """{(playbook, play number): [hosts]} as ansible-playbook --list-hosts resolves each play's pattern."""
    out = ansible("ansible-playbook", "--list-hosts", "-i", str(inventory), *map(str, PLAYBOOKS))
    plays, playbook, play = {}, None, None
    for line in out.splitlines():
        if m := re.match(r"playbook: (\S+)", line.strip()):
            playbook = m.group(1).rsplit("/", 1)[-1]
        elif m := re.match(r"play #(\d+)", line.strip()):
            play = (playbook, int(m.group(1)))
            plays[play] = []
        elif play and line.startswith(" " * 6) and line.strip():
            plays[play].append(line.strip())
    return plays


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda p: p.name)
def test_every_play_matches_hosts(inventory):
    plays = list_hosts(inventory)
    assert {name for name, _ in plays} == {p.name for p in PLAYBOOKS}
    empty = sorted("%s play %d" % key for key, hosts in plays.items() if not hosts)
    assert empty == [], "plays matching no host in inventories/%s" % inventory.name


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda p: p.name)
def test_inventories_share_group_names(inventory):
    """The same groups everywhere, so a command tried on staging or the sandbox works on production."""
    groups = set(re.findall(r"@(\w+):", _graph(inventory))) - {"all", "ungrouped"}
    assert groups == set(re.findall(r"@(\w+):", _graph(REPO / "inventories/production"))) - {"all", "ungrouped"}


def _graph(inventory):
    return ansible("ansible-inventory", "-i", str(inventory), "--graph")
