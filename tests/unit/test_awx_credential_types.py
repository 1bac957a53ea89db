"""AWX custom credential types: AWX's shape, and they inject variables the roles really read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from rollbackctl import survey

REPO = Path(__file__).resolve().parents[2]
TYPES = sorted((REPO / "awx" / "credential_types").glob("*.yml"))
FIELD_REF = re.compile(r"\{\{\s*(\w+)")


def role_options():
    options = {}
    for path in REPO.glob("roles/*/meta/argument_specs.yml"):
        options.update(yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"])
    return options


OPTIONS = role_options()


def test_the_secrets_of_every_role_have_a_credential_type():
    injected = set()
    for path in TYPES:
        injected |= set(yaml.safe_load(path.read_text())["injectors"].get("extra_vars", {}))
    secrets = {name for name, spec in OPTIONS.items() if spec.get("no_log") or survey.SECRET.search(name)}
    assert secrets - injected == set()


@pytest.mark.parametrize("path", TYPES, ids=[p.stem for p in TYPES])
def test_credential_type_has_awx_shape(path):
    definition = yaml.safe_load(path.read_text())
    assert set(definition) <= {"name", "description", "kind", "inputs", "injectors"}
    assert isinstance(definition["name"], str) and definition["name"]
    assert definition["kind"] == "cloud"  # the only kinds AWX accepts for custom types: cloud, net
    fields = definition["inputs"]["fields"]
    ids = [f["id"] for f in fields]
    assert len(ids) == len(set(ids))
    for field in fields:
        assert set(field) <= {"id", "label", "type", "secret", "help_text", "multiline", "format", "default"}
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", field["id"])
        assert field["label"] and field["type"] in ("string", "boolean")
    assert set(definition["inputs"].get("required", [])) <= set(ids)
    injectors = definition["injectors"]
    assert injectors and set(injectors) <= {"env", "extra_vars", "file"}
    for template in [v for group in injectors.values() for v in group.values()]:
        assert set(FIELD_REF.findall(template)) <= set(ids), template


@pytest.mark.parametrize("path", TYPES, ids=[p.stem for p in TYPES])
def test_injected_variables_exist_and_secrets_stay_secret(path):
    definition = yaml.safe_load(path.read_text())
    secret_fields = {f["id"] for f in definition["inputs"]["fields"] if f.get("secret")}
    for variable, template in definition["injectors"].get("extra_vars", {}).items():
        assert variable in OPTIONS, "%s injects %s, which no role's argument spec has" % (path.name, variable)
        assert OPTIONS[variable]["type"] == "str"
        fields = set(FIELD_REF.findall(template))
        secret = OPTIONS[variable].get("no_log") or survey.SECRET.search(variable)
        assert bool(fields & secret_fields) == bool(secret), variable
