"""AWX/AAP job-template survey specs generated from the roles' meta/argument_specs.yml.

`rollbackctl survey rollback_app > survey.json` prints the survey of the roles a playbook runs,
in the format AWX's /api/v2/job_templates/<id>/survey_spec/ takes. Generated, never hand-written:
a test fails when the specs shipped in awx/surveys/ differ from what this makes (`make surveys`).

Playbooks that run several roles through the role frame (rollback_complete, auto_rollback, ...)
are described in awx/survey_specs.yml: their own variables, the roles they run and the role options
they set themselves (never asked: an answer would override them).

What a survey can ask: scalars, and lists with choices (multiselect). Other lists and dicts (AWX
has no such question type) and options whose default is a Jinja expression (plumbing derived
from playbook-level vars; AWX passes answers as unsafe strings, so a templated default would
arrive as literal text) are left to the template's extra vars or the inventory. Secrets become
`password` questions, but belong in credentials (awx/credential_types/).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from rollbackctl.collection import NAME, NAMESPACE, UsageError, find_collection, resolve_playbook

# Option names that hold a secret although the spec does not say no_log (URLs carrying tokens too).
SECRET = re.compile(r"(password|secret|token|api_key|slack_url|webhook_url)$")
TEXT_MAX = 1024  # what AWX's UI offers for a text answer
SCALARS = {"str", "path", "int", "float", "bool"}
# AWX's question types and the Python type of their default (its survey_spec API checks these).
DEFAULT_TYPES = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": str,
    "integer": int,
    "float": (int, float),
}
MARKUP = re.compile(r"\b[OVCIE]\(([^)]*)\)")


def plain(text):
    """A description as one plain line: Ansible doc markup O(x), V(x), C(x) without the markers."""
    if isinstance(text, list):
        text = " ".join(text)
    return " ".join(MARKUP.sub(r"\1", str(text or "")).split())


def playbook_roles(playbook_path):
    """Roles of this collection a playbook runs, in order (FQCN or short name)."""
    plays = yaml.safe_load(Path(playbook_path).read_text()) or []
    names = []
    for play in plays:
        for entry in play.get("roles") or []:
            name = entry.get("role") or entry.get("name") if isinstance(entry, dict) else entry
            short = str(name).rpartition(".")[2] if str(name).startswith("%s.%s." % (NAMESPACE, NAME)) else name
            if short not in names:
                names.append(short)
    return names


def question(variable, spec):
    """One AWX survey question for a role option, or None when a survey cannot ask it."""
    kind = spec.get("type", "str")
    default = spec.get("default")
    choices = [str(c) for c in spec.get("choices") or []]
    if kind == "list" and choices and spec.get("elements", "str") == "str":
        return {
            "question_name": variable,
            "question_description": plain(spec.get("description")),
            "variable": variable,
            "required": bool(spec.get("required", False)),
            "type": "multiselect",
            "choices": choices,
            "default": "\n".join(str(d) for d in default or []),
        }
    if kind not in SCALARS or (isinstance(default, str) and "{{" in default):
        return None
    item = {
        "question_name": variable,
        "question_description": plain(spec.get("description")),
        "variable": variable,
        "required": bool(spec.get("required", False)),
    }
    if kind == "bool":
        # AWX answers are strings; the roles read these options through `| bool`-safe validation.
        item.update(type="multiplechoice", choices=["true", "false"], default="true" if default else "false")
    elif choices:
        item.update(type="multiplechoice", choices=choices, default="" if default is None else str(default))
    elif kind in ("int", "float"):
        # Counts, seconds and ports: never negative.
        item.update(type="integer" if kind == "int" else "float", min=0)
        item["default"] = "" if default is None else (int(default) if kind == "int" else float(default))
    else:
        secret = spec.get("no_log") or SECRET.search(variable)
        item.update(
            type="password" if secret else "text",
            min=1 if item["required"] else 0,
            max=TEXT_MAX,
            # A password default would be stored in the template; credentials hold secrets.
            default="" if secret or default is None else str(default),
        )
    return item


def playbook_specs(root):
    """awx/survey_specs.yml: the surveys of the playbooks that run roles through the frame."""
    path = root / "awx" / "survey_specs.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def role_survey(root, role):
    specs_file = root / "roles" / role / "meta" / "argument_specs.yml"
    if not specs_file.is_file():
        raise UsageError("role %s has no meta/argument_specs.yml" % role)
    main = (yaml.safe_load(specs_file.read_text()) or {}).get("argument_specs", {}).get("main", {})
    items = [question(name, spec or {}) for name, spec in (main.get("options") or {}).items()]
    return main, [i for i in items if i]


def build(playbook, root=None):
    """The survey spec (a dict) for a playbook given as the rollbackctl run accepts it."""
    root = root or find_collection()
    path = resolve_playbook(playbook, root)
    described = playbook_specs(root).get(path.stem) or {}
    roles = described.get("roles") or playbook_roles(path)
    if not roles:
        raise UsageError("playbook %s runs no role of the collection: nothing to ask" % path.name)
    spec = [question(name, opt or {}) for name, opt in (described.get("options") or {}).items()]
    spec = [item for item in spec if item]
    descriptions = [plain(described.get("short_description"))]
    sets = set(described.get("sets") or [])
    for role in roles:
        main, items = role_survey(root, role)
        descriptions.append(plain(main.get("short_description")))
        for item in items:
            if item["variable"] in sets:
                continue
            if described:
                # the role may not run at all (rollback_components): it checks its own inputs when it does
                item["required"] = False
                if item["type"] in ("text", "textarea", "password"):
                    item["min"] = 0
            spec.append(item)
    return {
        "name": "%s.%s.%s" % (NAMESPACE, NAME, path.stem),
        "description": "; ".join(d for d in descriptions if d),
        "spec": spec,
    }


def validate(survey):
    """AWX's survey_spec checks, as a list of problems (empty when AWX would accept it)."""
    problems = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(survey.get(field), kind):
            problems.append("%s must be a %s" % (field, kind.__name__))
    if problems:
        return problems
    if not survey["spec"]:
        problems.append("spec has no items")
    seen = set()
    for idx, item in enumerate(survey["spec"]):
        where = "question %d (%s)" % (idx, item.get("variable"))
        for field, kind in (("question_name", str), ("variable", str), ("type", str), ("required", bool)):
            if not isinstance(item.get(field), kind):
                problems.append("%s: %s must be a %s" % (where, field, kind.__name__))
        if item.get("variable") in seen:
            problems.append("%s: variable duplicated" % where)
        seen.add(item.get("variable"))
        qtype = item.get("type")
        if qtype not in DEFAULT_TYPES:
            problems.append("%s: type %r is not an AWX question type" % (where, qtype))
            continue
        default = item.get("default", "")
        if default != "" and (not isinstance(default, DEFAULT_TYPES[qtype]) or isinstance(default, bool)):
            problems.append("%s: default %r is not a %s" % (where, default, qtype))
        for key in ("min", "max"):
            if item.get(key) is not None and not isinstance(item[key], int):
                problems.append("%s: %s must be an integer" % (where, key))
        if qtype in ("multiplechoice", "multiselect"):
            choices = item.get("choices")
            if isinstance(choices, str):
                choices = [c for c in choices.splitlines() if c.strip()]
            if not choices:
                problems.append("%s: a %s question needs choices" % (where, qtype))
                continue
            defaults = default.splitlines() if isinstance(default, str) else list(default)
            if qtype == "multiplechoice" and len(defaults) > 1:
                problems.append("%s: a multiplechoice question has one default" % where)
            if any(d not in choices for d in defaults):
                problems.append("%s: default %r is not among the choices %s" % (where, default, choices))
        if isinstance(default, str) and default.startswith("$encrypted$"):
            problems.append("%s: $encrypted$ is reserved for stored password defaults" % where)
        if qtype in ("text", "textarea", "password") and isinstance(default, str) and default:
            if len(default) < item.get("min", 0) or len(default) > item.get("max", len(default)):
                problems.append("%s: default is outside min/max length" % where)
        if qtype in ("integer", "float") and default != "":
            if default < item.get("min", default) or default > item.get("max", default):
                problems.append("%s: default %s is outside min/max" % (where, default))
    return problems


def shipped_playbooks(root):
    """Playbooks that run roles of the collection: the ones a survey is shipped for."""
    described = playbook_specs(root)
    return [p for p in sorted((root / "playbooks").glob("*.yml")) if p.stem in described or playbook_roles(p)]


def dumps(survey):
    return json.dumps(survey, indent=2, sort_keys=False) + "\n"


def add_parser(sub):
    p = sub.add_parser("survey", help="print the AWX survey spec of a playbook, from the roles' argument specs")
    p.add_argument("playbook", nargs="?", help="a collection playbook (app, rollback_cache, ...) or a path")
    p.add_argument(
        "--write", metavar="DIR", help="write <playbook>.json for every playbook that runs a role into DIR instead"
    )


def cmd_survey(args):
    root = find_collection()
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        for path in shipped_playbooks(root):
            (out / ("%s.json" % path.stem)).write_text(dumps(build(str(path), root)))
        return 0
    if not args.playbook:
        raise UsageError("survey needs a playbook (or --write DIR)")
    survey = build(args.playbook, root)
    problems = validate(survey)
    if problems:
        raise UsageError("generated survey would not pass AWX's checks: %s" % problems[0])
    print(dumps(survey), end="")
    return 0
