#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cert_rollback
short_description: Restore a previous TLS certificate, key and chain, validated before the swap
version_added: 0.1.0
description:
  - With O(state=snapshot), keeps the live certificate set (certificate, key, chain) in the snapshot
    store (component C(ssl), key files mode 0600). Take one before every certificate deployment.
  - With O(state=restored), puts a previous set back live. The candidate comes from a snapshot
    (O(snapshot)) or from explicit files such as a runbook's C(certs/app.crt.backup) (O(src_cert), O(src_key)).
  - BEFORE anything is swapped, the candidate is validated with C(cryptography). It must parse;
    the key must match the certificate's public key (RSA, EC); the certificate must be valid now
    and for at least O(min_remaining_days) more days; its SAN must cover O(expected_names); and
    the chain clients will receive must verify up to a root of the CA bundle O(ca_path)
    (RFC 5280 / Web PKI path validation). The first failing check refuses the rollback in one
    line and nothing is touched.
  - The chain clients receive is the certificate file as served, leaf first and then its
    intermediates (nginx C(ssl_certificate) wants such a fullchain file). The O(chain_path) file
    is part of it only with O(chain_served=true). Only self-signed certificates of O(ca_path)
    count as trust anchors, so an intermediate placed in a trust bundle cannot make a leaf-only
    certificate pass.
  - The test command (by default C(nginx -t -c <nginx_conf>)) must pass before the swap; the live
    set is then snapshotted, each file is replaced atomically, and the test command runs again.
    If it fails the previous files are put back and the task fails.
  - Idempotent. When the candidate files are already live nothing changes.
  - Reloading the web server is left to the caller (the C(emergency.rollback.ssl) role reloads
    nginx and proves the new certificate is served with M(emergency.rollback.tls_probe)).
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
attributes:
  check_mode:
    support: full
    description: Resolves and validates the candidate and reports whether it would be swapped in.
  diff_mode:
    support: full
    description: Shows the certificate fingerprint, subject, SAN and expiry before and after.
