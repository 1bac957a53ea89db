"""Run certificate validation cases under whatever Python and cryptography runs this script.

    python cert_cases.py <dir holding ansible_collections> <dir holding ansible> <cases.json> [fallback]

Prints {case: "accepted <chain length>" | "refused: <message up to its first colon>"} as
JSON. With "fallback", _certs is made to use _x509compat's chain building even where
cryptography.x509.verification exists, so both paths run on the same library.
Kept 3.9-compatible and free of test-only imports: it runs in throwaway target venvs.
"""

import datetime
import json
import sys


def main(argv):
    sys.path[:0] = [argv[1], argv[2]]
    from ansible_collections.emergency.rollback.plugins.module_utils import _certs

    if not _certs.HAS_CRYPTOGRAPHY:
        sys.exit("_certs cannot use this cryptography: %s" % _certs.CRYPTOGRAPHY_IMPORT_ERROR)
    if len(argv) > 4 and argv[4] == "fallback":
        _certs.verification = None
    with open(argv[3], encoding="utf-8") as handle:
        cases = json.load(handle)
    now = datetime.datetime.now(datetime.timezone.utc)
    verifier = getattr(_certs, "verification", None) is not None
    out = {"_cryptography": __import__("cryptography").__version__, "_verifier": verifier}
    for name, case in sorted(cases.items()):

        def read(key, case=case):
            if not case.get(key):
                return None
            with open(case[key], "rb") as handle:
                return handle.read()

        try:
            if case["kind"] == "set":
                roots = _certs.load_ca_bundle(case["ca"]) if case.get("ca") else None
                info = _certs.validate_set(
                    read("cert"),
                    read("key"),
                    read("chain"),
                    passphrase=case.get("passphrase"),
                    roots=roots,
                    names=case.get("names", []),
                    min_remaining_days=case.get("min_remaining_days", 0),
                    now=now,
                )
                out[name] = "accepted %d %s" % (len(info.get("verified_chain", [])), info["key_type"])
            else:
                certs = _certs.load_certs(read("cert"), "cert")
                roots = _certs.load_certs(read("ca"), "ca")
                chain = _certs.verify_chain(certs[0], certs[1:], roots, now=now, server_name=case.get("server_name"))
                out[name] = "accepted %d" % len(chain)
        except _certs.CertError as err:
            out[name] = "refused: %s" % str(err).split(":")[0]
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
