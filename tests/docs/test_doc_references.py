"""Every playbook, role, module, rollbackctl command and alias, inventory group and variable the docs
name exists (README.md, roles/*/README.md, roles/*/meta/argument_specs.yml)."""

from __future__ import annotations

import ast
import re
import tomllib

import pytest
import yaml

from rollbackctl import collection
from rollbackctl.cli import build_parser
from tests.docs.docsource import (
    ARG_SPECS,
    DOCS,
    INVENTORIES,
    MODULES,
    PLAYBOOKS,
    REPO,
    ROLES,
    all_blocks,
    inventory_groups,
    play_hosts_default,
    prose,
    spec_text,
)

PLAYBOOK_NAMES = {p.stem for p in PLAYBOOKS}
ACTION_GROUPS = set(yaml.safe_load((REPO / "meta/runtime.yml").read_text())["action_groups"])
TEXTS = {str(p.relative_to(REPO)): p.read_text() for p in DOCS} | {
    str(p.relative_to(REPO)): spec_text(p) for p in ARG_SPECS
}
DOC_IDS = sorted(TEXTS)

# Words the docs use for a playbook without naming its file.
PLAYBOOK_PHRASES = {"orchestration playbook": "rollback_complete", "complete rollback playbook": "rollback_complete"}


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


@pytest.mark.parametrize("doc", DOC_IDS)
def test_named_playbooks_exist(doc):
    text = TEXTS[doc]
    named = set(re.findall(r"playbooks/(\w+)\.yml", text))
    named |= set(re.findall(r"(?<![\w/.-])(rollback_\w+|verify|status|snapshot|drill)\.yml", text))
    named |= {stem for phrase, stem in PLAYBOOK_PHRASES.items() if phrase in text.lower()}
    assert named - PLAYBOOK_NAMES == set(), "%s names playbooks that do not exist" % doc


@pytest.mark.parametrize("doc", DOC_IDS)
def test_named_fqcns_exist(doc):
    missing = set()
    for prefix, name in re.findall(r"(group/)?emergency\.rollback\.(\w+)", TEXTS[doc]):
        known = ACTION_GROUPS if prefix else set(MODULES) | set(ROLES) | set(FILTERS) | PLAYBOOK_NAMES
        if name not in known:
            missing.add(prefix + name)
    assert missing == set(), "%s names emergency.rollback.* that do not exist" % doc


def test_contents_table_names_real_modules_roles_and_playbooks():
    readme = TEXTS["README.md"]
    table = readme.split("## Contents", 1)[1].split("\n\n", 2)[1]
    for row in table.splitlines()[2:]:
        first, _, modules = [c.strip() for c in row.strip("|").split("|")]
        for name in re.findall(r"`([\w.]+)`", first):
            if name.endswith(".yml"):
                assert name[:-4] in PLAYBOOK_NAMES, name
            else:
                assert name in ROLES, name
        for name in re.findall(r"`(\w+)`", modules):
            assert name in MODULES, name


# rollbackctl's aliases and pyproject's description belong to the rollbackctl branch, which removes
# the dead entries; strict, so these marks go once that lands.
FILTERS = {p.stem for p in (REPO / "plugins/filter").glob("*.py")}


@pytest.mark.parametrize("doc", DOC_IDS)
def test_rollbackctl_commands_and_playbooks_in_docs_exist(doc):
    text = TEXTS[doc]
    commands = _subcommands()
    for cmd in re.findall(r"(?:^|bin/|`)rollbackctl (\w+)", text, re.M):
        assert cmd in commands, "%s: rollbackctl has no %r command" % (doc, cmd)
    for name in re.findall(r"rollbackctl (?:run|plan) ([\w.]+)", text):
        collection.resolve_playbook(name, REPO)
    # "`app` for `rollback_app.yml`": the short names the rollbackctl section promises.
    for short, stem in re.findall(r"`([\w.]+)` for `(\w+)\.yml`", text):
        assert collection.resolve_playbook(short, REPO).stem == stem


def test_pyproject_names_only_real_rollbackctl_commands():
    description = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["description"]
    listed = re.search(r":\s*([\w, ]+?)\s+over\b", description)
    assert listed, description
    named = {w.strip() for w in listed.group(1).split(",")}
    assert named - _subcommands() == set(), description


@pytest.fixture(scope="module")
def shipped_groups():
    return {inv.name: inventory_groups(inv) for inv in INVENTORIES}


def _named_groups(text):
    names = set(re.findall(r"^\s*(?:- )?hosts:\s*([\w.-]+)\s*$", text, re.M))
    names |= set(re.findall(r"default\('([\w.-]+)'\)", text))
    names |= set(re.findall(r"the `([\w.-]+)` group", text))
    names |= set(re.findall(r"--limit ([\w.-]+)", text))
    return names


@pytest.mark.parametrize("doc", DOC_IDS)
def test_named_groups_exist_in_every_shipped_inventory(doc, shipped_groups):
    """Groups exist in every inventory; host names (`--limit web2`) are those of the production example."""
    named = _named_groups(TEXTS[doc]) - {"all"}
    production = shipped_groups["production"]
    production_hosts = {h for members in production.values() for h in members}
    assert named - set(production) - production_hosts == set(), "%s names unknown groups or hosts" % doc
    for inv, groups in shipped_groups.items():
        missing = (named & set(production)) - set(groups)
        assert missing == set(), "%s names groups missing from inventories/%s" % (doc, inv)


