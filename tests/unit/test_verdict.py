"""rollbackctl's verdicts and exit codes, from runner events shaped as ansible-runner writes them."""

from __future__ import annotations

import pytest

from rollbackctl.verdict import EXIT_FAILED, EXIT_NOT_VERIFIED, EXIT_OK, read_events


def ok(host, action="command", changed=False, journal=None, task="t"):
    res = {"changed": changed}
    if journal:
        res["journal_entry"] = journal
    return {"event": "runner_on_ok", "event_data": {"host": host, "task": task, "task_action": action, "res": res}}


def failed(host, msg, task="t", ignore=False):
    data = {"host": host, "task": task, "task_action": "x", "res": {"msg": msg}, "ignore_errors": ignore}
    return {"event": "runner_on_failed", "event_data": data}


def stats(failures=(), rescued=()):
    data = {"failures": {h: 1 for h in failures}, "rescued": {h: 1 for h in rescued}}
    return {"event": "playbook_on_stats", "event_data": data}


VERIFY_OK = {"component": "app", "action": "verify", "result": "ok", "message": "healthy"}
NOT_VERIFIED = {"component": "app", "action": "verify", "result": "not_verified", "message": "not verified: no URLs"}


@pytest.mark.parametrize(
    ("events", "word", "code"),
    [
        (
            [ok("h", "emergency.rollback.release", True), ok("h", "health_check", journal=VERIFY_OK), stats()],
            "verified",
            EXIT_OK,
        ),
        (
            [ok("h", "emergency.rollback.release", True), ok("h", "journal_record", True, NOT_VERIFIED), stats()],
            "changed, not verified",
            EXIT_NOT_VERIFIED,
        ),
        # journal_record and lock report changed: true, which is bookkeeping, not a change
        (
            [ok("h", "emergency.rollback.lock", True), ok("h", "journal_record", True, NOT_VERIFIED), stats()],
            "unchanged, not verified",
            EXIT_NOT_VERIFIED,
        ),
        ([ok("h"), stats()], "unchanged, not verified", EXIT_NOT_VERIFIED),
        ([failed("h", "boom", task="Check"), stats(failures=["h"])], "failed", EXIT_FAILED),
        # a failure a rescue handled, then verified: the recap counts no failure for the host
        ([failed("h", "flaky"), ok("h", "health_check", journal=VERIFY_OK), stats(rescued=["h"])], "verified", EXIT_OK),
        (
            [failed("h", "ignored", ignore=True), ok("h", "health_check", journal=VERIFY_OK), stats()],
            "verified",
            EXIT_OK,
        ),
        (
            [{"event": "runner_on_unreachable", "event_data": {"host": "h", "res": {"msg": "ssh: no route"}}}, stats()],
            "unreachable",
            EXIT_FAILED,
        ),
    ],
)
def test_verdicts_and_exit_codes(events, word, code):
    outcome = read_events(events)
    assert outcome.hosts["h"].verdict()[0] == word
    assert outcome.exit_code(0) == code


def test_failed_verdict_names_task_and_first_error():
    outcome = read_events([failed("h", "first\n error", task="Check"), failed("h", "second"), stats(failures=["h"])])
    assert outcome.hosts["h"].verdict() == ("failed", "Check: first error")


def test_no_host_and_ansible_error_lines():
    text = "PLAY [x]\n[WARNING]: Could not match supplied host pattern, ignoring: nosuch\n[ERROR]: no hosts\n"
    outcome = read_events([{"event": "playbook_on_no_hosts_matched", "event_data": {"play_pattern": "web"}}], text)
    assert not outcome.hosts and outcome.exit_code(0) == EXIT_FAILED
    assert outcome.no_hosts_matched == ["web"] and len(outcome.errors) == 2


def test_check_mode_words():
    outcome = read_events([ok("h", "emergency.rollback.release", True), stats()])
    assert outcome.hosts["h"].verdict(check=True)[0] == "would change"
    assert outcome.exit_code(0, check=True) == EXIT_OK
    assert outcome.exit_code(2, check=True) == EXIT_FAILED


def test_a_limit_name_no_host_has_is_not_matched():
    text = "[WARNING]: Could not match supplied host pattern, ignoring: ghost\n"
    events = [ok("h", "health_check", journal=VERIFY_OK), stats()]
    outcome = read_events(events, text, limit="h,ghost")
    assert outcome.hosts["ghost"].verdict()[0] == "not matched"
    assert outcome.hosts["h"].verdict()[0] == "verified"
    assert outcome.exit_code(0) == EXIT_FAILED


def play(pattern):
    return {"event": "playbook_on_play_start", "event_data": {"pattern": pattern, "play_pattern": pattern}}


def test_localhost_of_controller_plays_does_not_count():
    # rollback_complete: announcements and smoke checks on localhost, the components on the target
    events = [
        play("localhost"),
        ok("localhost", "notify"),
        play("web"),
        ok("web1", "emergency.rollback.release", True),
        ok("web1", "health_check", journal=VERIFY_OK),
        play("localhost"),
        ok("localhost", "health_check"),
        stats(),
    ]
    outcome = read_events(events)
    assert outcome.hosts["localhost"].verdict()[0] == "controller"
    assert outcome.hosts["web1"].verdict()[0] == "verified"
    assert outcome.exit_code(0) == EXIT_OK


@pytest.mark.parametrize(
    "events",
    [
        # localhost is an inventory host of a component play: it is a target
        [play("localhost"), ok("localhost"), play("web"), ok("localhost"), stats()],
        # a change on localhost needs a verify like any other
        [play("localhost"), ok("localhost", "emergency.rollback.release", True), stats()],
        # only controller plays ran: no target was verified
        [play("localhost"), ok("localhost"), stats()],
    ],
)
def test_localhost_counts_when_it_is_a_target_or_changed(events):
    outcome = read_events(events)
    assert outcome.hosts["localhost"].verdict()[0] != "controller" or len(outcome.hosts) == 1
    assert outcome.exit_code(0) == EXIT_NOT_VERIFIED
