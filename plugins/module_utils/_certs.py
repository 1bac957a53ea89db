# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificate sets: validate a candidate before it goes live, swap it in, prove what is served.

PRIVATE to this collection: the leading underscore means no API promise.

A set is a leaf certificate file (which may carry intermediates after the leaf), its private
key and an optional separate chain file. Validation never trusts the files: each check says
what is wrong in one line (CertError) so the module can refuse before anything is swapped.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
import ssl
import time

from ansible_collections.emergency.rollback.plugins.module_utils import _nginx, _x509compat
from ansible_collections.emergency.rollback.plugins.module_utils._nginx import one_line  # noqa: F401 - re-exported
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotError

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as err:  # pragma: no cover - exercised only where cryptography is missing
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = err

# None before cryptography 45: verify_chain then goes through _x509compat.verify_chain
verification = _x509compat.verification

SYSTEM_CA_CANDIDATES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)


class CertError(Exception):
    """A candidate failed a check; the message says which and why."""


# --- parsing and facts ------------------------------------------------------------------------


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def load_certs(data, label):
    """Every PEM certificate in data, in order. Raises CertError when there is none or one is broken."""
    if not data or b"-----BEGIN CERTIFICATE-----" not in data:
        raise CertError("%s holds no PEM certificate" % label)
    try:
        certs = _x509compat.load_pem_x509_certificates(data)
    except ValueError as err:
        raise CertError("%s does not parse as PEM certificates: %s" % (label, err)) from None
    if not certs:
        raise CertError("%s holds no PEM certificate" % label)
    return certs


def load_key(data, passphrase, label):
    if not data or b"PRIVATE KEY-----" not in data:
        raise CertError("%s holds no PEM private key" % label)
    password = passphrase.encode() if passphrase else None
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError:
        if password is None:
            raise CertError("%s is encrypted and no key passphrase was given" % label) from None
        raise CertError("%s is not encrypted but a key passphrase was given" % label) from None
    except (ValueError, UnsupportedAlgorithm):
        # cryptography's message may name the cause (bad decrypt); it never echoes the passphrase.
        raise CertError("%s cannot be loaded: wrong passphrase, unsupported or corrupt key" % label) from None


