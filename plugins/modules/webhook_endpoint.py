#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: webhook_endpoint
short_description: Point a provider-side webhook endpoint (Stripe, Square, generic REST) at a URL, snapshot first
version_added: 0.1.0
description:
  - Ensures a webhook endpoint registered at a provider sends its events to O(url), optionally with
    the given O(events) and O(enabled) state. Used to re-point Stripe and Square webhooks at the
    previous release during a rollback, instead of hand-typed C(curl) calls.
  - "Adapters follow each provider's documented REST shape. C(stripe) lists, retrieves and updates
    C(/v1/webhook_endpoints) (form-encoded, bearer secret key). C(square) reads and updates
    C(/v2/webhooks/subscriptions) (a JSON C(subscription) object, C(Square-Version) header,
    bearer access token). C(generic) reads with C(GET) and updates with a configurable method,
    URL template and JSON body template."
  - Before a change, the endpoint's current URL, events and enabled state are written to the
    snapshot store (component C(webhooks)) so the rollback itself can be undone with
    O(snapshot). An identical latest snapshot of the same endpoint is reused.
  - After the update the endpoint is read back. When it does not show what was asked, the
    previous values are put back and the task fails.
  - Requests are retried on network errors, HTTP 429 and 5xx, waiting what C(Retry-After) says
    or else backing off exponentially. A 4xx answer fails at once with the endpoint id and the
    provider's error text; nothing is changed.
  - With O(state=snapshot) it only reads the endpoint and stores it in the snapshot store.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: The endpoint is read; nothing is updated and no snapshot is written.
  diff_mode:
    support: full
    description: Shows the endpoint's url, events and enabled state before and after.