def test_playbook_default_groups_exist_in_every_shipped_inventory(shipped_groups):
    for playbook in PLAYBOOKS:
        for group in play_hosts_default(playbook):
            for inv, groups in shipped_groups.items():
                assert group in groups, "%s targets %r, not defined in inventories/%s" % (playbook.name, group, inv)


def _role_options(role):
    spec = yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text())
    return set(spec["argument_specs"]["main"]["options"])


def _variables(text, prefix):
    """`<prefix>_x` names in backticks; a span that is only `_d` after `a_b_c` means `a_b_d`."""
    found = []
    for span in re.findall(r"`([^`\n]+)`", text):
        if re.fullmatch(r"_[a-z]\w*[a-z0-9]", span):
            if found and found[-1].startswith(prefix + "_"):
                found.append(found[-1].rsplit("_", 1)[0] + span)
            continue
        found += re.findall(r"(?<![\w.{<])%s_\w*[a-z0-9](?!\w)" % prefix, span)
    return {t for t in found if t not in MODULES}


# Backticked words that look like role variables but are something else (said where they are used).
NOT_VARIABLES = {"ssl_certificate", "ssl_certificate_key", "ssl_password_file"}  # nginx directives (ssl README)


def _role_tags(role):
    """The role's phase tags (`app_preflight`, ...): role-prefixed like its variables, but not variables."""
    tags = set()
    for path in (REPO / "roles" / role / "tasks").glob("*.yml"):
        for found in re.findall(r"tags: \[([^\]]*)\]", path.read_text()):
            tags.update(t.strip() for t in found.split(","))
    return tags


# roles/_frame is internal: no variables of its own, its entry variables are documented in its files.
@pytest.mark.parametrize("role", [r for r in ROLES if not r.startswith("_")])
def test_role_variables_in_docs_exist(role):
    options = _role_options(role)
    tags = _role_tags(role)
    for doc, text in TEXTS.items():
        named = _variables(text, role) - NOT_VARIABLES - tags
        assert named - options == set(), "%s names %s variables that do not exist" % (doc, role)


def test_rollback_variables_in_docs_are_read_somewhere():
    # rulebooks read variables too (rollback_eda_*)
    readers = [*PLAYBOOKS, *REPO.glob("roles/*/*/*.yml"), *REPO.glob("extensions/eda/rulebooks/*.yml")]
    used = "\n".join(p.read_text() for p in readers)
    for doc, text in TEXTS.items():
        named = set(re.findall(r"\b(rollback_[a-z_]+)\b(?!\.yml)", text)) - PLAYBOOK_NAMES - FILTERS
        named = {n for n in named if not n.endswith("_")}
        unused = {n for n in named if not re.search(r"\b%s\b" % n, used)}
        assert unused == set(), "%s names rollback_* variables nothing reads" % doc


def _module_options():
    """{module: {option: spec}}, doc fragments included, from each module's DOCUMENTATION."""
    fragments = {}
    for path in (REPO / "plugins/doc_fragments").glob("*.py"):
        for body in re.findall(r'\w+ = r?"""(.*?)"""', path.read_text(), re.S):
            doc = yaml.safe_load(body)
            if isinstance(doc, dict):
                fragments.update(doc.get("options") or {})
    out = {}
    for module in MODULES:
        tree = ast.parse((REPO / "plugins/modules" / ("%s.py" % module)).read_text())
        node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "DOCUMENTATION")
        out[module] = dict(fragments, **yaml.safe_load(ast.literal_eval(node.value))["options"])
    return out


@pytest.mark.parametrize("doc", [d for d in DOC_IDS if d.endswith(".md")])
def test_module_options_in_docs_exist(doc):
    """`option: value` / `option=value` in a paragraph naming modules is an option of one of them
    and the value one of its choices (so renamed options and states show up here)."""
    options = _module_options()
    wrong = []
    for para in re.split(r"\n\s*\n", prose(REPO / doc)):
        modules = {m for m in MODULES if re.search(r"(?:emergency\.rollback\.|`)%s\b" % m, para)}
        for span in re.findall(r"`([^`\n]+)`", para) if modules else []:
            for opt, value in re.findall(r"(?:^|\s|:\s)([a-z_]+)(?::\s|=)(<[^>]+>|[\w-]+)", span):
                if opt.split("_", 1)[0] in ROLES or span.startswith("-e"):
                    continue  # a role variable or an extra var, checked above
                specs = [options[m][opt] for m in modules if opt in options[m]]
                allowed = any(
                    not spec.get("choices") or value in map(str, spec["choices"]) or value.startswith("<")
                    for spec in specs
                )
                if not allowed:
                    wrong.append("%s (modules named there: %s)" % (span, ", ".join(sorted(modules))))
    assert wrong == [], "%s names module options or values that do not exist" % doc


def test_every_fenced_block_is_found():
    """The block parser sees the docs' examples (a guard for the docs-as-tests suite)."""
    assert len(all_blocks()) >= 8
