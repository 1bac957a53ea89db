"""Every module's options and return values use the words of docs/vocabulary.md.

The documentation is what is read: ansible-test sanity (validate-modules) keeps it identical to
the argument spec, so a word that is in the spec is in the docs too. Options from this
collection's doc fragments are merged in, as ansible-doc does.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py") if not p.name.startswith("_"))
PREFIX = "emergency.rollback."


def _assigned(path, *names):
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in names:
                    found[target.id] = yaml.safe_load(ast.literal_eval(node.value)) or {}
        if isinstance(node, ast.ClassDef):
            found.update(_assigned_in_class(node, names))
    return found


def _assigned_in_class(cls, names):
    return {
        t.id: yaml.safe_load(ast.literal_eval(n.value)) or {}
        for n in cls.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name) and t.id in names
    }


def fragment_options(name):
    """Options of one of this collection's doc fragments (emergency.rollback.<file>[.<VAR>])."""
    if not name.startswith(PREFIX):
        return {}
    file_name, _, var = name[len(PREFIX) :].partition(".")
    path = REPO / "plugins/doc_fragments" / ("%s.py" % file_name)
    var = var.upper() or "DOCUMENTATION"
    return (_assigned(path, var).get(var) or {}).get("options") or {}


def module_docs(module):
    docs = _assigned(REPO / "plugins/modules" / ("%s.py" % module), "DOCUMENTATION", "RETURN")
    options = {}
    for fragment in docs["DOCUMENTATION"].get("extends_documentation_fragment") or []:
        options.update(fragment_options(fragment))
    options.update(docs["DOCUMENTATION"].get("options") or {})
    return options, docs.get("RETURN") or {}


def _text(description):
    return " ".join(description) if isinstance(description, list) else str(description or "")


def _clause(text, value):
    """The words that describe one choice: from V(value) to the next V(...)."""
    start = text.find("V(%s)" % value)
    if start < 0:
        return ""
    rest = text[start + len(value) + 3 :]
    end = rest.find("V(")
    return rest if end < 0 else rest[:end]


def option_problems(options):
    problems = []
    for name, spec in options.items():
        if name.startswith("keep_"):
            problems.append("option %s: retention is `keep`" % name)
        if name == "db":
            problems.append("option db: a PostgreSQL database is `database`, a Redis number `redis_db`")
        if name in ("backup", "from_snapshot", "to_snapshot", "restore"):
            problems.append("option %s: which snapshot to put back is `snapshot`" % name)
        if name == "name" and "snapshot" in _text(spec.get("description")).lower():
            problems.append("option name: a snapshot id is `snapshot_id` (to take) or `snapshot` (to restore)")
    state = options.get("state") or {}
    choices = state.get("choices") or []
    text = _text(state.get("description"))
    for old, new in (("backup", "snapshot"), ("restore", "restored")):
        if old in choices:
            problems.append("option state: choice %s is `state: %s`" % (old, new))
    clause = _clause(text, "present").lower()
    if "present" in choices and re.search(r"snapshot|restor", clause):
        problems.append(
            "option state: choice present for a snapshot is `state: snapshot` (take) or `state: restored` (put back)"
        )
    return problems


REF_KEYS = {"id", "path"}


def return_problems(returns):
    problems = []
    for key in ("snapshot", "restored_from"):
        spec = returns.get(key)
        if spec is None:
            continue
        contains = set((spec.get("contains") or {}).keys())
        if spec.get("type") != "dict" or contains != REF_KEYS:
            problems.append(
                "return %s: must be a dict of {id, path} (type %s, contains %s)"
                % (key, spec.get("type"), sorted(contains) or "nothing")
            )
    for key in ("snapshot_id", "snapshot_path", "safety_snapshot", "pre_restore_snapshot_id"):
        if key in returns:
            problems.append("return %s: a snapshot is returned as snapshot/restored_from {id, path}" % key)
    return problems


@pytest.mark.parametrize("module", MODULES)
def test_module_uses_the_vocabulary(module):
    options, returns = module_docs(module)
    problems = option_problems(options) + return_problems(returns)
    assert not problems, "%s: %s" % (module, "; ".join(problems))


def _missing_samples(returns, prefix=""):
    missing = []
    for key, spec in (returns or {}).items():
        if "sample" not in spec:
            missing.append(prefix + key)
        missing.extend(_missing_samples(spec.get("contains"), prefix + key + "."))
    return missing


@pytest.mark.parametrize("module", MODULES)
def test_every_return_value_has_a_sample(module):
    _options, returns = module_docs(module)
    missing = _missing_samples(returns)
    assert not missing, "%s: no sample for %s" % (module, ", ".join(missing))


# The checks themselves, on made-up docs: each rule fires on the word it replaces, and only there.
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"keep_releases": {"type": "int"}}, "option keep_releases: retention is `keep`"),
        ({"db": {"type": "str"}}, "option db:"),
        ({"name": {"description": "Snapshot id to take."}}, "option name: a snapshot id"),
        ({"from_snapshot": {"type": "str"}}, "option from_snapshot:"),
        ({"state": {"choices": ["restored", "backup"]}}, "choice backup is `state: snapshot`"),
        ({"state": {"choices": ["restore", "set"]}}, "choice restore is `state: restored`"),
        (
            {"state": {"choices": ["present"], "description": ["V(present) takes a snapshot."]}},
            "choice present for a snapshot",
        ),
    ],
)
def test_option_rules_fire(options, expected):
    assert any(expected in p for p in option_problems(options)), option_problems(options)


@pytest.mark.parametrize(
    "options",
    [
        {"keep": {"type": "int"}, "redis_db": {"type": "int"}, "database": {"type": "str"}},
        {"name": {"description": "Name of the lock holder."}},
        {"state": {"choices": ["present", "absent"], "description": ["V(present) takes the lock."]}},
        {"state": {"choices": ["snapshot", "restored"]}, "snapshot": {"type": "str"}, "snapshot_id": {"type": "str"}},
    ],
)
def test_option_rules_leave_the_vocabulary_alone(options):
    assert option_problems(options) == []


def test_return_rules():
    ref = {"type": "dict", "contains": {"id": {}, "path": {}}}
    assert return_problems({"snapshot": ref, "restored_from": ref}) == []
    assert return_problems({"snapshot": {"type": "str"}})[0].startswith("return snapshot: must be a dict")
    assert return_problems({"snapshot_id": {"type": "str"}})[0].startswith("return snapshot_id:")
    assert _missing_samples({"a": {"sample": 1, "contains": {"b": {}}}, "c": {}}) == ["a.b", "c"]
