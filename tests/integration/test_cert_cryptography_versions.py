"""The same certificate cases, accepted and refused alike, with the cryptography distributions ship.

Debian 11 ships cryptography 3.3 (Python 3.9), Debian 12 ships 38 (Python 3.11); both lack
the x509.verification extension policies of >= 45, so _certs builds the chain in
_x509compat there. Each version runs in a throwaway venv; the newest (the controller's)
runs the cases twice, through cryptography's verifier and through the fallback.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import ansible
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.harness import pki as pki_mod
from tests.harness.ansible import REPO, link_collection
from tests.harness.pythons import target_venv
from tests.harness.sslcache import pki  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

SCRIPT = REPO / "tests" / "harness" / "cert_cases.py"
VERSIONS = {
    # name: (target python, cryptography spec) - as Debian 11 and Debian 12 ship them
    "debian11": ("3.9", "cryptography==3.3.*"),
    "debian12": ("3.11", "cryptography==38.*"),
}


def _write(path, *certs):
    path.write_bytes(b"".join(pki_mod.cert_pem(c) for c in certs))
    return str(path)


def chain_cases(base):
    """Paths the fallback must judge like cryptography's verifier: each a leaf, its bundle and roots."""
    base.mkdir()
    root_key, inter_key, deep_key, leaf_key = (pki_mod.ec_key() for _ in range(4))
    root = pki_mod.make_ca("Compat Root", root_key)
    inter0 = pki_mod.make_ca("Compat Inter pathlen 0", inter_key, issuer=root, issuer_key=root_key, path_len=0)
    inter = pki_mod.make_ca("Compat Inter", inter_key, issuer=root, issuer_key=root_key)
    deep = pki_mod.make_ca("Compat Deep", deep_key, issuer=inter0, issuer_key=inter_key)
    deep_ok = pki_mod.make_ca("Compat Deep ok", deep_key, issuer=inter, issuer_key=inter_key)
    names = ["svc.example.test"]
    leaf = pki_mod.make_leaf(names, leaf_key, inter, inter_key)
    not_ca = pki_mod.make_leaf(["ee.example.test"], inter_key, root, root_key, cn="Compat Inter")
    under_not_ca = pki_mod.make_leaf(names, leaf_key, not_ca, inter_key)
    now = datetime.datetime.now(datetime.UTC)
    old = (
        x509.CertificateBuilder()
        .subject_name(inter.subject)
        .issuer_name(root.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=90))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    ca = _write(base / "root.pem", root)
    return {
        "chain_ok": {"cert": _write(base / "a.pem", leaf, inter), "ca": ca, "server_name": names[0]},
        "chain_ok_without_name": {"cert": _write(base / "b.pem", leaf, inter), "ca": ca},
        "chain_missing_intermediate": {"cert": _write(base / "c.pem", leaf), "ca": ca},
        "chain_wrong_name": {"cert": _write(base / "d.pem", leaf, inter), "ca": ca, "server_name": "x.example.test"},
        "chain_pathlen_exceeded": {
            "cert": _write(base / "e.pem", pki_mod.make_leaf(names, leaf_key, deep, deep_key), deep, inter0),
            "ca": ca,
        },
        "chain_two_intermediates": {
            "cert": _write(base / "f.pem", pki_mod.make_leaf(names, leaf_key, deep_ok, deep_key), deep_ok, inter),
            "ca": ca,
        },
        "chain_issuer_not_a_ca": {"cert": _write(base / "g.pem", under_not_ca, not_ca), "ca": ca},
        "chain_expired_intermediate": {"cert": _write(base / "h.pem", leaf, old), "ca": ca},
        "chain_leaf_is_the_root": {"cert": _write(base / "i.pem", root), "ca": ca, "server_name": names[0]},
    }


@pytest.fixture(scope="module")
def cases(pki, tmp_path_factory):  # noqa: F811
    base = tmp_path_factory.mktemp("compat")
    out = {}
    for name in ("current", "good", "ec", "passphrase", "expired", "short_lived", "wrong_name", "mismatched_key"):
        out["set_" + name] = {
            "kind": "set",
            "cert": str(pki[name].fullchain),
            "key": str(pki[name].key),
            "chain": str(pki[name].chain),
            "ca": str(pki.ca),
            "names": list(pki_mod.NAMES),
            "min_remaining_days": 7,
            "passphrase": pki_mod.PASSPHRASE if name == "passphrase" else None,
        }
    out.update(
        {
            "set_broken_chain": dict(out["set_good"], cert=str(pki["broken_chain"].fullchain)),
            "set_ec_mismatched_key": dict(
                out["set_ec"], cert=str(pki["ec_mismatched_key"].fullchain), key=str(pki["ec_mismatched_key"].key)
            ),
            "set_unparseable": dict(out["set_good"], cert=str(pki["unparseable"].fullchain)),
        }
    )
    for name, case in chain_cases(base / "chains").items():
        out[name] = dict(case, kind="chain")
    path = base / "cases.json"
    path.write_text(json.dumps(out))
    return path


def run_cases(python, cases_path, tmp_path, *extra):
    (tmp_path / "ansible").symlink_to(os.path.dirname(ansible.__file__))
    proc = subprocess.run(
        [python, "-B", "-I", str(SCRIPT), str(link_collection()), str(tmp_path), str(cases_path), *extra],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def newest(cases, tmp_path_factory):
    return run_cases(sys.executable, cases, tmp_path_factory.mktemp("newest"))


def verdicts(results):
    return {k: v for k, v in results.items() if not k.startswith("_")}


def test_newest_cryptography_judges_the_cases(newest):
    assert newest["_verifier"] is True
    v = verdicts(newest)
    accepted = {k for k, r in v.items() if r.startswith("accepted")}
    assert accepted == {
        "set_current",
        "set_good",
        "set_ec",
        "set_passphrase",
        "chain_ok",
        "chain_ok_without_name",
        "chain_two_intermediates",
    }, v
    assert v["set_ec"] == "accepted 3 EC" and v["set_good"] == "accepted 3 RSA"
    assert v["set_mismatched_key"].startswith("refused: the private key does not match")
    assert v["chain_pathlen_exceeded"] == "refused: the chain does not verify up to the CA bundle"


def test_fallback_matches_the_verifier_on_newest(newest, cases, tmp_path):
    fallback = run_cases(sys.executable, cases, tmp_path, "fallback")
    assert fallback["_verifier"] is False
    assert verdicts(fallback) == verdicts(newest)


@pytest.mark.parametrize("distro", sorted(VERSIONS))
def test_distribution_cryptography_gives_the_same_results(distro, newest, cases, tmp_path):
    version, spec = VERSIONS[distro]
    python = target_venv(version, [spec], "py%s-%s" % (version, spec.replace("==", "").replace(".*", "")))
    if python is None:
        pytest.skip("cannot install %s for python%s here" % (spec, version))
    results = run_cases(python, cases, tmp_path)
    assert results["_cryptography"].split(".")[0] == spec.split("==")[1].split(".")[0]
    assert results["_verifier"] is False
    assert verdicts(results) == verdicts(newest)