options:
  provider:
    description:
      - Which provider API the endpoint lives in.
    type: str
    required: true
    choices: [stripe, square, generic]
  state:
    description:
      - V(present) makes the endpoint point at O(url).
      - V(snapshot) only stores the endpoint's current state in the snapshot store.
    type: str
    choices: [present, snapshot]
    default: present
  endpoint_id:
    description:
      - Id of the endpoint at the provider (C(we_...) for Stripe, C(wbhk_...) for Square).
      - Required for the C(generic) provider.
      - One of O(endpoint_id), O(match_url) and O(snapshot) says which endpoint.
    type: str
  match_url:
    description:
      - Find the endpoint by its current URL instead of its id (C(stripe) and C(square) list
        every endpoint). An endpoint still pointing at O(match_url) is preferred; when none
        does, one already pointing at O(url) is taken (the change was done before).
      - Not with the C(generic) provider, which cannot list endpoints (mutually exclusive with O(generic)).
    type: str
  url:
    description:
      - The URL the endpoint must send events to.
      - Required with O(state=present) unless O(snapshot) is given.
    type: str
  events:
    description:
      - Event types the endpoint must be enabled for (compared as a set). Omit to keep them.
    type: list
    elements: str
  enabled:
    description:
      - Whether the endpoint must be enabled. Omit to keep its state.
    type: bool
  snapshot:
    description:
      - Id of a snapshot this module took (returned as RV(snapshot.id)); the endpoint is put back
        to the url, events and enabled state recorded in it. Undoes a rollback.
      - Mutually exclusive with O(url), O(events) and O(enabled).
    type: str
  api_key:
    description:
      - Stripe secret key or Square access token, sent as a bearer token. For C(generic), sent
        as a bearer token or in O(generic.auth_header).
    type: str
  api_base_url:
    description:
      - Base URL of the provider API. Defaults to C(https://api.stripe.com) and
        C(https://connect.squareup.com). For C(generic), relative URL templates are joined to it.
    type: str
  api_version:
    description:
      - Sent as C(Stripe-Version) (stripe) or C(Square-Version) (square, default C(2024-10-17)).
    type: str
  generic:
    description:
      - How the C(generic) provider reads and updates an endpoint.
    type: dict
    suboptions:
      read_url:
        description:
          - URL (or path below O(api_base_url)) that returns the endpoint as JSON; C({id}) is
            replaced by the URL-quoted O(endpoint_id).
        type: str
        required: true
      update_url:
        description:
          - URL template of the update request; defaults to O(generic.read_url).
        type: str
      update_method:
        description:
          - HTTP method of the update request.
        type: str
        choices: [PUT, PATCH, POST]
        default: PUT
      body_template:
        description:
          - JSON body of the update. A string that is exactly C($url), C($events), C($enabled)
            or C($id) becomes that value; inside longer strings C($url) and C($id) are replaced
            as text. Keys whose value is C($events) (or C($enabled)) are left out when
            O(events) (or O(enabled)) is not given.
          - 'Defaults to C({"url": "$url", "events": "$events"}).'
        type: dict
      url_path:
        description:
          - Dotted path to the endpoint URL in the JSON read back.
        type: str
        default: url
      events_path:
        description:
          - Dotted path to the list of events in the JSON read back; unset when the API has none.
        type: str
      enabled_path:
        description:
          - Dotted path to a boolean enabled flag in the JSON read back.
        type: str
      headers:
        description:
          - Extra request headers. Put credentials in O(api_key), not here.
        type: dict
      auth_header:
        description:
          - Header that carries O(api_key). C(Authorization) (the default) sends C(Bearer <key>);
            any other header name sends the key as is.
        type: str
  timeout:
    description:
      - Timeout of one request, in seconds.
    type: float
    default: 10
  retries:
    description:
      - Retries after the first attempt on network errors, HTTP 429 and 5xx.
    type: int
    default: 3
  backoff:
    description:
      - First delay between retries when the provider gives no C(Retry-After); doubles each time.
    type: float
    default: 1
  max_retry_after:
    description:
      - Longest C(Retry-After) in seconds that is waited out; a longer one fails the task.
    type: float
    default: 60
  validate_certs:
    description:
      - Verify the provider's TLS certificate.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates to verify the provider against.
    type: path
notes:
  - The snapshot holds only the endpoint's id, url, events and enabled state; signing secrets the
    provider returns (Square's C(signature_key)) are never stored or returned.
seealso:
  - module: emergency.rollback.notify
  - name: Stripe webhook endpoints API
    description: The list, retrieve and update calls the C(stripe) adapter makes.
    link: https://docs.stripe.com/api/webhook_endpoints
  - name: Square Webhook Subscriptions API
    description: The list, retrieve and update calls the C(square) adapter makes.
    link: https://developer.squareup.com/reference/square/webhook-subscriptions-api
"""

EXAMPLES = r"""
- name: Point the Stripe endpoint back at the previous release
  emergency.rollback.webhook_endpoint:
    provider: stripe
    endpoint_id: we_1Mr5jULkdIwHu7ix1ibLTM0x
    url: https://blue.shop.example.com/webhooks/stripe
    events: [charge.succeeded, charge.failed]
    api_key: "{{ vault_stripe_secret_key }}"
  register: stripe_hook

- name: Find the Square subscription by its current URL and re-point it
  emergency.rollback.webhook_endpoint:
    provider: square
    match_url: https://green.shop.example.com/webhooks/square
    url: https://blue.shop.example.com/webhooks/square
    api_key: "{{ vault_square_access_token }}"

- name: An in-house REST API
  emergency.rollback.webhook_endpoint:
    provider: generic
    endpoint_id: orders
    url: https://blue.shop.example.com/hooks/orders
    api_base_url: https://hooks.internal.example.com/api
    api_key: "{{ vault_hooks_token }}"
    generic:
      read_url: /subscriptions/{id}
      update_method: PATCH
      body_template:
        target: {address: "$url"}
      url_path: target.address

- name: Undo the rollback (rollback of the rollback)
  emergency.rollback.webhook_endpoint:
    provider: stripe
    endpoint_id: we_1Mr5jULkdIwHu7ix1ibLTM0x
    snapshot: "{{ stripe_hook.snapshot.id }}"
    api_key: "{{ vault_stripe_secret_key }}"
"""

RETURN = r"""
endpoint:
  description: The endpoint as it is after the task (as planned in check mode).
  returned: success
  type: dict
  sample: {"id": "we_123", "url": "https://blue.example.com/hooks", "events": ["charge.failed"], "enabled": true}
previous:
  description: The endpoint as it was before the task.
  returned: success
  type: dict
  sample: {"id": "we_123", "url": "https://green.example.com/hooks", "events": ["charge.failed"], "enabled": true}
snapshot:
  description:
    - The snapshot holding the endpoint's state before this run (taken, or an identical latest one reused).
    - C(null) when nothing changed, or in check mode.
  returned: always
  type: dict
  sample: &snapshot_sample
    id: stripe-we_123-20261123T190102.123456Z-1a2b3c
    path: /var/lib/emergency-rollback/snapshots/webhooks/stripe-we_123-20261123T190102.123456Z-1a2b3c
  contains: &snapshot_ref
    id:
      description: Snapshot id.
      type: str
      sample: stripe-we_123-20261123T190102.123456Z-1a2b3c
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/webhooks/stripe-we_123-20261123T190102.123456Z-1a2b3c
restored_from:
  description: With O(snapshot), the snapshot whose state the endpoint was put back to; C(null) otherwise.
  returned: always
  type: dict
  sample: *snapshot_sample
  contains: *snapshot_ref
duration_s:
  description: Wall time of the task, in seconds.
  returned: success, except in check mode where a change or a new snapshot is only planned
  type: float
  sample: 0.12
journal_entry:
  description: The line appended to the host journal.
  returned: when a journal line was written (O(journal=true), not in check mode)
  type: dict
  sample: {"component": "webhooks", "action": "repoint", "result": "changed", "from": "https://green.example.com/hooks"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotError
from ansible_collections.emergency.rollback.plugins.module_utils._webhooks import (
    EndpointSnapshots,
    WebhookError,
    check_http_url,
    client_from_params,
    differences,
    http_argument_spec,
    http_params_error,
    make_adapter,
    normalise,
    plan_change,
    state_after_failure,
)

NAME = "webhook_endpoint"


class Target:
    """The endpoint to change and what it must look like, once resolved."""

    def __init__(self, endpoint_id, url, events, enabled, restored_from=None):
        self.endpoint_id = endpoint_id
        self.url = url
        self.events = events
        self.enabled = enabled
        self.restored_from = restored_from


class WebhookEndpoint:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.provider = self.p["provider"]
        self.step = Step(module, "webhooks", "snapshot" if self.p["state"] == "snapshot" else "repoint")
        secrets = [self.p["api_key"]] if self.p["api_key"] else []
        self.adapter = make_adapter(
            self.provider,
            client_from_params(self.p, secrets),
            base_url=self.p["api_base_url"],
            api_key=self.p["api_key"],
            api_version=self.p["api_version"],
            generic=self.p["generic"],
        )
        self.snapshots = EndpointSnapshots(self.p["state_dir"], self.provider, self.adapter.base_url)

    def refuse(self, msg):
        self.step.refuse("%s: %s; nothing was changed" % (NAME, msg))

    def resolve_target(self):
        """Which endpoint, and the url/events/enabled it must have (from the options or from O(snapshot))."""
        p = self.p
        if not p["snapshot"]:
            return Target(p["endpoint_id"], p["url"], p["events"], p["enabled"])
        try:
            meta, recorded = self.snapshots.load(p["snapshot"])
        except (SnapshotError, OSError, ValueError, KeyError) as err:
            self.refuse("cannot use snapshot %s: %s" % (p["snapshot"], err))
        snapped_id = meta["metadata"]["endpoint_id"]
        if p["endpoint_id"] and p["endpoint_id"] != snapped_id:
            self.refuse("snapshot %s is of endpoint %s, not %s" % (p["snapshot"], snapped_id, p["endpoint_id"]))
        return Target(snapped_id, recorded["url"], recorded["events"], recorded["enabled"], self.snapshots.ref(meta))

    def run(self):
        target = self.resolve_target()
        who = target.endpoint_id or "at %s" % self.p["match_url"]
        try:
            current = self.adapter.find(target.endpoint_id, match_urls=(self.p["match_url"], target.url))
        except WebhookError as err:
            self.step.fail(
                "%s: %s; nothing was changed" % (NAME, err), journal_fields={"to": target.url, "endpoint": who}
            )
        if self.p["state"] == "snapshot":
            self.snapshot_only(current)
        else:
            self.apply_and_verify(current, target)

    def snapshot_only(self, current):
        """state=snapshot: store the endpoint as it is, change nothing at the provider."""
        before = normalise(current)
        result = dict(endpoint=before, previous=before, snapshot=None, restored_from=None)
        if self.module.check_mode:
            latest = self.snapshots.latest(current["id"])
            fresh = latest is None or (latest.get("metadata") or {}).get("endpoint") != before
            self.module.exit_json(changed=fresh, **result)
            return
        try:
            meta, created = self.snapshots.ensure(current)
        except (SnapshotError, OSError) as err:
            self.step.fail("%s: cannot snapshot %s endpoint %s: %s" % (NAME, self.provider, current["id"], err))
        result["snapshot"] = self.snapshots.ref(meta)
        self.step.exit(
            created,
            message="%s endpoint %s points at %s" % (self.provider, current["id"], before["url"]),
            journal_fields={"from_": before["url"], "snapshot": meta["id"], "endpoint": current["id"]},
            **result,
        )

    def apply_and_verify(self, current, target):
        """Plan; when the endpoint differs: snapshot it, update it, read it back (and revert a wrong read-back)."""
        endpoint_id = current["id"]
        before = normalise(current)
        changed, after = plan_change(current, target.url, target.events, target.enabled)
        diff = {"before": before, "after": after}
        fields = {"from_": before["url"], "to": target.url, "endpoint": endpoint_id, "provider": self.provider}
        result = dict(previous=before, snapshot=None, restored_from=target.restored_from, diff=diff)
        if not changed:
            self.step.exit(
                False,
                message="%s endpoint %s already points at %s" % (self.provider, endpoint_id, target.url),
                journal_fields=fields,
                endpoint=before,
                **result,
            )
            return
        if self.module.check_mode:
            self.module.exit_json(changed=True, endpoint=after, **result)
            return
        try:
            meta, _created = self.snapshots.ensure(current)
        except (SnapshotError, OSError) as err:
            self.step.fail(
                "%s: cannot snapshot %s endpoint %s before changing it: %s; nothing was changed"
                % (NAME, self.provider, endpoint_id, err),
                journal_fields=fields,
            )
        fields["snapshot"] = meta["id"]
        result["snapshot"] = self.snapshots.ref(meta)
        try:
            self.adapter.update(endpoint_id, target.url, target.events, target.enabled)
        except WebhookError as err:
            self.step.fail(
                "%s: %s; %s" % (NAME, err, state_after_failure(self.adapter, endpoint_id, err, before, meta)),
                journal_fields=fields,
                **result,
            )
        readback = self.read_back_and_revert(endpoint_id, before, after, meta, fields, result)
        self.step.exit(
            True,
            message="%s endpoint %s re-pointed from %s to %s" % (self.provider, endpoint_id, before["url"], target.url),
            journal_fields=fields,
            endpoint=readback,
            **result,
        )

    def read_back_and_revert(self, endpoint_id, before, after, meta, fields, result):
        """The endpoint as the provider shows it after the update; fails (reverting) when it is not what was asked."""
        try:
            readback = normalise(self.adapter.get(endpoint_id))
        except WebhookError as err:
            self.step.fail("%s: updated but could not read back: %s" % (NAME, err), journal_fields=fields, **result)
        wrong = differences(after, readback)
        if not wrong:
            return readback
        why = ", ".join("%s is %r, expected %r" % (key, readback[key], after[key]) for key in wrong)
        try:
            self.adapter.update(endpoint_id, before["url"], before["events"], before["enabled"])
            undone, outcome = "put back to snapshot %s" % meta["id"], "reverted"
        except WebhookError as err:
            undone = "putting it back failed too (%s); restore from snapshot %s" % (err, meta["id"])
            outcome = "failed"
        self.step.fail(
            "%s: %s endpoint %s read back wrong after the update (%s); %s"
            % (NAME, self.provider, endpoint_id, why, undone),
            journal_fields=fields,
            result=outcome,
            endpoint=readback,
            **result,
        )
        return None


def check_input(module):
    """Value checks the argument spec cannot declare; each fails with nothing changed."""
    p = module.params
    problem = http_params_error(p)
    if problem:
        module.fail_json(msg="%s: %s; nothing was changed" % (NAME, problem))
    try:
        for option in ("url", "match_url", "api_base_url"):
            if p[option]:
                check_http_url(p[option], option)
    except WebhookError as err:
        module.fail_json(msg="%s: %s; nothing was changed" % (NAME, err))


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                provider=dict(type="str", required=True, choices=["stripe", "square", "generic"]),
                state=dict(type="str", choices=["present", "snapshot"], default="present"),
                endpoint_id=dict(type="str"),
                match_url=dict(type="str"),
                url=dict(type="str"),
                events=dict(type="list", elements="str"),
                enabled=dict(type="bool"),
                snapshot=dict(type="str"),
                api_key=dict(type="str", no_log=True),
                api_base_url=dict(type="str"),
                api_version=dict(type="str"),
                generic=dict(
                    type="dict",
                    options=dict(
                        read_url=dict(type="str", required=True),
                        update_url=dict(type="str"),
                        update_method=dict(type="str", choices=["PUT", "PATCH", "POST"], default="PUT"),
                        body_template=dict(type="dict"),
                        url_path=dict(type="str", default="url"),
                        events_path=dict(type="str"),
                        enabled_path=dict(type="str"),
                        headers=dict(type="dict"),
                        auth_header=dict(type="str"),
                    ),
                ),
                **http_argument_spec(),
            )
        ),
        required_if=[
            ("provider", "generic", ("generic", "endpoint_id")),
            ("provider", "stripe", ("api_key",)),
            ("provider", "square", ("api_key",)),
            ("state", "present", ("url", "snapshot"), True),
        ],
        required_one_of=[("endpoint_id", "match_url", "snapshot")],
        mutually_exclusive=[
            ("url", "snapshot"),
            ("events", "snapshot"),
            ("enabled", "snapshot"),
            # the generic provider (which requires generic) cannot list endpoints to match
            ("match_url", "generic"),
        ],
        supports_check_mode=True,
    )
    check_input(module)
    WebhookEndpoint(module).run()


if __name__ == "__main__":
    main()
