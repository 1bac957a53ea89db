#!/usr/bin/env bash
# ansible-test sanity on a copy of the tree under ansible_collections/emergency/rollback,
# the only place ansible-test accepts a collection.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv_bin=${VENV_BIN:-$root/.venv/bin}
tests=${SANITY_TESTS:-validate-modules compile import yamllint shebang pep8 action-plugin-docs}
work="$root/build/sanity/ansible_collections/emergency/rollback"

# ansible-test bootstraps pip from a script it downloads; where that host is not reachable,
# a cached stand-in built on ensurepip does the same job. A machine that has the real one keeps it.
pip_version=$("$venv_bin/python" - <<'PY'
import re, inspect
from ansible_test._internal import python_requirements as pr
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(pr.get_venv_packages)).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  cat > "$cache" <<'PY'
# Stand-in for the pip bootstrap script: ensurepip, then pip install what was asked.
import subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi

rm -rf "$root/build/sanity"
mkdir -p "$work"
cd "$root"
git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
  [ -e "$f" ] || continue
  mkdir -p "$work/$(dirname "$f")"
  cp -P "$f" "$work/$f"
done
cd "$work"
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
args=()
for t in $tests; do args+=(--test "$t"); done
PATH="$venv_bin:$PATH" "$venv_bin/ansible-test" sanity --venv --python 3.11 "${args[@]}" --color no

# Module code runs on targets with Python 3.9-3.13 (tests/config.yml): compile and import
# again under every other target Python this machine has (pyenv's, or pythonX.Y on PATH).
# SANITY_TARGET_PYTHONS="" skips this; a machine without them: see README "Supported targets".
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
for v in ${SANITY_TARGET_PYTHONS-3.9 3.10 3.12 3.13}; do
  dir=$(ls -d "$pyenv_root"/versions/"$v".*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] && ! command -v "python$v" >/dev/null; then
    echo "sanity: no python$v here, compile/import for $v skipped" >&2
    continue
  fi
  PATH="$venv_bin:${dir:+$dir:}$PATH" "$venv_bin/ansible-test" sanity --venv --python "$v" \
    --test compile --test import --color no
done
