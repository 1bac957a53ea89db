#!/usr/bin/env bash
# Real test hosts for Molecule: podman containers running systemd, from images built here.
# Idempotent: safe on a fresh machine and on one where it already ran. Needs root.
#  1. Debian packages: podman, crun, debootstrap, ... (nftables: the chaos fleet tier cuts networks)
#  2. Host fixes crun needs on this machine kind (they last until reboot):
#     - every cgroup v1 controller mounted (crun refuses the hybrid layout with hugetlb on cgroup2)
#     - default ulimits podman may set (the hard nofile limit cannot be raised here)
#  3. Images per Debian generation (bullseye, bookworm, trixie; ROLLBACK_SUITES picks some), rebuilt
#     only when their definition changed: localhost/rollback-base:<suite> (debootstrap minbase +
#     python3 + systemd) and localhost/rollback-services:<suite> (+ postgresql, redis, nginx, ...).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "prepare-hosts: $*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "prepare-hosts: needs root (podman with systemd containers, mounts)" >&2
  exit 1
fi

need=()
for pkg in podman crun debootstrap uidmap slirp4netns fuse-overlayfs iproute2 golang-github-containernetworking-plugin-dnsname nftables; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
  for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    if ! mountpoint -q "/sys/fs/cgroup/$c"; then
      mkdir -p "/sys/fs/cgroup/$c"
      mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
      log "mounted cgroup controller $c"
    fi
  done
fi

conf=/etc/containers/containers.conf
if ! grep -q 'nofile=16384:16384' "$conf" 2>/dev/null; then
  mkdir -p /etc/containers
  cat > "$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=32768:32768"]
CONF
  log "wrote $conf"
fi

# One base and one services image per Debian generation: 11 (Python 3.9, PostgreSQL 13,
# cryptography 3.3), 12 (3.11, 15, 38), 13 (3.13, 17). Each image is rebuilt when its definition
# changes: it carries a checksum of that definition as a label, compared before skipping.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
base_include=python3,systemd-sysv,sudo,ca-certificates,python3-apt
label() { podman image inspect --format "{{ index .Labels \"$2\" }}" "$1" 2>/dev/null || true; }

for suite in ${ROLLBACK_SUITES:-bullseye bookworm trixie}; do
  base=localhost/rollback-base:$suite
  want=$(echo "debootstrap minbase $suite $base_include" | sha256sum | cut -c1-16)
  if [ "$want" != "$(label "$base" rollback.definition)" ]; then
    rootfs=$(mktemp -d /var/tmp/rollback-rootfs.XXXXXX)
    log "debootstrap $suite from $mirror"
    debootstrap --variant=minbase --include="$base_include" "$suite" "$rootfs" "$mirror" >/dev/null
    tar -C "$rootfs" -c . | podman import -q --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
      --change "LABEL rollback.definition=$want" - "$base" >/dev/null
    rm -rf "$rootfs"
    log "built $base ($want)"
  fi

  services=localhost/rollback-services:$suite
  psycopg=python3-psycopg
  [ "$suite" = bullseye ] && psycopg=python3-psycopg2
  # The base image's id is part of the definition: a rebuilt base rebuilds the services on it.
  want=$( (cat "$here/images/Containerfile.services"; echo "$suite $psycopg"; podman image inspect --format '{{.Id}}' "$base") |
    sha256sum | cut -c1-16)
  if [ "$want" != "$(label "$services" rollback.containerfile)" ]; then
    podman build -q --label "rollback.containerfile=$want" --build-arg "SUITE=$suite" --build-arg "PSYCOPG=$psycopg" \
      -t "$services" -f "$here/images/Containerfile.services" "$here/images" >/dev/null
    log "built $services ($want)"
  fi
done
log "ready"
