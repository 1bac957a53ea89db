#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: notify
short_description: Announce a rollback event to Slack-compatible webhooks, signed JSON webhooks or email, with retries
version_added: 0.1.0
description:
  - Sends one rollback event (status, severity, component, hosts, from -> to, duration, link to
    the incident report) to one target.
  - V(slack) posts a Slack-compatible incoming-webhook message (fallback C(text) plus Block Kit
    C(blocks)); Mattermost and Rocket.Chat accept the same shape.
  - V(webhook) posts a JSON document. With O(secret) it is signed with HMAC-SHA256 over
    C(<timestamp>.<body>); the timestamp goes in O(timestamp_header) and C(sha256=<hex>) in
    O(signature_header), so the receiver can verify it and refuse replays.
  - V(email) sends a plain-text mail through an SMTP server with Python's smtplib.
  - Network errors, HTTP 429 and 5xx are retried, waiting what C(Retry-After) says or else
    backing off exponentially; temporary SMTP errors are retried too.
  - A notification that cannot be sent does not fail the rollback; it returns RV(sent=false)
    with a warning, unless O(required=true).
  - The webhook URL carries a token, so it is never shown; results name the target as
    C(scheme://host/********).
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Nothing is sent; the task reports the change it would make and the payload.
  diff_mode:
    support: none
    description: A message is sent, no state changes, so there is no difference to show.
options:
  kind:
    description:
      - Where the event goes.
    type: str
    required: true
    choices: [slack, webhook, email]
  url:
    description:
      - Incoming-webhook URL (V(slack), V(webhook)). It is treated as a secret.
    type: str
  status:
    description:
      - What happened.
    type: str
    choices: [started, succeeded, failed, reverted, aborted]
    default: succeeded
  severity:
    description:
      - Severity of the incident.
    type: str
    choices: [info, warning, critical]
    default: info
  component:
    description:
      - Component that was rolled back (C(app), C(database), C(webhooks) ...), or C(rollback) for all.
    type: str
    default: rollback
  hosts:
    description:
      - Hosts concerned.
    type: list
    elements: str
    default: []
  rollback_from:
    description:
      - Release, revision or snapshot rolled back from.
    type: str
  rollback_to:
    description:
      - Release, revision or snapshot rolled back to.
    type: str
  duration_s:
    description:
      - How long the rollback took, in seconds.
    type: float
  report_url:
    description:
      - Link to the incident report.
    type: str
  summary:
    description:
      - Free text added to the event (Slack mrkdwn is allowed for V(slack)).
    type: str
  payload_extra:
    description:
      - Fields merged into the JSON document of V(webhook).
    type: dict
    default: {}
  headers:
    description:
      - Extra request headers for V(slack) and V(webhook). Put credentials in O(bearer_token).
    type: dict
    default: {}
  bearer_token:
    description:
      - 'Sent as C(Authorization: Bearer <token>) with V(webhook).'
    type: str
  secret:
    description:
      - Shared secret that signs V(webhook) requests with HMAC-SHA256.
    type: str
  signature_header:
    description:
      - 'Header carrying C(sha256=<hex of HMAC-SHA256(secret, "<timestamp>." + body)>).'
    type: str
    default: X-Rollback-Signature
  timestamp_header:
    description:
      - Header carrying the Unix timestamp that was signed.
    type: str
    default: X-Rollback-Timestamp
  smtp_host:
    description:
      - SMTP server for V(email).
    type: str
    default: localhost
  smtp_port:
    description:
      - SMTP port.
    type: int
    default: 25
  smtp_username:
    description:
      - Log in to the SMTP server with this user.
    type: str
  smtp_password:
    description:
      - Password of O(smtp_username).
    type: str
  smtp_starttls:
    description:
      - Upgrade the SMTP connection with STARTTLS before logging in.
    type: bool
    default: false
  smtp_ssl:
    description:
      - Connect with implicit TLS (usually port 465).
    type: bool
    default: false
  sender:
    description:
      - C(From) address of V(email).
    type: str
  recipients:
    description:
      - Addresses V(email) goes to.
    type: list
    elements: str
  subject:
    description:
      - 'Subject of V(email); defaults to C([SEVERITY] Rollback <status>: <component>).'
    type: str
  required:
    description:
      - Fail the task when the notification cannot be sent. By default a failure is only a
        warning, so an unreachable chat service never fails a rollback.
    type: bool
    default: false
  timeout:
    description:
      - Timeout of one request or SMTP session, in seconds.
    type: float
    default: 10
  retries:
    description:
      - Retries after the first attempt.
    type: int
    default: 3
  backoff:
    description:
      - First delay between retries when no C(Retry-After) is given; doubles each time.
    type: float
    default: 1
  max_retry_after:
    description:
      - Longest C(Retry-After) in seconds that is waited out; a longer one counts as a failure.
    type: float
    default: 60
  validate_certs:
    description:
      - Verify the TLS certificate of C(https://) webhook URLs.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates to verify webhook URLs against.
    type: path
notes:
  - Each run that is not in check mode writes a journal entry with component C(notify), the
    masked target and whether it was sent.
seealso:
  - module: emergency.rollback.webhook_endpoint
  - module: community.general.slack
  - module: community.general.mail
"""

EXAMPLES = r"""
- name: Tell the incident channel the app rollback succeeded
  emergency.rollback.notify:
    kind: slack
    url: "{{ vault_slack_webhook_url }}"
    severity: critical
    component: app
    hosts: "{{ ansible_play_hosts }}"
    rollback_from: "20261123T1810"
    rollback_to: "20261122T0930"
    duration_s: 74.2
    report_url: https://rollback.example.com/reports/rb-42

- name: Post a signed event to the incident-management webhook (must arrive)
  emergency.rollback.notify:
    kind: webhook
    url: https://incidents.example.com/hooks/rollback
    secret: "{{ vault_incident_hmac_secret }}"
    status: failed
    severity: critical
    component: database
    required: true

- name: Mail the on-call list
  emergency.rollback.notify:
    kind: email
    smtp_host: smtp.example.com
    smtp_port: 587
    smtp_starttls: true
    smtp_username: rollback
    smtp_password: "{{ vault_smtp_password }}"
    sender: rollback@example.com
    recipients: [oncall@example.com]
    component: webhooks
    summary: Stripe and Square webhooks point at the blue release again.
"""

RETURN = r"""
sent:
  description: Whether the notification was delivered (false in check mode).
  returned: always
  type: bool
  sample: true
kind:
  description: The O(kind) of target.
  returned: always
  type: str
  sample: slack
target:
  description: The target with its token masked (C(scheme://host/********)), or C(smtp-host:port -> recipients).
  returned: always
  type: str
  sample: https://hooks.slack.com/********
status_code:
  description: HTTP status of the last answer; null for email or when no answer came.
  returned: always
  type: int
  sample: 200
attempts:
  description: Every attempt made, with its HTTP status or error and the wait before the next one.
  returned: always
  type: list
  elements: dict
  sample:
    - {"attempt": 1, "status": 429, "error": null, "retry_after": 1.0}
    - {"attempt": 2, "status": 200, "error": null}
error:
  description: Why the notification was not sent; null when it was.
  returned: always
  type: str
  sample: "HTTP 404 from https://hooks.slack.com/********: no_service"
payload:
  description: The JSON document sent (V(slack), V(webhook)).
  returned: when kind is slack or webhook
  type: dict
  sample: {"status": "succeeded", "component": "app", "hosts": ["web1"], "from": "v42", "to": "v41"}
message_id:
  description: C(Message-ID) of the email sent.
  returned: when kind is email and not in check mode
  type: str
  sample: <173237.1234.5678@emergency-rollback>
duration_s:
  description: Wall time of the task, in seconds.
  returned: always
  type: float
  sample: 0.05
msg:
  description: Why the notification was not sent, when O(required=false) let the task go on.
  returned: when the notification could not be sent
  type: str
  sample: "notify: slack notification to https://hooks.slack.com/******** not sent: HTTP 404"
journal_entry:
  description: The line appended to the host journal.
  returned: when the notification was sent and O(journal=true), not in check mode
  type: dict
  sample: {"component": "notify", "action": "slack", "result": "changed", "to": "https://hooks.slack.com/********"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._journal import redact, utcnow_iso
from ansible_collections.emergency.rollback.plugins.module_utils._webhooks import (
    WebhookError,
    check_http_url,
    client_from_params,
    email_message,
    event_payload,
    http_argument_spec,
    http_params_error,
    mask_url,
    post_json,
    send_email,
    slack_payload,
)


def _http_error(response, target):
    text = response.text(200).strip().replace("\n", " ")
    why = response.gave_up or ("after %d attempts" % len(response.attempts) if len(response.attempts) > 1 else None)
    return "HTTP %s from %s%s%s" % (
        response.status,
        target,
        " (%s)" % why if why else "",
        ": %s" % text if text else "",
    )


class Notification:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.kind = self.p["kind"]
        self.step = Step(module, "notify", self.kind)
        p = self.p
        self.secrets = [s for s in (p["url"], p["secret"], p["bearer_token"], p["smtp_password"]) if s]

    def target(self):
        """Where the notification goes, as it may be shown (the webhook URL is a secret); fails on a bad URL."""
        p = self.p
        if self.kind == "email":
            return "%s:%s -> %s" % (p["smtp_host"], p["smtp_port"], ", ".join(p["recipients"]))
        try:
            check_http_url(p["url"], "url")
        except WebhookError as err:
            # The URL is a secret: say what is wrong, never what it is.
            self.module.fail_json(msg="notify: %s; nothing was sent" % redact(str(err), self.secrets))
        return mask_url(p["url"])

    def event(self):
        p = self.p
        return {
            "status": p["status"],
            "severity": p["severity"],
            "component": p["component"],
            "hosts": p["hosts"],
            "from": p["rollback_from"],
            "to": p["rollback_to"],
            "duration_s": p["duration_s"],
            "report_url": p["report_url"],
            "run_id": p["run_id"],
            "message": p["summary"],
            "ts": utcnow_iso(),
        }

    def run(self):
        target = self.target()
        event = self.event()
        result = dict(kind=self.kind, target=target, status_code=None, attempts=[], error=None, sent=False)
        payload = None
        if self.kind == "slack":
            payload = slack_payload(event)
        elif self.kind == "webhook":
            payload = event_payload(event, self.p["payload_extra"])
        if payload is not None:
            result["payload"] = payload
        if self.module.check_mode:
            self.module.exit_json(changed=True, **result)
            return
        try:
            if self.kind == "email":
                self.send_email(event, result)
                error = None
            else:
                error = self.post(payload, target, result)
        except WebhookError as err:
            error = str(err)
        if error is None:
            self.sent(target, result)
        else:
            self.not_sent(redact(error, self.secrets), target, result)

    def send_email(self, event, result):
        """Send the mail (retrying temporary SMTP errors); raises WebhookError when it is not sent."""
        p = self.p
        message = email_message(event, p["sender"], p["recipients"], p["subject"])
        result["attempts"] = send_email(
            message,
            p["smtp_host"],
            p["smtp_port"],
            username=p["smtp_username"],
            password=p["smtp_password"],
            starttls=p["smtp_starttls"],
            use_ssl=p["smtp_ssl"],
            timeout=p["timeout"],
            retries=p["retries"],
            backoff=p["backoff"],
            secrets=self.secrets,
        )
        result["message_id"] = message["Message-ID"]

    def post(self, payload, target, result):
        """POST the payload; the error text when no 2xx answer came, else None."""
        p = self.p
        headers = dict(p["headers"])
        if self.kind == "webhook" and p["bearer_token"]:
            headers["Authorization"] = "Bearer %s" % p["bearer_token"]
        response = post_json(
            client_from_params(p, self.secrets),
            p["url"],
            payload,
            headers=headers,
            secret=p["secret"] if self.kind == "webhook" else None,
            signature_header=p["signature_header"],
            timestamp_header=p["timestamp_header"],
        )
        result["attempts"] = response.attempts
        result["status_code"] = response.status
        return None if response.ok else _http_error(response, target)

    def journal_fields(self, target, sent):
        return {"to": target, "event_component": self.p["component"], "status": self.p["status"], "sent": sent}

    def not_sent(self, error, target, result):
        """Fail when O(required), else journal the failure, warn and go on."""
        result["error"] = error
        msg = "notify: %s notification to %s not sent: %s" % (self.kind, target, error)
        fields = self.journal_fields(target, False)
        if self.p["required"]:
            self.step.fail(msg, journal_fields=fields, **result)
            return
        self.step.record("failed", message=msg, **fields)
        self.module.warn(msg + " (required=false: the rollback goes on)")
        result["duration_s"] = round(self.step.elapsed(), 3)
        self.module.exit_json(changed=False, msg=msg, **result)

    def sent(self, target, result):
        result["sent"] = True
        self.step.exit(
            True,
            message="%s notification sent to %s (%s %s)" % (self.kind, target, self.p["component"], self.p["status"]),
            journal_fields=dict(self.journal_fields(target, True), attempts=len(result["attempts"])),
            **result,
        )


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                kind=dict(type="str", required=True, choices=["slack", "webhook", "email"]),
                url=dict(type="str", no_log=True),
                status=dict(
                    type="str",
                    choices=["started", "succeeded", "failed", "reverted", "aborted"],
                    default="succeeded",
                ),
                severity=dict(type="str", choices=["info", "warning", "critical"], default="info"),
                component=dict(type="str", default="rollback"),
                hosts=dict(type="list", elements="str", default=[]),
                rollback_from=dict(type="str"),
                rollback_to=dict(type="str"),
                duration_s=dict(type="float"),
                report_url=dict(type="str"),
                summary=dict(type="str"),
                payload_extra=dict(type="dict", default={}),
                headers=dict(type="dict", default={}),
                bearer_token=dict(type="str", no_log=True),
                secret=dict(type="str", no_log=True),
                signature_header=dict(type="str", default="X-Rollback-Signature"),
                timestamp_header=dict(type="str", default="X-Rollback-Timestamp"),
                smtp_host=dict(type="str", default="localhost"),
                smtp_port=dict(type="int", default=25),
                smtp_username=dict(type="str"),
                smtp_password=dict(type="str", no_log=True),
                smtp_starttls=dict(type="bool", default=False),
                smtp_ssl=dict(type="bool", default=False),
                sender=dict(type="str"),
                recipients=dict(type="list", elements="str"),
                subject=dict(type="str"),
                required=dict(type="bool", default=False),
                **http_argument_spec(),
            )
        ),
        required_if=[
            ("kind", "slack", ("url",)),
            ("kind", "webhook", ("url",)),
            ("kind", "email", ("sender", "recipients")),
        ],
        mutually_exclusive=[("smtp_starttls", "smtp_ssl")],
        supports_check_mode=True,
    )
    problem = http_params_error(module.params)
    if problem:
        module.fail_json(msg="notify: %s; nothing was sent" % problem)
    if module.params["kind"] == "email" and not module.params["recipients"]:
        module.fail_json(msg="notify: recipients must name at least one address; nothing was sent")
    Notification(module).run()


if __name__ == "__main__":
    main()
