"""The collection's metadata stays in step with its content."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py") if not p.name.startswith("_"))
ROLES = sorted(p.parent.parent.name for p in REPO.glob("roles/*/defaults/main.yml"))


def test_action_group_lists_every_module():
    runtime = yaml.safe_load((REPO / "meta/runtime.yml").read_text())
    assert runtime["requires_ansible"].startswith(">=2.19")
    assert sorted(runtime["action_groups"]["all"]) == MODULES


def test_galaxy_metadata_is_complete():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    for key in ("namespace", "name", "version", "readme", "authors", "description", "license", "tags", "repository"):
        assert galaxy.get(key), key
    assert (galaxy["namespace"], galaxy["name"]) == ("emergency", "rollback")
    for ignored in ("tests", "molecule", "bench", ".ci"):
        assert ignored in galaxy["build_ignore"]


@pytest.mark.parametrize("module", MODULES)
def test_module_layout(module):
    """DOCUMENTATION, EXAMPLES (FQCN), RETURN, then imports and main(), as community.crypto does."""
    source = (REPO / "plugins/modules" / ("%s.py" % module)).read_text()
    tree = ast.parse(source)
    names = [
        t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    ]
    assert names[:3] == ["DOCUMENTATION", "EXAMPLES", "RETURN"]
    doc = yaml.safe_load(
        ast.literal_eval(tree.body[[i for i, n in enumerate(tree.body) if isinstance(n, ast.Assign)][0]].value)
    )
    assert doc["module"] == module
    assert "check_mode" in doc["attributes"] and "diff_mode" in doc["attributes"]
    assert "emergency.rollback._common" in doc.get("extends_documentation_fragment", [])
    examples = source.split("EXAMPLES = ", 1)[1].split("RETURN = ", 1)[0]
    assert "emergency.rollback.%s:" % module in examples
    assert source.rstrip().endswith('if __name__ == "__main__":\n    main()')


def _spec_defaults(spec):
    return {name: opt.get("default") for name, opt in spec["options"].items()}


@pytest.mark.parametrize("role", ROLES)
def test_role_argument_specs_mirror_defaults(role):
    defaults = yaml.safe_load((REPO / "roles" / role / "defaults/main.yml").read_text()) or {}
    specs = yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text())
    main = specs["argument_specs"]["main"]
    documented = _spec_defaults(main)
    for name in defaults:
        assert name.startswith(role + "_"), "%s: variable %s lacks the role prefix" % (role, name)
    assert set(defaults) <= set(documented), "undocumented defaults: %s" % (set(defaults) - set(documented))
    for name, value in defaults.items():
        assert documented[name] == value, "%s: default %r in defaults/main.yml, %r in argument_specs" % (
            name,
            value,
            documented[name],
        )
    for name, opt in main["options"].items():
        assert name.startswith(role + "_")
        assert opt.get("description"), "%s has no description" % name
        if name not in defaults:
            assert opt.get("required") or opt.get("default") is None, (
                "%s has a spec default but none in defaults/main.yml" % name
            )


def test_private_common_fragment_documents_the_action_group():
    """Every module extends emergency.rollback._common, so its action_group entry documents them all."""
    source = (REPO / "plugins/doc_fragments/_common.py").read_text()
    assert "PRIVATE" in source.split("class ModuleDocFragment", 1)[0]
    tree = ast.parse(source)
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    [doc] = [ast.literal_eval(n.value) for n in cls.body if isinstance(n, ast.Assign)]
    group = yaml.safe_load(doc)["attributes"]["action_group"]
    runtime = yaml.safe_load((REPO / "meta/runtime.yml").read_text())
    assert group["support"] == "full"
    assert group["membership"] == ["emergency.rollback.%s" % name for name in runtime["action_groups"]]
