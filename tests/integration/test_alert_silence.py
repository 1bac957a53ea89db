"""alert_silence against a real Alertmanager (Debian's prometheus-alertmanager)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

MODULE = "emergency.rollback.alert_silence"


def active(alertmanager, service):
    return [
        s
        for s in alertmanager.silences()
        if s["status"]["state"] == "active"
        and {"name": "service", "value": service} in [{"name": m["name"], "value": m["value"]} for m in s["matchers"]]
    ]


def test_silence_then_expire_four_runs_each(alertmanager, four, state_dir):
    args = {
        "alertmanager_url": alertmanager.url,
        "matchers": [{"name": "service", "value": "shop"}, {"name": "env", "value": "prod|staging", "is_regex": True}],
        "duration": "30m",
        "run_id": "rb-silence",
        "state_dir": str(state_dir),
    }
    results = four(MODULE, args)
    assert results[0]["silence"]["id"] is None and results[0]["diff"]["after"] == {"silences": ["(new)"]}
    [silence] = active(alertmanager, "shop")
    assert results[1]["silence"]["id"] == silence["id"] == results[3]["silence"]["id"]
    assert (
        silence["createdBy"] == "emergency.rollback"
        and silence["comment"] == "emergency rollback rb-silence in progress"
    )
    assert {"name": "env", "value": "prod|staging", "isRegex": True, "isEqual": True} in silence["matchers"]
    assert "service=shop" in results[1]["msg"] and "env=~prod|staging" in results[1]["msg"]

    results = four(MODULE, dict(args, state="absent"))
    assert results[0]["expired"] == results[1]["expired"] == [silence["id"]]
    assert results[2]["expired"] == results[3]["expired"] == []
    assert active(alertmanager, "shop") == []
    lines = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(e["component"], e["action"], e["result"]) for e in lines] == [
        ("alerts", "silence", "changed"),
        ("alerts", "silence", "ok"),
        ("alerts", "unsilence", "changed"),
        ("alerts", "unsilence", "ok"),
    ]


def test_silence_is_expired_when_the_rollback_fails(alertmanager, playbook, state_dir):
    common = {
        "alertmanager_url": alertmanager.url,
        "matchers": [{"name": "service", "value": "billing"}],
        "state_dir": str(state_dir),
    }
    play = {
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {
                "block": [
                    {"name": "silence", MODULE: common, "register": "silence"},
                    {"name": "silence on", "ansible.builtin.assert": {"that": "silence.silence.id | length > 0"}},
                    {"name": "the rollback fails", "ansible.builtin.fail": {"msg": "verify failed"}},
                ],
                "always": [
                    {"name": "unsilence", MODULE: dict(common, state="absent", silence_id="{{ silence.silence.id }}")}
                ],
            }
        ],
    }
    run = playbook(play)
    assert run.rc != 0 and run.result("the rollback fails")["msg"] == "verify failed"
    assert run.result("unsilence")["expired"] == [run.result("silence")["silence"]["id"]]
    assert active(alertmanager, "billing") == []


def test_no_url_is_skipped_with_a_note(task, state_dir):
    event, res, _run = task(MODULE, {"matchers": [{"name": "service", "value": "shop"}], "state_dir": str(state_dir)})
    assert event == "runner_on_ok" and res["changed"] is False and res["silenced"] is False
    assert res["warnings"] == ["no Alertmanager URL configured: alerts are not silenced"]
    assert res["msg"] == "no Alertmanager URL configured: alerts are not silenced"
    assert not (state_dir / "journal.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"alertmanager_url": "http://127.0.0.1:9"}, "state is present but all of the following are missing: matchers"),
        ({"alertmanager_url": "http://127.0.0.1:9", "state": "absent"}, "state=absent needs silence_id or matchers"),
        (
            {"alertmanager_url": "http://127.0.0.1:9", "matchers": [{"name": "a", "value": "b"}]},
            "cannot silence a=b in Alertmanager: GET http://127.0.0.1:9/api/v2/silences failed",
        ),
        (
            {
                "alertmanager_url": "http://127.0.0.1:9",
                "matchers": [{"name": "a", "value": "b"}],
                "duration": "a while",
            },
            "duration must be seconds or a number",
        ),
    ],
)
def test_bad_input_or_unreachable_fails_in_one_line(task, state_dir, args, message):
    event, res, _run = task(MODULE, dict(args, state_dir=str(state_dir)))
    assert event == "runner_on_failed" and message in res["msg"] and "\n" not in res["msg"]