def fingerprint(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def fingerprint_der(der):
    return hashlib.sha256(der).hexdigest()


def _iso(value):
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def san_names(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = list(ext.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return names


def common_name(cert):
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


def describe(cert):
    """Facts worth returning and journaling; never anything secret."""
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "common_name": common_name(cert),
        "san": san_names(cert),
        "serial": "%x" % cert.serial_number,
        "not_before": _iso(_x509compat.not_before(cert)),
        "not_after": _iso(_x509compat.not_after(cert)),
        "fingerprint": fingerprint(cert),
    }


# --- checks -----------------------------------------------------------------------------------


def _spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert, key):
    """True when key is the private half of cert's public key (RSA, EC, Ed25519: compared as SPKI)."""
    return _spki(cert.public_key()) == _spki(key.public_key())


def check_validity(cert, now=None, min_remaining_days=0):
    now = now or utcnow()
    if now < _x509compat.not_before(cert):
        raise CertError("certificate is not valid yet (valid from %s)" % _iso(_x509compat.not_before(cert)))
    if now >= _x509compat.not_after(cert):
        raise CertError("certificate expired on %s" % _iso(_x509compat.not_after(cert)))
    remaining = _x509compat.not_after(cert) - now
    if remaining < datetime.timedelta(days=min_remaining_days):
        raise CertError(
            "certificate expires on %s, in %.1f days, less than the required %s days"
            % (_iso(_x509compat.not_after(cert)), remaining.total_seconds() / 86400, min_remaining_days)
        )


def _name_matches(pattern, name):
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*."):
        head, _sep, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


def uncovered_names(cert, names):
    """The expected names the certificate's SAN does not cover (wildcards match one label)."""
    sans = san_names(cert)
    missing = []
    for name in names:
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            ip = None
        if ip is not None:
            ok = any(san == str(ip) for san in sans)
        else:
            ok = any(_name_matches(san, name) for san in sans)
        if not ok:
            missing.append(name)
    return missing


def verify_chain(leaf, intermediates, roots, now=None, server_name=None):
    """Build and verify a path from leaf through intermediates to one of roots (RFC 5280 / Web PKI).

    Uses cryptography.x509.verification (>= 45), else _x509compat. With server_name, the leaf must also be valid for it.
    Returns the verified chain's subjects, leaf first.
    """
    if not roots:
        raise CertError("the CA bundle holds no certificate to verify the chain against")
    if verification is None:
        try:
            chain = _x509compat.verify_chain(leaf, intermediates, roots, now or utcnow(), server_name, uncovered_names)
        except _x509compat.ChainError as err:
            raise CertError("the chain does not verify up to the CA bundle: %s" % err) from None
        return [c.subject.rfc4514_string() for c in chain]
    builder = verification.PolicyBuilder().store(verification.Store(roots)).time(now or utcnow())
    try:
        if server_name:
            try:
                subject = verification.IPAddress(ipaddress.ip_address(server_name))
            except ValueError:
                subject = verification.DNSName(server_name)
            chain = builder.build_server_verifier(subject).verify(leaf, intermediates)
        else:
            builder = builder.extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
            chain = builder.build_client_verifier().verify(leaf, intermediates).chain
    except (verification.VerificationError, ValueError) as err:
        raise CertError("the chain does not verify up to the CA bundle: %s" % err) from None
    return [c.subject.rfc4514_string() for c in chain]


def trust_anchors(certs):
    """The self-signed certificates of a bundle: only those are roots a client trusts.

    An intermediate placed in a trust bundle would let a leaf-only certificate verify here
    while every client, which only has the roots, rejects what the server sends.
    """
    anchors = []
    for cert in certs:
        # signed_by, not verify_directly_issued_by: cryptography < 40 (Debian 11, 12) lacks it.
        if _x509compat.signed_by(cert, cert):
            anchors.append(cert)
    return anchors


def load_ca_bundle(path):
    """Root (self-signed) certificates from path, or from the system bundle when path is None."""
    if not path:
        path = next((p for p in SYSTEM_CA_CANDIDATES if os.path.isfile(p)), None)
        if path is None:
            raise CertError("no ca_path given and no system CA bundle found (%s)" % ", ".join(SYSTEM_CA_CANDIDATES))
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise CertError("cannot read the CA bundle %s: %s" % (path, err.strerror)) from None
    return trust_anchors(load_certs(data, "CA bundle %s" % path))


def validate_set(
    cert_data,
    key_data,
    chain_data=None,
    passphrase=None,
    roots=None,
    names=(),
    min_remaining_days=0,
    now=None,
    labels=None,
    chain_served=False,
):
    """Every check, in order; the first failing one raises CertError. Returns describe(leaf) + checks.

    The chain checked is the one clients receive: the certificate file as served (leaf then
    intermediates, fullchain style), plus chain_data only when chain_served says the server
    sends that file too (Apache's SSLCertificateChainFile; nginx's ssl_trusted_certificate is
    never sent). roots=None skips the chain check (the caller decides whether that is allowed).
    """
    labels = labels or {}
    now = now or utcnow()
    certs = load_certs(cert_data, labels.get("cert", "the certificate"))
    leaf, extra = certs[0], certs[1:]
    if chain_data:
        chain = load_certs(chain_data, labels.get("chain", "the chain"))
        if chain_served:
            extra = extra + chain
    key = load_key(key_data, passphrase, labels.get("key", "the key"))
    if not key_matches(leaf, key):
        raise CertError(
            "the private key does not match the certificate's public key (%s key, certificate %s)"
            % (_key_type(key), fingerprint(leaf)[:16])
        )
    check_validity(leaf, now, min_remaining_days)
    missing = uncovered_names(leaf, names)
    if missing:
        raise CertError(
            "the certificate's SAN (%s) does not cover %s" % (", ".join(san_names(leaf)) or "none", ", ".join(missing))
        )
    info = describe(leaf)
    checks = ["parse", "key_match", "validity"]
    if names:
        checks.append("san")
    if roots is not None:
        try:
            info["verified_chain"] = verify_chain(leaf, extra, roots, now=now, server_name=names[0] if names else None)
        except CertError as err:
            if not extra:
                raise CertError(
                    "%s; the certificate file holds the leaf only, so clients get no intermediate "
                    "(serve a fullchain file%s)" % (err, "" if chain_served else ", a separate chain file is not sent")
                ) from None
            raise
        checks.append("chain")
    info["checks"] = checks
    info["key_type"] = _key_type(key)
    return info


def _key_type(key):
    return _x509compat.key_type(key)


# --- what a server actually serves -----------------------------------------------------------


def _handshake(host, port, server_name, context, timeout):
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=server_name or None) as tls:
            return tls.getpeercert(binary_form=True), tls.version()


