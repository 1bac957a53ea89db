"""A throwaway PKI made with cryptography: a root CA, an intermediate, and leaves good and bad.

Every certificate set is written as PEM files under one directory:
<name>/cert.pem (leaf), <name>/key.pem, <name>/chain.pem (the intermediate), plus ca.pem (the root).
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NAMES = ["app.example.test", "www.app.example.test"]
PASSPHRASE = "pki-Passphrase-5e1c7a"


def _now():
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _name(cn):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "emergency.rollback tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(cn, key, issuer=None, issuer_key=None, path_len=None):
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_leaf(names, key, issuer, issuer_key, not_before=None, not_after=None, cn=None):
    now = _now()
    not_before = not_before or now - datetime.timedelta(days=1)
    not_after = not_after or now + datetime.timedelta(days=90)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(cn or names[0]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key, passphrase=None):
    enc = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def fingerprint(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@dataclass
class CertSet:
    """One candidate set on disk: cert.pem, key.pem, chain.pem."""

    dir: Path
    fingerprint: str
    cert: Path = field(init=False)
    key: Path = field(init=False)
    chain: Path = field(init=False)
    fullchain: Path = field(init=False)

    def __post_init__(self):
        self.cert = self.dir / "cert.pem"
        self.key = self.dir / "key.pem"
        self.chain = self.dir / "chain.pem"
        self.fullchain = self.dir / "fullchain.pem"

    def src_args(self):
        """Candidate options for cert_rollback as nginx reads it: leaf + intermediate, key, chain."""
        return {"src_cert": str(self.fullchain), "src_key": str(self.key), "src_chain": str(self.chain)}


@dataclass
class PKI:
    base: Path
    ca: Path
    sets: dict

    def __getitem__(self, name):
        return self.sets[name]


def build(base):
    """Write every set under base; returns a PKI. Keys are generated once (session fixture)."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    root_key = ec_key()
    root = make_ca("Rollback Test Root CA", root_key)
    inter_key = ec_key()
    inter = make_ca("Rollback Test Intermediate", inter_key, issuer=root, issuer_key=root_key, path_len=0)
    rogue_key = ec_key()
    rogue = make_ca("Rogue Root CA", rogue_key)
    (base / "ca.pem").write_bytes(cert_pem(root))

    now = _now()
    rsa_a, rsa_b, rsa_other = rsa_key(), rsa_key(), rsa_key()
    ec_leaf_key = ec_key()
    plans = {
        # name: (leaf cert, key bytes, chain cert)
        "current": (make_leaf(NAMES, rsa_a, inter, inter_key), key_pem(rsa_a), inter),
        "good": (make_leaf(NAMES, rsa_b, inter, inter_key), key_pem(rsa_b), inter),
        "ec": (make_leaf(NAMES, ec_leaf_key, inter, inter_key), key_pem(ec_leaf_key), inter),
        "expired": (
            make_leaf(
                NAMES,
                rsa_b,
                inter,
                inter_key,
                not_before=now - datetime.timedelta(days=120),
                not_after=now - datetime.timedelta(days=2),
            ),
            key_pem(rsa_b),
            inter,
        ),
        "short_lived": (
            make_leaf(NAMES, rsa_b, inter, inter_key, not_after=now + datetime.timedelta(days=3)),
            key_pem(rsa_b),
            inter,
        ),
        "wrong_name": (make_leaf(["other.example.test"], rsa_b, inter, inter_key), key_pem(rsa_b), inter),
        "mismatched_key": (make_leaf(NAMES, rsa_b, inter, inter_key), key_pem(rsa_other), inter),
        "ec_mismatched_key": (make_leaf(NAMES, ec_leaf_key, inter, inter_key), key_pem(ec_key()), inter),
        "broken_chain": (make_leaf(NAMES, rsa_b, rogue, rogue_key), key_pem(rsa_b), inter),
        "passphrase": (make_leaf(NAMES, rsa_b, inter, inter_key), key_pem(rsa_b, PASSPHRASE), inter),
    }
    sets = {}
    for name, (leaf, key_bytes, chain) in plans.items():
        target = base / name
        target.mkdir(exist_ok=True)
        (target / "cert.pem").write_bytes(cert_pem(leaf))
        (target / "key.pem").write_bytes(key_bytes)
        (target / "key.pem").chmod(0o600)
        (target / "chain.pem").write_bytes(cert_pem(chain))
        (target / "fullchain.pem").write_bytes(cert_pem(leaf) + cert_pem(chain))
        sets[name] = CertSet(target, fingerprint(leaf))
    # Not PEM at all: a truncated certificate.
    garbage = base / "unparseable"
    garbage.mkdir(exist_ok=True)
    good = sets["good"]
    broken = good.cert.read_bytes()[:200] + b"\n-----END CERTIFICATE-----\n"
    (garbage / "cert.pem").write_bytes(broken)
    (garbage / "fullchain.pem").write_bytes(broken + good.chain.read_bytes())
    (garbage / "key.pem").write_bytes(good.key.read_bytes())
    (garbage / "chain.pem").write_bytes(good.chain.read_bytes())
    sets["unparseable"] = CertSet(garbage, "")
    return PKI(base=base, ca=base / "ca.pem", sets=sets)
