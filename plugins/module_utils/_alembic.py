# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Alembic through its command line: read current/heads/history, resolve a target, migrate.

PRIVATE to this collection: the leading underscore means no API promise.

The alembic CLI of the application's own environment runs (its env.py imports the app),
so nothing here imports alembic.
"""

from __future__ import annotations

import re

BASE = "base"
_REV_LINE = re.compile(r"^(?P<rev>[A-Za-z0-9_.@:+-]+)(?P<tags>(?: \([a-z ]+\))*)\s*$")
_HISTORY_LINE = re.compile(r"^(?P<down>\S+|\([^)]*\)) -> (?P<rev>[A-Za-z0-9_.@:+-]+)(?P<tags>(?: \([a-z ]+\))*),")
_RELATIVE = re.compile(r"^([+-])(\d+)$")


class AlembicError(Exception):
    pass


def is_relative(revision):
    """-N or +N: counted from the current revision."""
    return bool(_RELATIVE.match(revision or ""))


def parse_revisions(stdout):
    """Revision ids listed by `alembic current` or `alembic heads` (log lines ignored)."""
    revs = []
    for line in (stdout or "").splitlines():
        match = _REV_LINE.match(line.strip())
        if match and not line.startswith(("INFO", "WARN", "DEBUG", "ERROR")):
            revs.append(match["rev"])
    return revs


def parse_history(stdout):
    """(parents, heads, current) from `alembic history --indicate-current`.

    parents is {revision: down_revision, None at base, a tuple at a merge point}.
    """
    parents, heads, current = {}, [], []
    for line in (stdout or "").splitlines():
        match = _HISTORY_LINE.match(line.strip())
        if not match:
            continue
        down = match["down"]
        if down.startswith("("):
            parents[match["rev"]] = tuple(d.strip() for d in down.strip("()").split(","))
        else:
            parents[match["rev"]] = None if down == "<base>" else down
        tags = match["tags"] or ""
        if "(head)" in tags:
            heads.append(match["rev"])
        if "(current)" in tags:
            current.append(match["rev"])
    return parents, heads, current


def children_of(parents):
    children = {}
    for rev, down in parents.items():
        for parent in down if isinstance(down, tuple) else (down,):
            children.setdefault(parent, []).append(rev)
    return children


def expand(parents, rev):
    """A full revision id from an id or a unique prefix."""
    if rev in parents:
        return rev
    found = [r for r in parents if r.startswith(rev)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise AlembicError("revision %s is not in the history (%s)" % (rev, ", ".join(sorted(parents)) or "empty"))
    raise AlembicError("revision prefix %s is ambiguous: %s" % (rev, ", ".join(sorted(found))))


def ancestors(parents, rev):
    """Revisions below rev, nearest first (linear history)."""
    chain = []
    while rev is not None:
        down = parents.get(rev)
        if isinstance(down, tuple):
            raise AlembicError("revision %s is a merge point; give an explicit revision" % rev)
        if down is None:
            break
        chain.append(down)
        rev = down
    return chain


def resolve_target(command, revision, current, parents, heads):
    """The concrete target (a revision id, or None for base) of `downgrade`/`upgrade` revision.

    revision: an id or prefix, 'base', 'head', '-N' (downgrade) or '+N' (upgrade), relative to current.
    """
    if len(current) > 1:
        raise AlembicError("the database is at several heads (%s); migrate each branch explicitly" % ", ".join(current))
    cur = current[0] if current else None
    relative = _RELATIVE.match(revision or "")
    if command == "downgrade":
        if revision == BASE:
            return None
        if relative:
            if relative[1] != "-":
                raise AlembicError("downgrade takes -N, not %s" % revision)
            steps = int(relative[2])
            chain = [cur] + ancestors(parents, cur) + [None] if cur else [None]
            if steps >= len(chain):
                raise AlembicError("cannot go %s from %s: only %d revisions below" % (revision, cur, len(chain) - 1))
            return chain[steps]
        target = expand(parents, revision)
        if cur is not None and target != cur and target not in ancestors(parents, cur):
            raise AlembicError("%s is not below the current revision %s; use command=upgrade" % (target, cur))
        if cur is None and target is not None:
            raise AlembicError("the database is at base; %s is above it; use command=upgrade" % target)
        return target
    # upgrade
    if revision in ("head", "heads", None, ""):
        if len(heads) != 1:
            raise AlembicError("the scripts have %d heads (%s); name one" % (len(heads), ", ".join(heads)))
        return heads[0]
    if relative:
        if relative[1] != "+":
            raise AlembicError("upgrade takes +N, not %s" % revision)
        children = children_of(parents)
        rev = cur
        for _ in range(int(relative[2])):
            nxt = children.get(rev, [])
            if len(nxt) != 1:
                raise AlembicError("cannot go %s from %s: %s" % (revision, cur, "branches" if nxt else "at head"))
            rev = nxt[0]
        return rev
    target = expand(parents, revision)
    if cur is not None and target != cur and cur not in ancestors(parents, target):
        raise AlembicError("%s is not above the current revision %s; use command=downgrade" % (target, cur))
    return target


def path_between(parents, start, target):
    """The revisions a migration from start to target passes (excluding start), in order."""
    if start == target:
        return []
    below_start = ancestors(parents, start) if start else []
    if target is None or target in below_start:  # downgrade: undo start and everything down to target
        chain = [start] + below_start
        return chain[: chain.index(target)] if target in chain else chain
    chain = [target] + ancestors(parents, target)
    upto = chain.index(start) if start in chain else len(chain)
    return list(reversed(chain[:upto]))