def probe_tls(host, port, server_name=None, ca_path=None, timeout=5.0, check_hostname=True):
    """Connect (with SNI) and report the served leaf certificate and whether its chain verifies.

    Two handshakes at most: a verifying one, and when that fails, one that only reads the certificate.
    """
    result = {"host": host, "port": port, "server_name": server_name}
    verifying = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
    verifying.check_hostname = bool(server_name) and check_hostname
    try:
        der, version = _handshake(host, port, server_name, verifying, timeout)
        result.update(chain_valid=True, verify_error=None)
    except ssl.SSLCertVerificationError as err:
        result.update(chain_valid=False, verify_error=err.verify_message or str(err))
        reading = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        reading.check_hostname = False
        reading.verify_mode = ssl.CERT_NONE
        der, version = _handshake(host, port, server_name, reading, timeout)
    result["tls_version"] = version
    cert = x509.load_der_x509_certificate(der)
    result.update(describe(cert))
    return result


def probe_until(host, port, expected=None, retries=0, delay=1.0, **kwargs):
    """probe_tls until the fingerprint is the expected one (a reloading nginx swaps workers gradually)."""
    attempts = 0
    last_error = None
    result = None
    while True:
        attempts += 1
        try:
            result = probe_tls(host, port, **kwargs)
            last_error = None
            if not expected or result["fingerprint"] == normalize_fingerprint(expected):
                break
        except (OSError, ssl.SSLError, ValueError) as err:
            last_error = err
        if attempts > retries:
            break
        time.sleep(delay)
    return result, last_error, attempts


def normalize_fingerprint(value):
    """sha256 fingerprints compare as lowercase hex without colons (openssl prints AA:BB:..)."""
    value = (value or "").strip().lower()
    if value.startswith("sha256:"):
        value = value[7:]
    return value.replace(":", "")


# --- the live set: snapshot, swap, test, revert ----------------------------------------------

SET_FILES = ("cert", "key", "chain")
SNAPSHOT_NAMES = {"cert": "cert.pem", "key": "key.pem", "chain": "chain.pem"}


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


class LiveSet:
    """The files a web server reads: cert, key and (optionally) chain, by path."""

    def __init__(self, cert, key, chain=None):
        self.paths = {"cert": cert, "key": key}
        if chain:
            self.paths["chain"] = chain

    def read(self):
        """{name: bytes or None when missing}."""
        found = {}
        for name, path in self.paths.items():
            found[name] = _read(path) if os.path.exists(path) else None
        return found

    def modes(self):
        return {
            name: "%04o" % (os.stat(path).st_mode & 0o7777) for name, path in self.paths.items() if os.path.exists(path)
        }

    def write(self, contents, write_file, module=None):
        """Write each file atomically (temp file + rename in its directory); a new key file is 0600.

        Files for which contents holds None are removed (a set that had no chain file).
        """
        for name in SET_FILES:
            if name not in self.paths:
                continue
            path = self.paths[name]
            data = contents.get(name)
            if data is None:
                if os.path.exists(path):
                    os.unlink(path)
                continue
            mode = None if os.path.exists(path) else (0o600 if name == "key" else 0o644)
            write_file(path, data, module=module, mode=mode)


def set_fingerprint(contents, passphrase=None):
    """Identity of a set: leaf fingerprint (None when it does not parse) plus the file digests."""
    leaf = None
    if contents.get("cert"):
        try:
            leaf = fingerprint(load_certs(contents["cert"], "cert")[0])
        except CertError:
            leaf = None
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items() if data is not None}
    return leaf, digests


def summary(info):
    """What diff and results show of a set: identity and dates, nothing secret."""
    if not info:
        return {}
    keep = ("fingerprint", "subject", "san", "not_after")
    return {k: info.get(k) for k in keep}


