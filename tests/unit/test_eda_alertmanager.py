"""The Alertmanager event source, fed real HTTP requests on a free port."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path

import aiohttp
import pytest

from tests.harness.services import free_port

PLUGIN = Path(__file__).resolve().parents[2] / "extensions/eda/plugins/event_source/alertmanager.py"
spec = importlib.util.spec_from_file_location("eda_alertmanager", PLUGIN)
source = importlib.util.module_from_spec(spec)
spec.loader.exec_module(source)


def notification(*alerts, status="firing"):
    """An Alertmanager webhook body (version 4) carrying the given alerts."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="AppErrorRateHigh"}',
        "status": status,
        "receiver": "rollback",
        "groupLabels": {"alertname": "AppErrorRateHigh"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "truncatedAlerts": 0,
        "alerts": list(alerts),
    }


def alert(fingerprint, service="checkout", status="firing"):
    return {
        "status": status,
        "labels": {"alertname": "AppErrorRateHigh", "service": service, "severity": "critical"},
        "annotations": {"summary": "error rate above 5%"},
        "startsAt": "2026-11-26T21:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph",
        "fingerprint": fingerprint,
    }


def exchange(args, requests):
    """Start the source with args, send requests [(method, path, headers, body)], stop it.

    Returns the (status, text) answers and the events the source queued.
    """

    async def scenario():
        queue = asyncio.Queue()
        port = free_port()
        task = asyncio.create_task(source.main(queue, {"host": "127.0.0.1", "port": port, **args}))
        answers = []
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # until the server listens
                try:
                    async with session.get("http://127.0.0.1:%d/" % port) as reply:
                        assert (reply.status, await reply.text()) == (200, "up")
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            for method, path, headers, body in requests:
                data = body if isinstance(body, str) else json.dumps(body)
                url = "http://127.0.0.1:%d%s" % (port, path)
                async with session.request(method, url, headers=headers, data=data) as reply:
                    answers.append((reply.status, await reply.text()))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        events = []
        while not queue.empty():
            events.append(queue.get_nowait())
        return answers, events

    return asyncio.run(scenario())


def test_one_event_per_alert_with_labels_and_fingerprint():
    body = notification(alert("aaa1"), alert("bbb2", service="billing"))
    answers, events = exchange({}, [("POST", "/alerts", {}, body)])
    assert answers == [(202, "queued 2 alerts")]
    assert [e["alert"]["fingerprint"] for e in events] == ["aaa1", "bbb2"]
    assert events[0]["alert"] == body["alerts"][0]
    assert events[1]["alert"]["labels"]["service"] == "billing"
    assert events[0]["meta"] == {"receiver": "rollback", "group_key": body["groupKey"], "endpoint": "alerts"}


def test_resolved_alerts_are_passed_on_with_their_status():
    body = notification(alert("aaa1", status="resolved"), status="resolved")
    answers, events = exchange({}, [("POST", "/", {}, body)])
    assert answers == [(202, "queued 1 alerts")]
    assert [e["alert"]["status"] for e in events] == ["resolved"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic s3cret-token"}, 401),
        ({"Authorization": "Bearer s3cret-token"}, 202),
        ({"Authorization": "bearer s3cret-token"}, 202),
    ],
)
def test_token_is_checked_and_never_passed_on(headers, expected):
    answers, events = exchange({"token": "s3cret-token"}, [("POST", "/", headers, notification(alert("aaa1")))])
    assert answers[0][0] == expected
    if expected == 401:
        assert answers[0][1] == "wrong or missing token" and events == []
    else:
        [event] = events
        assert "s3cret-token" not in json.dumps(event)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "Expecting value"),
        ({"status": "firing"}, "no alerts list"),
        (notification({"fingerprint": "x"}), "an alert without labels"),
        ([1, 2], "no alerts list"),
    ],
)
def test_what_is_not_a_notification_is_refused_and_nothing_queued(body, reason):
    answers, events = exchange({}, [("POST", "/", {}, body)])
    assert answers[0][0] == 400 and reason in answers[0][1]
    assert events == []


def test_authorized_without_a_token_accepts_anything():
    assert source.authorized(None, "")
    assert not source.authorized(None, "t")
    assert source.authorized("Bearer t", "t")


def test_host_label_narrows_the_run_to_the_alerts_host_and_the_controller():
    on_web2 = alert("aaa1")
    on_web2["labels"]["instance"] = "web2:9100"
    service_wide = alert("bbb2")  # no instance label: the rule's hosts apply
    body = notification(on_web2, service_wide)
    answers, events = exchange({"host_label": "instance"}, [("POST", "/", {}, body)])
    assert answers == [(202, "queued 2 alerts")]
    assert events[0]["meta"]["hosts"] == "web2,localhost"
    assert "hosts" not in events[1]["meta"]
    # without host_label nothing is narrowed, whatever the labels
    _answers, events = exchange({}, [("POST", "/", {}, notification(on_web2))])
    assert "hosts" not in events[0]["meta"]
    _answers, events = exchange(
        {"host_label": "instance", "controller_hosts": ["ctl", "localhost"]}, [("POST", "/", {}, notification(on_web2))]
    )
    assert events[0]["meta"]["hosts"] == "web2,ctl,localhost"


@pytest.mark.parametrize(
    "value, host",
    [
        ("web2:9100", "web2"),
        ("web2", "web2"),
        ("10.0.0.7:9100", "10.0.0.7"),
        ("[::1]:9100", "::1"),
        ("fe80::1", "fe80::1"),
    ],
)
def test_host_of_an_instance_label(value, host):
    assert source.host_of(value) == host
