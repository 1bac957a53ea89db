#!/usr/bin/env bash
# Debian packages the tests and the demo start as throwaway services. Installs only what is missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$2" ]; }
have redis-server /usr/bin/redis-server || need+=(redis-server)
have nginx /usr/sbin/nginx || need+=(nginx)
have memcached /usr/bin/memcached || need+=(memcached)
have git /usr/bin/git || need+=(git)
have openssl /usr/bin/openssl || need+=(openssl)
have sqlite3 /usr/bin/sqlite3 || need+=(sqlite3)
have runuser /usr/sbin/runuser || need+=(util-linux)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && id postgres >/dev/null 2>&1 || need+=(postgresql)
ls /usr/lib/postgresql/*/bin/pg_dump >/dev/null 2>&1 || need+=(postgresql-client)
# Point-in-time recovery (pg_pitr, pgbackrest_stanza) and its tests.
have pgbackrest /usr/bin/pgbackrest || need+=(pgbackrest)
# Decision and report tests: a real Prometheus and Alertmanager, and a browser to render the HTML report.
have prometheus /usr/bin/prometheus || need+=(prometheus)
have prometheus-alertmanager /usr/bin/prometheus-alertmanager || need+=(prometheus-alertmanager)
# ansible-rulebook (event-driven rollback) runs its rules engine on a Java 17 runtime.
ls /usr/lib/jvm/java-17-openjdk-*/bin/java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
have chromium /usr/bin/chromium || need+=(chromium)
have tmux /usr/bin/tmux || need+=(tmux)
# The container strategy against a real Docker engine (a test fixture starts its own dockerd).
docker=()
have dockerd /usr/sbin/dockerd || docker+=(docker.io)
have docker-compose /usr/bin/docker-compose || docker+=(docker-compose)
if [ ${#need[@]} -eq 0 ] && [ ${#docker[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
[ ${#need[@]} -eq 0 ] || echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The packages' own default instances are never used: tests start their own.
[ ${#need[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ ${#docker[@]} -gt 0 ]; then
  # The packaged docker service must not start: a default dockerd rewrites the host's iptables
  # (FORWARD policy DROP), which cuts off podman's container networks. policy-rc.d keeps it down.
  echo "installing Debian packages: ${docker[*]} (service not started)"
  created=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    created=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${docker[@]}" >/dev/null || rc=$?
  [ -z "$created" ] || $SUDO rm -f /usr/sbin/policy-rc.d
  exit "${rc:-0}"
fi
