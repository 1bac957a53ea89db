# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificate checks on the cryptography a distribution ships (Debian 11: 3.3, Debian 12: 38).

PRIVATE to this collection: the leading underscore means no API promise.

With cryptography >= 45, `verification` is cryptography.x509.verification and _certs uses it.
Older versions get `verify_chain()`: a path is built from the leaf through the given
intermediates to one of the roots by signature; every CA on it must be valid at `now`, have
basicConstraints CA=true, keyCertSign when it has keyUsage, and respect pathLenConstraint;
the leaf must be valid at `now`, and for a server name it must not be a CA, must allow
serverAuth when it has extendedKeyUsage and its SAN must cover the name. Signatures: RSA
PKCS#1 v1.5, ECDSA, Ed25519, Ed448 (RSA-PSS-signed certificates are refused).
"""

from __future__ import annotations

import datetime

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID
except ImportError:  # pragma: no cover - _certs reports the missing library
    x509 = None

try:
    from cryptography.x509 import verification

    if not hasattr(verification, "ExtensionPolicy"):
        # 42-44 have the verifier but not the extension policies _certs asks for
        verification = None
except ImportError:
    verification = None

MAX_INTERMEDIATES = 8
_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
_PEM_END = b"-----END CERTIFICATE-----"


class ChainError(Exception):
    """No path from the leaf to a root passes the checks; the message says why."""


def load_pem_x509_certificates(data):
    """Every certificate of a PEM bundle, in order (x509.load_pem_x509_certificates is 39+)."""
    if hasattr(x509, "load_pem_x509_certificates"):
        return x509.load_pem_x509_certificates(data)
    certs = []
    start = data.find(_PEM_BEGIN)
    while start >= 0:
        stop = data.find(_PEM_END, start)
        if stop < 0:
            raise ValueError("a PEM certificate has no END line")
        stop += len(_PEM_END)
        certs.append(x509.load_pem_x509_certificate(data[start:stop]))
        start = data.find(_PEM_BEGIN, stop)
    if not certs:
        raise ValueError("no PEM certificate")
    return certs


def not_before(cert):
    """Start of validity, timezone-aware (not_valid_before_utc is 42+)."""
    value = getattr(cert, "not_valid_before_utc", None)
    return value if value is not None else cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def _subject(cert):
    return cert.subject.rfc4514_string()


def _extension(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def signed_by(cert, issuer):
    """True when issuer's name and key issued cert."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, TypeError, ValueError):
        return False
    return True


def _check_time(cert, now, what):
    if now < not_before(cert) or now > not_after(cert):
        raise ChainError("%s %s is not valid at %s" % (what, _subject(cert), now.strftime("%Y-%m-%dT%H:%M:%SZ")))


def _check_ca(cert, now, intermediates_below):
    _check_time(cert, now, "CA")
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise ChainError("%s is not a CA (basicConstraints)" % _subject(cert))
    if constraints.path_length is not None and intermediates_below > constraints.path_length:
        raise ChainError("%s allows path length %d" % (_subject(cert), constraints.path_length))
    usage = _extension(cert, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise ChainError("%s may not sign certificates (keyUsage)" % _subject(cert))


def _check_server_leaf(leaf, server_name, uncovered_names):
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise ChainError("the leaf %s is a CA certificate" % _subject(leaf))
    usage = _extension(leaf, x509.ExtendedKeyUsage)
    if usage is not None and ExtendedKeyUsageOID.SERVER_AUTH not in usage:
        raise ChainError("the leaf %s does not allow serverAuth (extendedKeyUsage)" % _subject(leaf))
    if uncovered_names(leaf, [server_name]):
        raise ChainError("the leaf %s is not valid for %s" % (_subject(leaf), server_name))


def _extend(path, intermediates, roots, now, errors):
    """Depth first: the first path from path[-1] up to a root whose CAs all pass, or None."""
    current, below = path[-1], len(path) - 1
    for root in roots:
        if signed_by(current, root):
            try:
                _check_ca(root, now, below)
            except ChainError as err:
                errors.append(str(err))
                continue
            return path + [root]
    if below >= MAX_INTERMEDIATES:
        errors.append("more than %d intermediates" % MAX_INTERMEDIATES)
        return None
    for candidate in intermediates:
        if candidate in path or not signed_by(current, candidate):
            continue
        try:
            _check_ca(candidate, now, below)
        except ChainError as err:
            errors.append(str(err))
            continue
        found = _extend(path + [candidate], intermediates, roots, now, errors)
        if found:
            return found
    return None


def verify_chain(leaf, intermediates, roots, now, server_name=None, uncovered_names=None):
    """The verified chain, leaf first, built without cryptography.x509.verification; else ChainError.

    uncovered_names(cert, names) is _certs' SAN matcher, so both paths match names alike.
    """
    _check_time(leaf, now, "the leaf")
    if server_name:
        _check_server_leaf(leaf, server_name, uncovered_names)
    errors = []
    chain = _extend([leaf], list(intermediates), list(roots), now, errors)
    if chain is None:
        raise ChainError(errors[-1] if errors else "no issuer of %s in the chain or the CA bundle" % _subject(leaf))
    return chain


def key_type(key):
    """RSA, EC, ED25519, ED448 or DSA: by class, as the class names differ across versions."""
    kinds = (
        ("RSA", rsa.RSAPrivateKey, rsa.RSAPublicKey),
        ("EC", ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey),
        ("ED25519", ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey),
        ("ED448", ed448.Ed448PrivateKey, ed448.Ed448PublicKey),
        ("DSA", dsa.DSAPrivateKey, dsa.DSAPublicKey),
    )
    for name, *classes in kinds:
        if isinstance(key, tuple(classes)):
            return name
    return type(key).__name__