requirements:
  - cryptography >= 3.3 (the distribution's C(python3-cryptography) will do); from 45 on the chain is
    verified with C(cryptography.x509.verification), before that the collection builds and checks it itself
options:
  state:
    description:
      - V(restored) puts the candidate live; V(snapshot) snapshots the live set.
      - V(validated) checks the candidate exactly as V(restored) would before its swap and changes
        nothing; a read-only question a role asks in its preflight, before any component changes.
    type: str
    choices: [restored, snapshot, validated]
    default: restored
  cert_path:
    description:
      - The live certificate file the web server reads (nginx C(ssl_certificate)). It may hold
        intermediates after the leaf.
    type: path
    required: true
  key_path:
    description:
      - The live private key file (nginx C(ssl_certificate_key)). A new key file is created mode 0600.
    type: path
    required: true
  chain_path:
    description:
      - A separate live chain file that is restored with the set, when the server reads one.
      - nginx never sends C(ssl_trusted_certificate) to clients (it is used for OCSP stapling and
        client certificates); put the intermediates into the O(cert_path) file instead.
    type: path
  chain_served:
    description:
      - The server sends the O(chain_path) file after the certificate (Apache's
        C(SSLCertificateChainFile)), so it is part of the chain validated. Leave false for nginx.
    type: bool
    default: false
  snapshot:
    description:
      - Snapshot to restore. V(latest) is the newest snapshot taken with O(state=snapshot),
        V(previous) the one before it, or a snapshot id as returned in RV(snapshot.id).
      - The snapshot a restore takes of the set it replaces is a safety copy, restored only when
        named by id (that is how a rollback is undone).
    type: str
    default: latest
  src_cert:
    description:
      - Restore from this certificate file instead of a snapshot.
    type: path
  src_key:
    description:
      - The private key file that goes with O(src_cert).
    type: path
  src_chain:
    description:
      - The chain file that goes with O(src_cert). Required when O(chain_path) is set.
    type: path
  key_passphrase:
    description:
      - Passphrase of an encrypted candidate key. Only used to check the key matches; the key is
        written as it is.
    type: str
  ca_path:
    description:
      - CA bundle (PEM) the candidate's chain must verify up to. Defaults to the system bundle.
    type: path
  validate_chain:
    description:
      - Verify the chain up to O(ca_path). Turn off only for self-signed certificates.
    type: bool
    default: true
  expected_names:
    description:
      - Names (DNS names or IP addresses) the certificate's SAN must cover. The first one is also
        used for the chain's name check.
    type: list
    elements: str
    default: []
  min_remaining_days:
    description:
      - Refuse a certificate that expires within this many days.
    type: int
    default: 7
  validate:
    description:
      - Validate the candidate before the swap. Turn off ONLY to put back the set that was live
        before a rollback (its pre-rollback snapshot), which may well be the expired or broken
        certificate being replaced. The test command still gates the swap.
    type: bool
    default: true
  test_command:
    description:
      - Command (argv list, no shell) that must succeed before and after the swap. V([]) skips it.
      - Defaults to C(nginx -t -c <nginx_conf>).
    type: list
    elements: str
  nginx_conf:
    description:
      - nginx configuration tested by the default O(test_command).
    type: path
    default: /etc/nginx/nginx.conf
  snapshot_id:
    description:
      - Id for the snapshot this run takes (O(state=snapshot), or the live set before a swap). Generated when omitted.
    type: str
seealso:
  - module: emergency.rollback.tls_probe
"""

EXAMPLES = r"""
- name: Keep the live certificate before deploying a renewed one
  emergency.rollback.cert_rollback:
    state: snapshot
    cert_path: /etc/nginx/tls/app.crt
    key_path: /etc/nginx/tls/app.key

- name: Put the previous certificate back, validated, nginx -t gated
  emergency.rollback.cert_rollback:
    cert_path: /etc/nginx/tls/app.crt
    key_path: /etc/nginx/tls/app.key
    snapshot: latest
    ca_path: /etc/ssl/certs/ca-certificates.crt
    expected_names: [app.example.com, www.app.example.com]
    min_remaining_days: 14
  register: cert

- name: Restore from the runbook's backup files, with an encrypted key
  emergency.rollback.cert_rollback:
    cert_path: /etc/nginx/tls/app.crt
    key_path: /etc/nginx/tls/app.key
    src_cert: /etc/nginx/tls/app.crt.backup
    src_key: /etc/nginx/tls/app.key.backup
    key_passphrase: "{{ vault_app_key_passphrase }}"
    test_command: [/usr/sbin/nginx, -t, -c, /etc/nginx/nginx.conf]
"""

RETURN = r"""
state:
  description: The state asked for.
  returned: always
  type: str
  sample: restored
source:
  description: Where the candidate came from (a snapshot id or file paths).
  returned: when state=restored
  type: dict
  sample: {type: snapshot, id: 20261123T181500.123456Z-1a2b3c, created: "2026-11-23T18:15:00.123Z"}
fingerprint_before:
  description: SHA-256 fingerprint (hex) of the certificate live before the task.
  returned: when state=restored
  type: str
  sample: 3f1c9a0b7d2e4f6a8c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a
fingerprint_after:
  description: SHA-256 fingerprint (hex) of the certificate live after the task (or that would be, in check mode).
  returned: when state=restored and the candidate validated
  type: str
  sample: 3f1c9a0b7d2e4f6a8c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a
before:
  description: Fingerprint, subject, SAN and expiry of the live certificate before the task.
  returned: when state=restored
  type: dict
  sample:
    fingerprint: 3f1c9a0b7d2e4f6a8c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a
    subject: CN=app.example.com
    san: [app.example.com]
    not_after: "2027-02-21T18:15:00Z"
after:
  description: Fingerprint, subject, SAN and expiry of the certificate after the task.
  returned: when state=restored and the candidate validated
  type: dict
  sample:
    fingerprint: 3f1c9a0b7d2e4f6a8c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a
    subject: CN=app.example.com
    san: [app.example.com]
    not_after: "2027-02-21T18:15:00Z"
subject:
  description: Subject of the certificate live after the task (RFC 4514).
  returned: when state=restored and the candidate validated
  type: str
  sample: CN=app.example.com,O=Example
san:
  description: Subject alternative names of that certificate.
  returned: when state=restored and the candidate validated
  type: list
  elements: str
  sample: [app.example.com, www.app.example.com]
not_after:
  description: Its expiry (UTC, ISO 8601).
  returned: when state=restored and the candidate validated
  type: str
  sample: "2027-02-21T18:15:00Z"
checks:
  description: The validations the candidate passed.
  returned: when a candidate was validated
  type: list
  elements: str
  sample: [parse, key_match, validity, san, chain]
snapshot:
  description:
    - The snapshot this run took (O(state=snapshot), or the live set kept before a swap); null when none.
    - Restoring it by id (O(snapshot)=RV(snapshot.id), O(validate=false)) undoes the rollback.
  returned: always
  type: dict
  contains:
    id:
      description: Snapshot id.
      type: str
      sample: 20261120T090000.000000Z-9f8e7d
    path:
      description: Snapshot directory.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/ssl/20261120T090000.000000Z-9f8e7d
  sample:
    id: 20261123T181500.123456Z-1a2b3c
    path: /var/lib/emergency-rollback/snapshots/ssl/20261123T181500.123456Z-1a2b3c
restored_from:
  description: The snapshot this run put back; null when none (or the candidate came from files).
  returned: when state=restored
  type: dict
  contains:
    id:
      description: Snapshot id.
      type: str
      sample: 20261120T090000.000000Z-9f8e7d
    path:
      description: Snapshot directory.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/ssl/20261120T090000.000000Z-9f8e7d
  sample:
    id: 20261120T090000.000000Z-9f8e7d
    path: /var/lib/emergency-rollback/snapshots/ssl/20261120T090000.000000Z-9f8e7d
fingerprint:
  description: Fingerprint of the live certificate kept.
  returned: when state=snapshot
  type: str
  sample: 3f1c9a0b7d2e4f6a8c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a
cert:
  description: Fingerprint, subject, SAN and expiry of the live certificate kept.
  returned: when state=snapshot
  type: dict
  sample:
    fingerprint: 3f1c9a0b7d2e4f6a8c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a
    subject: CN=app.example.com
    san: [app.example.com]
    not_after: "2027-02-21T18:15:00Z"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic, _certs
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotStore


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                state=dict(type="str", choices=["restored", "snapshot", "validated"], default="restored"),
                cert_path=dict(type="path", required=True),
                key_path=dict(type="path", required=True, no_log=False),
                chain_path=dict(type="path"),
                snapshot=dict(type="str", default="latest"),
                src_cert=dict(type="path"),
                src_key=dict(type="path", no_log=False),
                src_chain=dict(type="path"),
                key_passphrase=dict(type="str", no_log=True),
                ca_path=dict(type="path"),
                validate_chain=dict(type="bool", default=True),
                chain_served=dict(type="bool", default=False),
                validate=dict(type="bool", default=True),
                expected_names=dict(type="list", elements="str", default=[]),
                min_remaining_days=dict(type="int", default=7),
                test_command=dict(type="list", elements="str"),
                nginx_conf=dict(type="path", default="/etc/nginx/nginx.conf"),
                snapshot_id=dict(type="str"),
            )
        ),
        required_together=[("src_cert", "src_key")],
        supports_check_mode=True,
    )
    if not _certs.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(_certs.CRYPTOGRAPHY_IMPORT_ERROR))
    p = module.params
    if p["min_remaining_days"] < 0:
        module.fail_json(msg="cert_rollback: min_remaining_days must be 0 or more; nothing was changed")
    store = SnapshotStore.in_state_dir(p["state_dir"], "ssl")
    actions = {"snapshot": "cert_snapshot", "validated": "cert_validate", "restored": "cert_restore"}
    step = Step(module, "ssl", actions[p["state"]])
    rollback = _certs.CertRollback(module, store, step, _atomic.write_file)
    if p["state"] == "snapshot":
        rollback.take_snapshot()
    else:
        rollback.restore()


if __name__ == "__main__":
    main()
