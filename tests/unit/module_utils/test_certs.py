"""Certificate validation, identity and the live set, on certificates made with cryptography."""

from __future__ import annotations

import datetime
import stat

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils import _atomic, _certs
from tests.harness import pki as pki_mod
from tests.harness.sslcache import pki  # noqa: F401 - fixture


def validate(cert_set, passphrase=None, roots=None, names=pki_mod.NAMES, **kw):
    return _certs.validate_set(
        cert_set.fullchain.read_bytes(),
        cert_set.key.read_bytes(),
        cert_set.chain.read_bytes(),
        passphrase=passphrase,
        roots=roots,
        names=list(names),
        **kw,
    )


@pytest.mark.parametrize(
    ("name", "passphrase", "key_type"),
    [("current", None, "RSA"), ("good", None, "RSA"), ("ec", None, "EC"), ("passphrase", pki_mod.PASSPHRASE, "RSA")],
)
def test_valid_sets_pass_every_check(pki, name, passphrase, key_type):  # noqa: F811
    roots = _certs.load_ca_bundle(str(pki.ca))
    info = validate(pki[name], passphrase=passphrase, roots=roots, min_remaining_days=30)
    assert info["checks"] == ["parse", "key_match", "validity", "san", "chain"]
    assert info["fingerprint"] == pki[name].fingerprint
    assert info["key_type"] == key_type
    assert info["san"] == pki_mod.NAMES
    assert len(info["verified_chain"]) == 3 and "Root CA" in info["verified_chain"][-1]


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("mismatched_key", {}, "does not match the certificate's public key (RSA key"),
        ("ec_mismatched_key", {}, "does not match the certificate's public key (EC key"),
        ("expired", {}, "certificate expired on"),
        ("short_lived", {"min_remaining_days": 7}, "in 3.0 days, less than the required 7 days"),
        ("wrong_name", {}, "SAN (other.example.test) does not cover app.example.test, www.app.example.test"),
        ("broken_chain", {}, "the chain does not verify up to the CA bundle"),
        ("unparseable", {}, "does not parse as PEM certificates"),
        ("passphrase", {}, "is encrypted and no key passphrase was given"),
        ("passphrase", {"passphrase": "not-it"}, "wrong passphrase"),
        ("good", {"passphrase": "unneeded"}, "is not encrypted but a key passphrase was given"),
    ],
)
def test_each_bad_candidate_is_refused_with_its_reason(pki, name, kwargs, message):  # noqa: F811
    roots = _certs.load_ca_bundle(str(pki.ca))
    with pytest.raises(_certs.CertError) as err:
        validate(pki[name], roots=roots, **kwargs)
    assert message in str(err.value)
    assert "not-it" not in str(err.value) and "\n" not in str(err.value)


def test_checks_run_in_order_and_chain_is_optional(pki):  # noqa: F811
    # the short-lived leaf passes when no minimum lifetime is asked and no chain check is wanted
    info = validate(pki["short_lived"], roots=None, names=[], min_remaining_days=0)
    assert info["checks"] == ["parse", "key_match", "validity"]
    # a wrong-name leaf with a broken key is refused for the key first
    with pytest.raises(_certs.CertError, match="does not match"):
        _certs.validate_set(pki["wrong_name"].cert.read_bytes(), pki["mismatched_key"].key.read_bytes())


def test_not_yet_valid(pki):  # noqa: F811
    cert = _certs.load_certs(pki["good"].cert.read_bytes(), "cert")[0]
    early = cert.not_valid_before_utc - datetime.timedelta(hours=1)
    with pytest.raises(_certs.CertError, match="not valid yet"):
        _certs.check_validity(cert, now=early)


def test_san_wildcards_cover_one_label_and_ips():
    root_key = pki_mod.ec_key()
    root = pki_mod.make_ca("Root", root_key)
    leaf_key = pki_mod.ec_key()
    leaf = pki_mod.make_leaf(["*.example.test", "example.test"], leaf_key, root, root_key)
    assert _certs.uncovered_names(leaf, ["a.example.test", "example.test"]) == []
    assert _certs.uncovered_names(leaf, ["a.b.example.test", "example.org", "10.0.0.1"]) == [
        "a.b.example.test",
        "example.org",
        "10.0.0.1",
    ]


def test_no_pem_at_all():
    with pytest.raises(_certs.CertError, match="holds no PEM certificate"):
        _certs.load_certs(b"hello", "the file")
    with pytest.raises(_certs.CertError, match="holds no PEM private key"):
        _certs.load_key(b"", None, "the key")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("AB:CD:EF", "abcdef"), ("sha256:abcdef", "abcdef"), ("  ABCDEF ", "abcdef"), (None, "")],
)
def test_normalize_fingerprint(given, expected):
    assert _certs.normalize_fingerprint(given) == expected


def test_one_line_joins_and_truncates():
    assert _certs.one_line("a\n\n b \nc") == "a | b | c"
    assert len(_certs.one_line("x" * 1000)) == 400


def test_live_set_write_creates_private_key_and_keeps_modes(tmp_path):
    live = _certs.LiveSet(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), str(tmp_path / "chain.pem"))
    live.write({"cert": b"C1", "key": b"K1", "chain": b"H1"}, _atomic.write_file)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "c.pem").stat().st_mode) == 0o644
    (tmp_path / "c.pem").chmod(0o640)
    live.write({"cert": b"C2", "key": b"K2", "chain": None}, _atomic.write_file)
    assert live.read() == {"cert": b"C2", "key": b"K2", "chain": None}
    assert stat.S_IMODE((tmp_path / "c.pem").stat().st_mode) == 0o640


def test_set_identity_is_fingerprint_and_digests(pki):  # noqa: F811
    contents = {"cert": pki["good"].fullchain.read_bytes(), "key": pki["good"].key.read_bytes()}
    leaf, digests = _certs.set_fingerprint(contents)
    assert leaf == pki["good"].fingerprint and set(digests) == {"cert", "key"}
    assert _certs.set_fingerprint({"cert": b"junk"})[0] is None


def test_leaf_only_with_intermediate_in_a_separate_file_is_refused(pki):  # noqa: F811
    """nginx sends ssl_certificate only: an intermediate kept in ssl_trusted_certificate reaches no client."""
    roots = _certs.load_ca_bundle(str(pki.ca))
    good = pki["good"]
    args = (good.cert.read_bytes(), good.key.read_bytes(), good.chain.read_bytes())
    with pytest.raises(_certs.CertError, match="holds the leaf only, so clients get no intermediate"):
        _certs.validate_set(*args, roots=roots, names=list(pki_mod.NAMES))
    # a server that does send the chain file (chain_served) gets the whole chain
    info = _certs.validate_set(*args, roots=roots, names=list(pki_mod.NAMES), chain_served=True)
    assert len(info["verified_chain"]) == 3


def test_an_intermediate_in_the_trust_bundle_is_no_anchor(pki, tmp_path):  # noqa: F811
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.ca.read_bytes() + pki["good"].chain.read_bytes())
    roots = _certs.load_ca_bundle(str(bundle))
    assert len(roots) == 1, "only the self-signed root is a trust anchor"
    good = pki["good"]
    with pytest.raises(_certs.CertError, match="does not verify"):
        _certs.validate_set(good.cert.read_bytes(), good.key.read_bytes(), roots=roots, names=list(pki_mod.NAMES))
