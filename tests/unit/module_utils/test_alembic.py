"""Parsing alembic's output and resolving targets (pure functions)."""

from __future__ import annotations

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _alembic as a

HISTORY = """\
0002_email -> 0003_audit (head), create audit log
0001_accounts -> 0002_email (current), add accounts.email
<base> -> 0001_accounts, create accounts
"""
PARENTS = {"0003_audit": "0002_email", "0002_email": "0001_accounts", "0001_accounts": None}


def test_parse_history_with_current_and_head():
    parents, heads, current = a.parse_history(HISTORY)
    assert parents == PARENTS and heads == ["0003_audit"] and current == ["0002_email"]
    at_head = HISTORY.replace(" (current),", ",").replace("(head),", "(head) (current),")
    _, heads, current = a.parse_history(at_head)
    assert heads == current == ["0003_audit"]


def test_parse_revisions_ignores_log_lines():
    assert a.parse_revisions("INFO  [alembic] Context impl\n0003_audit (head)\n") == ["0003_audit"]
    assert a.parse_revisions("") == []


@pytest.mark.parametrize(
    ("command", "revision", "current", "target"),
    [
        ("downgrade", "-1", ["0003_audit"], "0002_email"),
        ("downgrade", "-3", ["0003_audit"], None),
        ("downgrade", "base", ["0003_audit"], None),
        ("downgrade", "0001", ["0003_audit"], "0001_accounts"),
        ("downgrade", "0003_audit", ["0003_audit"], "0003_audit"),
        ("upgrade", "head", [], "0003_audit"),
        ("upgrade", "+1", ["0001_accounts"], "0002_email"),
        ("upgrade", "+2", [], "0002_email"),
        ("upgrade", "0002_email", ["0001_accounts"], "0002_email"),
    ],
)
def test_resolve_target(command, revision, current, target):
    assert a.resolve_target(command, revision, current, PARENTS, ["0003_audit"]) == target


@pytest.mark.parametrize(
    ("command", "revision", "current", "error"),
    [
        ("downgrade", "-4", ["0003_audit"], "only 3 revisions below"),
        ("downgrade", "0003", ["0001_accounts"], "not below the current revision"),
        ("downgrade", "+1", ["0003_audit"], "downgrade takes -N"),
        ("upgrade", "0001", ["0003_audit"], "not above the current revision"),
        ("upgrade", "+1", ["0003_audit"], "at head"),
        ("upgrade", "nope", [], "not in the history"),
        ("upgrade", "000", [], "ambiguous"),
        ("upgrade", "head", ["a", "b"], "several heads"),
    ],
)
def test_resolve_target_errors(command, revision, current, error):
    with pytest.raises(a.AlembicError, match=error):
        a.resolve_target(command, revision, current, PARENTS, ["0003_audit"])


def test_path_between():
    assert a.path_between(PARENTS, "0003_audit", "0001_accounts") == ["0003_audit", "0002_email"]
    assert a.path_between(PARENTS, "0002_email", None) == ["0002_email", "0001_accounts"]
    assert a.path_between(PARENTS, None, "0003_audit") == ["0001_accounts", "0002_email", "0003_audit"]
    assert a.path_between(PARENTS, "0001_accounts", "0003_audit") == ["0002_email", "0003_audit"]
    assert a.path_between(PARENTS, "0002_email", "0002_email") == []


def test_merge_point_needs_an_explicit_revision():
    parents = dict(PARENTS, m1=("0003_audit", "x1"), x1="0001_accounts")
    with pytest.raises(a.AlembicError, match="merge point"):
        a.resolve_target("downgrade", "-1", ["m1"], parents, ["m1"])