class CertRollback:
    """Orchestrates the cert_rollback module: resolve, validate, snapshot, swap, test, revert."""

    def __init__(self, module, store, step, write_file):
        self.module = module
        self.p = module.params
        self.store = store
        self.step = step
        self.write_file = write_file
        self.live = LiveSet(self.p["cert_path"], self.p["key_path"], self.p.get("chain_path"))

    # helpers ---------------------------------------------------------------------------------

    def fail(self, msg, journal=True, result="failed", **extra):
        fields = getattr(self, "_journal_fields", {})
        self.step.fail("cert_rollback: %s" % msg, journal_fields=fields, result=result, journal=journal, **extra)

    def _info(self, contents):
        if not contents.get("cert"):
            return None
        try:
            return describe(load_certs(contents["cert"], "cert")[0])
        except CertError:
            return None

    def _on_purpose(self):
        """Snapshots taken with state=snapshot (kind "backup" before the rename), oldest first."""
        return [m for m in self.store.list() if (m.get("metadata") or {}).get("kind") in ("snapshot", "backup")]

    def _ref(self, meta):
        return {"id": meta["id"], "path": self.store.path(meta["id"])}

    def resolve_candidate(self):
        """(contents, source description) of the set to restore."""
        p = self.p
        if p.get("src_cert"):
            contents, paths = {}, {"cert": p["src_cert"], "key": p["src_key"], "chain": p.get("src_chain")}
            for name, path in paths.items():
                if not path:
                    continue
                try:
                    contents[name] = _read(path)
                except OSError as err:
                    self.fail("cannot read %s %s: %s; nothing was changed" % (name, path, err.strerror), journal=False)
            return contents, {"type": "paths", "paths": {k: v for k, v in paths.items() if v}}
        ref = p["snapshot"]
        try:
            if ref in ("latest", "previous"):
                # Safety copies taken before a swap are never latest/previous: only by id.
                taken = self._on_purpose()
                want = 1 if ref == "latest" else 2
                if len(taken) < want:
                    raise SnapshotLookupError(
                        "%s needs %d snapshot(s) of ssl taken with state=snapshot in %s, there are %d; "
                        "take one before each certificate deployment, or give src_cert and src_key"
                        % (ref, want, self.store.dir, len(taken))
                    )
                meta = taken[-want]
            else:
                meta = self.store.get(ref)
            meta = self.store.verify(meta)
        except (SnapshotError, SnapshotLookupError, OSError) as err:
            self.fail("cannot use snapshot %s: %s; nothing was changed" % (ref, err), journal=False)
        contents = {}
        names = {f["name"] for f in meta.get("files", [])}
        for name, filename in SNAPSHOT_NAMES.items():
            if filename in names:
                contents[name] = _read(self.store.file_path(meta, filename))
        return contents, {"type": "snapshot", "id": meta["id"], "created": meta.get("created"), "ref": self._ref(meta)}

    def test_argv(self):
        p = self.p
        if p.get("test_command") is not None:
            return list(p["test_command"])
        nginx = self.module.get_bin_path("nginx")
        if not nginx:
            self.fail(
                "nginx is not on PATH for the default test command; set test_command (or [] to skip); "
                "nothing was changed",
                journal=False,
            )
        return [nginx, "-t", "-c", p["nginx_conf"]]

    def run_test(self, argv):
        return _nginx.run(self.module, argv)

    # states ----------------------------------------------------------------------------------

    def take_snapshot(self):
        current = self.live.read()
        for name in ("cert", "key"):
            if current[name] is None:
                self.fail("cannot snapshot: %s %s does not exist" % (name, self.live.paths[name]), journal=False)
        live_fp, digests = set_fingerprint(current)
        info = self._info(current)
        result = dict(state="snapshot", fingerprint=live_fp, cert=summary(info))
        taken = self._on_purpose()
        if taken and (taken[-1].get("metadata") or {}).get("digests") == digests:
            self.module.exit_json(changed=False, snapshot=self._ref(taken[-1]), **result)
        if self.module.check_mode:
            self.module.exit_json(changed=True, snapshot=None, **result)
        meta = self.snapshot(current, "snapshot", live_fp, digests)
        self.step.exit(
            True,
            message="certificate set %s kept as snapshot %s" % (live_fp or "unparseable", meta["id"]),
            journal_fields={"from_": live_fp, "to": meta["id"], "snapshot": self.store.path(meta["id"])},
            snapshot=self._ref(meta),
            **result,
        )

    def snapshot(self, contents, kind, leaf_fp, digests):
        metadata = {
            "kind": kind,
            "fingerprint": leaf_fp,
            "digests": digests,
            "paths": dict(self.live.paths),
            "modes": self.live.modes(),
            "run_id": self.p.get("run_id"),
        }
        with self.store.staging(self.p.get("snapshot_id"), source="cert_rollback", metadata=metadata) as stage:
            for name, data in contents.items():
                if data is not None:
                    self.write_file(stage.file(SNAPSHOT_NAMES[name]), data, mode=0o600 if name == "key" else 0o644)
        return stage.meta

    def restore(self):
        p = self.p
        current = self.live.read()
        candidate, source = self.resolve_candidate()
        deployed = {name: candidate.get(name) for name in self.live.paths}
        if "chain" in self.live.paths and deployed.get("chain") is None:
            self.fail(
                "the candidate (%s) has no chain but chain_path %s is set; nothing was changed"
                % (source.get("id") or source.get("paths"), self.live.paths["chain"]),
                journal=False,
            )
        live_fp, live_digests = set_fingerprint(current)
        cand_fp, cand_digests = set_fingerprint(deployed)
        self._journal_fields = {"from_": live_fp, "to": cand_fp}
        before_info = self._info(current)
        restored_from = source.pop("ref", None)
        out = dict(
            state=p["state"],
            source=source,
            fingerprint_before=live_fp,
            before=summary(before_info),
            restored_from=restored_from,
        )
        if cand_digests == live_digests:
            after = summary(before_info)
            self.module.exit_json(
                changed=False,
                fingerprint_after=live_fp,
                after=after,
                snapshot=None,
                diff=dict(before=after, after=after),
                **self._flat(before_info),
                **out,
            )
        roots = None
        try:
            if not p["validate"]:
                info = unvalidated(deployed.get("cert"), source_label(source, "cert"))
            elif p["validate_chain"]:
                roots = load_ca_bundle(p.get("ca_path"))
            labels = {
                "cert": "candidate certificate (%s)" % source_label(source, "cert"),
                "key": "candidate key (%s)" % source_label(source, "key"),
                "chain": "candidate chain (%s)" % source_label(source, "chain"),
            }
            if p["validate"]:
                info = validate_set(
                    deployed.get("cert"),
                    deployed.get("key"),
                    deployed.get("chain"),
                    passphrase=p.get("key_passphrase"),
                    roots=roots,
                    names=p["expected_names"],
                    min_remaining_days=p["min_remaining_days"],
                    labels=labels,
                    chain_served=p["chain_served"],
                )
        except CertError as err:
            self.fail(
                "refusing to restore %s: %s; the live files were left untouched"
                % (source.get("id") or source_label(source, "cert"), err),
                **out,
            )
        out.update(fingerprint_after=info["fingerprint"], after=summary(info), checks=info["checks"])
        out.update(self._flat(info))
        diff = dict(before=summary(before_info) or {"fingerprint": live_fp}, after=summary(info))
        if p["state"] == "validated":
            out["state"] = "validated"
            self.module.exit_json(changed=False, snapshot=None, **out)
        if self.module.check_mode:
            self.module.exit_json(changed=True, snapshot=None, diff=diff, **out)

        argv = self.test_argv()
        if argv:
            rc, err = self.run_test(argv)
            if rc != 0:
                self.fail(
                    "refusing to swap: the test command %s already fails before any change (rc=%d): %s; "
                    "nothing was swapped" % (argv[0], rc, err),
                    **out,
                )
        try:
            meta = self.snapshot(current, "pre-rollback", live_fp, live_digests)
        except (OSError, SnapshotError) as err:
            self.fail("cannot snapshot the live set into %s: %s; nothing was swapped" % (self.store.dir, err), **out)
        snap_path = self.store.path(meta["id"])
        self._journal_fields["snapshot"] = snap_path
        out.update(snapshot=self._ref(meta))
        try:
            self.live.write(deployed, self.write_file, module=self.module)
        except OSError as err:
            self.revert(current, meta["id"])
            self.fail("cannot write the new set: %s; the previous files were put back" % err, result="reverted", **out)
        if argv:
            rc, err = self.run_test(argv)
            if rc != 0:
                self.revert(current, meta["id"])
                self.fail(
                    "the test command %s failed after the swap (rc=%d): %s; the previous certificate set %s "
                    "was put back" % (argv[0], rc, err, live_fp),
                    result="reverted",
                    **out,
                )
        self.step.exit(
            True,
            message="certificate %s restored from %s" % (info["fingerprint"], source.get("id") or "paths"),
            journal_fields=self._journal_fields,
            diff=diff,
            **out,
        )

    def revert(self, current, snapshot_id):
        try:
            self.live.write(current, self.write_file, module=self.module)
        except OSError as err:
            self.fail(
                "the swap failed and putting back the previous set failed too (%s); restore snapshot %s "
                "(cert_rollback snapshot=%s validate=false)" % (err, snapshot_id, snapshot_id),
                result="failed",
            )

    @staticmethod
    def _flat(info):
        info = info or {}
        return {k: info.get(k) for k in ("subject", "san", "not_after")}


def unvalidated(cert_data, label):
    """Facts of a candidate put back without validation: it must still parse."""
    info = describe(load_certs(cert_data, "certificate (%s)" % label)[0])
    info["checks"] = ["parse"]
    return info


class SnapshotLookupError(Exception):
    pass


def source_label(source, name):
    if source.get("type") == "paths":
        return source["paths"].get(name) or "none"
    return "snapshot %s" % source.get("id")
