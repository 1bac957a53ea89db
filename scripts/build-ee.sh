#!/usr/bin/env bash
# The AWX execution environment image localhost/rollback-ee:latest from execution-environment.yml.
# Built only when the definition or the collection changed: the image carries their checksum as a
# label. Needs podman and the base image molecule/prepare-hosts.sh builds (root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${VENV_BIN:-$root/.venv/bin}
image=localhost/rollback-ee:latest
log() { echo "build-ee: $*"; }

want=$( (cat execution-environment.yml; git ls-files -co --exclude-standard -z meta plugins roles playbooks galaxy.yml |
  sort -z | xargs -0 cat) | sha256sum | cut -c1-16)
have=$(podman image inspect --format '{{ index .Labels "rollback.ee" }}' "$image" 2>/dev/null || true)
if [ "$want" = "$have" ]; then
  log "$image is up to date ($want)"
  exit 0
fi

rm -rf build/ee-files build/ee
mkdir -p build/ee-files/wheels
ANSIBLE_COLLECTIONS_PATH=/nonexistent "$bin/ansible-galaxy" collection build --force --output-path build/ee-files . >/dev/null
mv build/ee-files/emergency-rollback-*.tar.gz build/ee-files/emergency-rollback.tar.gz

# pip inside the build cannot verify the package index's TLS here: every wheel the image installs
# is fetched on the host, for the base image's Python (Debian bookworm: CPython 3.11.2).
core=$("$bin/python" -c 'import yaml; print(yaml.safe_load(open("execution-environment.yml"))["dependencies"]["ansible_core"]["package_pip"])')
runner=$("$bin/python" -c 'import yaml; print(yaml.safe_load(open("execution-environment.yml"))["dependencies"]["ansible_runner"]["package_pip"])')
# bindep, pyyaml, packaging: ansible-builder's builder stage; dumb-init: its final stage;
# async-timeout: redis on Python < 3.11.3 (pip download evaluates markers for the host's Python).
"$bin/python" -m pip download -q --disable-pip-version-check -d build/ee-files/wheels \
  "$core" "$runner" bindep pyyaml packaging "dumb-init==1.2.5" "async-timeout>=4.0.3" -r meta/ee-requirements.txt \
  --only-binary=:all: --python-version 3.11.2 --implementation cp \
  --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux_2_12_x86_64 2>/dev/null

"$bin/ansible-builder" create -f execution-environment.yml -c build/ee --output-filename Containerfile >/dev/null
podman build -q --label "rollback.ee=$want" -t "$image" -f build/ee/Containerfile build/ee >/dev/null
podman run --rm "$image" ansible-doc emergency.rollback.release >/dev/null
log "built $image ($want)"
