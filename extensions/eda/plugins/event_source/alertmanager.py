"""Event source plugin: Alertmanager webhook notifications, one event per alert.

An ansible-rulebook source (``async def main(queue, args)``) run on the controller, not a module.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web

DOCUMENTATION = r"""
---
short_description: Receive Alertmanager webhook notifications, one event per alert.
description:
  - An ansible-rulebook event source that listens for Alertmanager's webhook notifications
    (C(webhook_configs) of a receiver) and puts one event per alert on the queue, so rules
    match on a single alert's C(status), C(labels) and C(fingerprint).
  - Each event is C({"alert": <the alert as Alertmanager sent it>, "meta": {"receiver", "group_key",
    "endpoint"}}); the alert keeps Alertmanager's keys (C(status), C(labels), C(annotations),
    C(startsAt), C(endsAt), C(fingerprint), C(generatorURL)).
  - With O(host_label), an alert that carries that label names the host to roll back: its value
    (a C(:port) suffix dropped) goes to C(meta.hosts) with O(controller_hosts), and ansible-rulebook
    limits the rule's C(run_playbook) to those hosts. An alert without the label (a service-wide
    alert) is not narrowed: the rule's C(hosts) apply.
  - Request headers are not passed on, so the token never reaches a rule, a playbook or a log.
  - Answers C(202) to a notification it queued, C(401) to a wrong or missing token (nothing queued),
    C(400) to a body that is not an Alertmanager notification (nothing queued), and C(200 up) to
    C(GET /).
options:
  host:
    description:
      - The address to listen on. C(0.0.0.0) listens on every interface.
    type: str
    default: 127.0.0.1
  port:
    description:
      - The TCP port to listen on.
    type: int
    default: 5000
  token:
    description:
      - A shared token Alertmanager sends as C(Authorization: Bearer <token>)
        (C(http_config.authorization.credentials) of the webhook receiver).
      - When set, a notification without it, or with another one, is refused with C(401).
      - When empty, any notification is accepted: listen on loopback or behind a firewall then.
    type: str
    default: ""
  host_label:
    description:
      - The alert label whose value is the inventory host the alert is about, for example
        C(instance) (C(web2:9100) names C(web2)).
      - Empty (the default) narrows nothing.
    type: str
    default: ""
  controller_hosts:
    description:
      - Hosts kept in a narrowed run besides the alert's host. The rollback playbooks have plays
        on the controller (assess, verdict, report), so a limit must keep C(localhost).
    type: list
    elements: str
    default: [localhost]
"""

EXAMPLES = r"""
- name: Alerts that may roll back
  hosts: all
  sources:
    - emergency.rollback.alertmanager:
        host: 0.0.0.0
        port: 5000
        token: "{{ rollback_eda_token }}"
        host_label: instance
  rules:
    - name: Print firing alerts
      condition: event.alert.status == "firing"
      action:
        print_event:
"""

# ansible-rulebook loads sources with runpy: name the logger rather than take __name__
logger = logging.getLogger("emergency.rollback.alertmanager")
QUEUE = web.AppKey("queue", asyncio.Queue)
TOKEN = web.AppKey("token", str)
HOSTS = web.AppKey("hosts", tuple)


def authorized(header: str | None, token: str) -> bool:
    """True when no token is configured or the Authorization header carries it."""
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guess was right
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def host_of(value: str) -> str:
    """The host of an instance label: web2:9100 -> web2, [::1]:9100 -> ::1, a bare name as it is."""
    value = value.strip()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    name, sep, port = value.rpartition(":")
    # one colon and digits after it: host:port; more colons without brackets: an IPv6 address
    return name if sep and port.isdigit() and ":" not in name else value


def alert_events(
    payload: Any, endpoint: str, host_label: str = "", controller_hosts: tuple[str, ...] = ("localhost",)
) -> list[dict[str, Any]]:
    """The events of one notification; ValueError when it is not an Alertmanager notification."""
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise ValueError("not an Alertmanager notification: no alerts list")
    meta = {"receiver": payload.get("receiver"), "group_key": payload.get("groupKey"), "endpoint": endpoint}
    events = []
    for alert in payload["alerts"]:
        if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
            raise ValueError("not an Alertmanager notification: an alert without labels")
        event = {"alert": alert, "meta": dict(meta)}
        host = host_of(str(alert["labels"].get(host_label) or "")) if host_label else ""
        if host:
            event["meta"]["hosts"] = ",".join(dict.fromkeys([host, *controller_hosts]))
        events.append(event)
    return events


async def receive(request: web.Request) -> web.Response:
    if not authorized(request.headers.get("Authorization"), request.app[TOKEN]):
        logger.warning("refused a notification from %s: wrong or missing token", request.remote)
        return web.Response(status=401, text="wrong or missing token")
    try:
        host_label, controller_hosts = request.app[HOSTS]
        events = alert_events(
            await request.json(), request.match_info.get("endpoint", ""), host_label, controller_hosts
        )
    except (ValueError, json.JSONDecodeError) as err:
        return web.Response(status=400, text=str(err))
    for event in events:
        alert = event["alert"]
        logger.info(
            "alert %s %s fingerprint %s%s",
            alert["labels"].get("alertname", "?"),
            alert.get("status", "?"),
            alert.get("fingerprint", "?"),
            " hosts %s" % event["meta"]["hosts"] if "hosts" in event["meta"] else "",
        )
        await request.app[QUEUE].put(event)
    return web.Response(status=202, text="queued %d alerts" % len(events))


async def status(_request: web.Request) -> web.Response:
    return web.Response(text="up")


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """Serve the webhook until the rulebook stops the source."""
    app = web.Application()
    app[QUEUE] = queue
    app[TOKEN] = str(args.get("token") or "")
    controller_hosts = args.get("controller_hosts", ["localhost"])
    if isinstance(controller_hosts, str):
        controller_hosts = [h for h in controller_hosts.split(",") if h.strip()]
    app[HOSTS] = (str(args.get("host_label") or ""), tuple(str(h).strip() for h in controller_hosts))
    app.add_routes([web.get("/", status), web.post("/", receive), web.post("/{endpoint}", receive)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, args.get("host", "127.0.0.1"), int(args.get("port", 5000)))
    await site.start()
    try:
        await asyncio.Future()
    except asyncio.CancelledError:
        logger.info("alertmanager source stopped")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    # Run by hand: print the events instead of queueing them.
    class PrintQueue(asyncio.Queue):
        async def put(self, item):
            print(json.dumps(item))  # noqa: T201

    asyncio.run(main(PrintQueue(), {}))
