#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_probe
short_description: Report the certificate a TLS server actually serves, and check it is the expected one
version_added: 0.1.0
description:
  - Connects to O(host):O(port) with SNI O(server_name) and reports the served leaf certificate's
    SHA-256 fingerprint, subject, SAN, expiry, and whether its chain verifies up to O(ca_path)
    (and matches O(server_name)).
  - With O(expected_fingerprint), retries until the server serves it (a reloading nginx hands
    connections to new workers gradually) and fails if it never does. This proves a certificate
    rollback reached the wire, not just the disk.
  - Read-only; never reports a change.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: The probe runs in check mode too; it only reads.
  diff_mode:
    support: none
    description: It changes nothing.
requirements:
  - cryptography >= 3.3 (the distribution's C(python3-cryptography) will do)
options:
  host:
    description: Address to connect to.
    type: str
    default: localhost
  port:
    description: TCP port.
    type: int
    default: 443
  server_name:
    description:
      - Name sent as SNI and checked against the certificate when verifying. Defaults to O(host)
        when that is a DNS name.
    type: str
  ca_path:
    description:
      - CA bundle used to verify the served chain. Defaults to the system bundle.
    type: path
  expected_fingerprint:
    description:
      - SHA-256 fingerprint the server must serve (hex, with or without colons, any case).
    type: str
  require_valid_chain:
    description:
      - Fail when the served chain does not verify.
    type: bool
    default: false
  retries:
    description:
      - Further attempts when the connection fails or the fingerprint is not the expected one.
    type: int
    default: 10
  delay:
    description: Seconds between attempts.
    type: float
    default: 0.5
  timeout:
    description: Seconds for each connection and handshake.
    type: float
    default: 5.0
seealso:
  - module: emergency.rollback.cert_rollback
"""

EXAMPLES = r"""
- name: Prove nginx serves the restored certificate
  emergency.rollback.tls_probe:
    host: 127.0.0.1
    port: 443
    server_name: app.example.com
    expected_fingerprint: "{{ cert.fingerprint_after }}"
    ca_path: /etc/ssl/certs/ca-certificates.crt
    require_valid_chain: true
"""

RETURN = r"""
fingerprint:
  description: SHA-256 fingerprint (lowercase hex) of the served leaf certificate.
  returned: success
  type: str
  sample: 3f1c9a0b7d2e4f6a8c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a
subject:
  description: Its subject (RFC 4514).
  returned: success
  type: str
  sample: CN=app.example.com
san:
  description: Its subject alternative names.
  returned: success
  type: list
  elements: str
  sample: [app.example.com, www.app.example.com]
not_before:
  description: Start of its validity (UTC, ISO 8601).
  returned: success
  type: str
  sample: "2026-11-21T18:15:00Z"
not_after:
  description: Its expiry (UTC, ISO 8601).
  returned: success
  type: str
  sample: "2027-02-21T18:15:00Z"
issuer:
  description: Its issuer (RFC 4514).
  returned: success
  type: str
  sample: CN=Example Intermediate CA,O=Example
chain_valid:
  description: Whether the served chain verified up to the CA bundle (and matched server_name).
  returned: success
  type: bool
  sample: true
verify_error:
  description: Why the chain did not verify, null when it did.
  returned: success
  type: str
  sample: "unable to get local issuer certificate"
tls_version:
  description: Negotiated protocol version.
  returned: success
  type: str
  sample: TLSv1.3
matches_expected:
  description: Whether the served fingerprint is O(expected_fingerprint); null when none was given.
  returned: success
  type: bool
  sample: true
attempts:
  description: Connections made.
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _certs
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                host=dict(type="str", default="localhost"),
                port=dict(type="int", default=443),
                server_name=dict(type="str"),
                ca_path=dict(type="path"),
                expected_fingerprint=dict(type="str"),
                require_valid_chain=dict(type="bool", default=False),
                retries=dict(type="int", default=10),
                delay=dict(type="float", default=0.5),
                timeout=dict(type="float", default=5.0),
            )
        ),
        supports_check_mode=True,
    )
    if not _certs.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(_certs.CRYPTOGRAPHY_IMPORT_ERROR))
    p = module.params
    if p["retries"] < 0 or p["delay"] < 0 or p["timeout"] <= 0:
        module.fail_json(msg="tls_probe: retries and delay must be 0 or more and timeout more than 0")
    server_name = p["server_name"]
    if server_name is None and not _is_ip(p["host"]):
        server_name = p["host"]
    expected = _certs.normalize_fingerprint(p["expected_fingerprint"]) if p["expected_fingerprint"] else None
    step = Step(module, "ssl", "tls_probe")
    where = "%s:%d" % (p["host"], p["port"])
    result, error, attempts = _certs.probe_until(
        p["host"],
        p["port"],
        expected=expected,
        retries=p["retries"] if expected else 0,
        delay=p["delay"],
        server_name=server_name,
        ca_path=p["ca_path"],
        timeout=p["timeout"],
    )
    fields = {"to": expected, "attempts": attempts}
    if result is None:
        step.fail(
            "tls_probe: no TLS handshake with %s (SNI %s) after %d attempts: %s"
            % (where, server_name, attempts, error),
            journal_fields=fields,
            attempts=attempts,
        )
    result["attempts"] = attempts
    result["matches_expected"] = (result["fingerprint"] == expected) if expected else None
    fields["from_"] = result["fingerprint"]
    if expected and not result["matches_expected"]:
        step.fail(
            "tls_probe: %s serves certificate %s (%s, expires %s), not the expected %s, after %d attempts"
            % (where, result["fingerprint"], result["subject"], result["not_after"], expected, attempts),
            journal_fields=fields,
            **result,
        )
    if p["require_valid_chain"] and not result["chain_valid"]:
        step.fail(
            "tls_probe: the chain served by %s does not verify: %s" % (where, result["verify_error"]),
            journal_fields=fields,
            **result,
        )
    step.exit(False, message="%s serves %s" % (where, result["fingerprint"]), journal_fields=fields, **result)


def _is_ip(value):
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    main()
