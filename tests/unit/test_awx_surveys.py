"""AWX survey specs: generated from the roles' argument specs, accepted by AWX's rules, shipped without drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rollbackctl import cli, survey

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "awx" / "surveys"
PLAYBOOKS = [p.stem for p in survey.shipped_playbooks(REPO)]


def role_options(role):
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


def test_every_role_playbook_has_a_survey():
    expected = {"rollback_app", "rollback_cache", "rollback_database", "rollback_ssl", "rollback_webhooks"}
    assert set(PLAYBOOKS) >= expected
    assert sorted(p.stem for p in SHIPPED.glob("*.json")) == sorted(PLAYBOOKS)


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_shipped_survey_has_not_drifted(playbook):
    shipped = (SHIPPED / ("%s.json" % playbook)).read_text()
    assert shipped == survey.dumps(survey.build(playbook, REPO)), "awx/surveys/%s.json is stale: run make surveys" % (
        playbook
    )


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_survey_passes_awx_rules(playbook):
    spec = json.loads((SHIPPED / ("%s.json" % playbook)).read_text())
    assert survey.validate(spec) == []


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_questions_follow_the_argument_specs(playbook):
    spec = json.loads((SHIPPED / ("%s.json" % playbook)).read_text())
    described = survey.playbook_specs(REPO).get(playbook, {})
    options = dict(described.get("options") or {})
    for role in described.get("roles") or survey.playbook_roles(REPO / "playbooks" / ("%s.yml" % playbook)):
        options.update(role_options(role))
    for item in spec["spec"]:
        option = options[item["variable"]]
        if option.get("choices") and option["type"] == "list":
            assert item["type"] == "multiselect"
            assert item["choices"] == [str(c) for c in option["choices"]]
        elif option.get("choices"):
            assert item["type"] == "multiplechoice"
            assert item["choices"] == [str(c) for c in option["choices"]]
            assert item["default"] == str(option["default"])
        else:
            assert option["type"] not in ("list", "dict", "raw")
        if option.get("no_log"):
            assert item["type"] == "password"
    asked = {item["variable"] for item in spec["spec"]}
    left_out = {name for name, o in options.items() if o.get("type") in ("dict", "raw")}
    left_out |= {name for name, o in options.items() if o.get("type") == "list" and not o.get("choices")}
    assert not asked & left_out


def test_secrets_are_password_questions_without_defaults():
    by_var = {}
    for playbook in PLAYBOOKS:
        by_var.update({i["variable"]: i for i in survey.build(playbook, REPO)["spec"]})
    for name in (
        "database_login_password",
        "cache_redis_password",
        "cache_cdn_token",
        "webhooks_stripe_api_key",
        "webhooks_square_access_token",
        "webhooks_notify_slack_url",
        "webhooks_notify_webhook_secret",
        "webhooks_notify_smtp_password",
    ):
        assert by_var[name]["type"] == "password", name
        assert by_var[name]["default"] == "", name
    assert by_var["cache_cdn_token_header"]["type"] == "text"  # a header name, not a secret


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"type": "multiplechoice", "choices": ["a", "b"], "default": "c"}, "not among the choices"),
        ({"type": "multiplechoice", "default": "a"}, "needs choices"),
        ({"type": "integer", "default": "5"}, "is not a integer"),
        ({"type": "integer", "default": 5, "min": 6}, "outside min/max"),
        ({"type": "text", "default": "abc", "max": 2}, "outside min/max length"),
        ({"type": "boolean", "default": True}, "not an AWX question type"),
        ({"type": "text", "default": "$encrypted$"}, "reserved"),
    ],
)
def test_validate_catches_what_awx_refuses(item, problem):
    base = {"question_name": "q", "variable": "v", "required": False}
    spec = {"name": "n", "description": "", "spec": [dict(base, **item)]}
    assert any(problem in p for p in survey.validate(spec)), survey.validate(spec)


def test_validate_catches_duplicate_variables():
    item = {"question_name": "q", "variable": "v", "required": False, "type": "text", "default": ""}
    assert survey.validate({"name": "n", "description": "", "spec": [item, item]}) == [
        "question 1 (v): variable duplicated"
    ]


def test_cli_prints_the_survey(capsys):
    assert cli.main(["survey", "emergency.rollback.rollback_app"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == survey.build("rollback_app", REPO)
    assert printed["name"] == "emergency.rollback.rollback_app"


def test_cli_refuses_a_playbook_without_roles(capsys):
    assert cli.main(["survey", "status"]) == 2
    assert "runs no role" in capsys.readouterr().err


DESCRIBED = yaml.safe_load((REPO / "awx" / "survey_specs.yml").read_text())


def playbook_text(name):
    """The playbook and the playbooks it imports, as text."""
    path = REPO / "playbooks" / ("%s.yml" % name)
    text = path.read_text()
    for play in yaml.safe_load(text):
        imported = play.get("ansible.builtin.import_playbook")
        if imported:
            text += playbook_text(Path(imported).stem)
    return text


@pytest.mark.parametrize("name", sorted(k for k in DESCRIBED if (REPO / "playbooks" / ("%s.yml" % k)).is_file()))
def test_described_playbook_variables_exist(name):
    described, text = DESCRIBED[name], playbook_text(name)
    unused = [option for option in described["options"] if option not in text]
    assert unused == [], "awx/survey_specs.yml asks %s, which playbooks/%s.yml never reads" % (unused, name)
    options_of_roles = {option for role in described["roles"] for option in role_options(role)}
    assert set(described["sets"]) <= options_of_roles
    asked = {item["variable"] for item in json.loads((SHIPPED / ("%s.json" % name)).read_text())["spec"]}
    assert asked.isdisjoint(described["sets"]), "a survey answer would override what the playbook sets"


def test_complete_survey_asks_components_as_multiselect():
    spec = json.loads((SHIPPED / "rollback_complete.json").read_text())["spec"]
    components = next(item for item in spec if item["variable"] == "rollback_components")
    assert components["type"] == "multiselect"
    assert components["choices"] == ["database", "app", "ssl", "cache", "webhooks"]
    assert not any(item["required"] for item in spec if not item["variable"].startswith("rollback_"))
