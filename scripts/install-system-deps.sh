#!/usr/bin/env bash
# Installs the Debian packages the lab and its tests run against, only those still missing.
# Idempotent and quiet when everything is present, so `make test` and `make flood` can call it every time.
set -euo pipefail

# command-or-file -> Debian package that provides it
declare -A wanted=(
  [/usr/sbin/nginx]=nginx-light
  [/usr/share/nginx/modules-available/mod-nchan.conf]=libnginx-mod-nchan
  [/usr/bin/prometheus]=prometheus
  [/usr/bin/chromium]=chromium
  [/usr/sbin/dockerd]=docker.io
  [/usr/bin/docker-compose]=docker-compose
  [/usr/sbin/ip]=iproute2
  [/usr/bin/ss]=iproute2
  [/usr/bin/nsenter]=util-linux
  [/usr/sbin/iptables]=iptables
  # the mochiweb target (orchestrator/targets/mochiweb/): Erlang/OTP, mochiweb 3.1.1, and inets, which mochiweb
  # calls (httpd_util) although Debian's erlang-mochiweb does not depend on it
  [/usr/lib/erlang/lib/mochiweb/ebin/mochiweb.app]=erlang-mochiweb
  [/usr/bin/erlc]=erlang-base
  # the bench's C reference pair and the batch-io addon (shared/raw-tcp/batch-io.c)
  [/usr/bin/gcc]=gcc
)
missing=()
for path in "${!wanted[@]}"; do
  [ -e "$path" ] || missing+=("${wanted[$path]}")
done
compgen -G '/usr/lib/erlang/lib/inets-*/ebin/inets.app' >/dev/null || missing+=(erlang-inets)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "comet-lab: missing Debian packages: ${missing[*]} (run as root, or install them yourself)" >&2
  exit 1
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "comet-lab: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages must not start their own daemons (prometheus, nginx, docker): the lab starts what it needs on its own ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
