#!/usr/bin/env bash
# Real test hosts for Molecule: podman containers running systemd, from images built here.
# Idempotent: safe on a fresh machine and on one where it already ran. Needs root.
#  1. Debian packages: podman, crun, debootstrap, ...
#  2. Host fixes crun needs on this machine kind (they last until reboot):
#     - every cgroup v1 controller mounted (crun refuses the hybrid layout with hugetlb on cgroup2)
#     - default ulimits podman may set (the hard nofile limit cannot be raised here)
#  3. Images, only when missing: localhost/rollback-base:bookworm (debootstrap minbase + python3 +
#     systemd) and localhost/rollback-services:bookworm (+ postgresql, redis, nginx, openssl).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "prepare-hosts: $*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "prepare-hosts: needs root (podman with systemd containers, mounts)" >&2
  exit 1
fi

need=()
for pkg in podman crun debootstrap uidmap slirp4netns fuse-overlayfs iproute2 golang-github-containernetworking-plugin-dnsname; do
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

if ! podman image exists localhost/rollback-base:bookworm; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
  rootfs=$(mktemp -d /var/tmp/rollback-rootfs.XXXXXX)
  log "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase --include=python3,systemd-sysv,sudo,ca-certificates,python3-apt \
    bookworm "$rootfs" "$mirror" >/dev/null
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - \
    localhost/rollback-base:bookworm >/dev/null
  rm -rf "$rootfs"
  log "built localhost/rollback-base:bookworm"
fi

# Rebuilt when its Containerfile changes: the image carries the file's checksum as a label.
want=$(sha256sum "$here/images/Containerfile.services" | cut -c1-16)
have=$(podman image inspect --format '{{ index .Labels "rollback.containerfile" }}' localhost/rollback-services:bookworm 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  ctx=$(mktemp -d /var/tmp/rollback-services.XXXXXX)
  cp "$here/images/Containerfile.services" "$ctx/"
  # Wheels come through the host's own package index settings; the build itself needs no network.
  python3 -m pip download -q --disable-pip-version-check -d "$ctx/wheels" "cryptography>=45" \
    --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 2>/dev/null
  podman build -q --label "rollback.containerfile=$want" -t localhost/rollback-services:bookworm \
    -f "$ctx/Containerfile.services" "$ctx" >/dev/null
  rm -rf "$ctx"
  log "built localhost/rollback-services:bookworm ($want)"
fi
log "ready"
