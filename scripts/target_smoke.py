"""Compile and import every module and module_utils file under the running interpreter.

Run it with a target Python (3.9 - 3.13): python scripts/target_smoke.py <path holding
ansible_collections> <path holding the ansible package>. Prints one line per failure and
exits 1 if any. Kept 3.9-compatible on purpose: it runs where the modules run.
"""

import importlib
import os
import sys
import traceback


def main(argv):
    collections, ansible_parent = argv[1], argv[2]
    sys.path[:0] = [collections, ansible_parent]
    root = os.path.join(collections, "ansible_collections", "emergency", "rollback", "plugins")
    failures = []
    for kind in ("module_utils", "modules"):
        for name in sorted(os.listdir(os.path.join(root, kind))):
            if not name.endswith(".py") or name == "__init__.py":
                continue
            path = os.path.join(root, kind, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    compile(handle.read(), path, "exec", dont_inherit=True)
                importlib.import_module("ansible_collections.emergency.rollback.plugins.%s.%s" % (kind, name[:-3]))
            except BaseException:  # noqa: BLE001 - report every failure, not only the first
                last = traceback.format_exc().strip().splitlines()[-1]
                failures.append("%s/%s: %s" % (kind, name, last))
    for line in failures:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
